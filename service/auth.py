"""Bearer-token authentication and role checks, as `Annotated` dependencies per audience.

401: no token or an unknown one. 403: a known token of the wrong role. A provider asking for
another provider's object gets 404 from the domain service, never 403, so it learns nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.errors import Forbidden, Unauthorized
from service.tokens.service import Principal, hash_token, principal_for

_bearer = HTTPBearer(auto_error=False, description="A token from `homecare token create`")


class PrincipalCache:
    """Token hash -> principal for `ttl` seconds, so a busy client costs no database round trip per call.

    Only known, unrevoked tokens are remembered (an unknown token is looked up every time, so a new one
    works at once); a revoked token keeps working in each API process for at most `ttl` seconds.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[token_hash]
            return None
        return entry[0]

    def put(self, token_hash: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        now = self.clock()
        if len(self._entries) >= self.MAX_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[1] > now}
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
        self._entries[token_hash] = (principal, now + self.ttl)


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    cache: PrincipalCache = request.app.state.principals
    token_hash = hash_token(credentials.credentials)
    principal = cache.get(token_hash)
    if principal is not None:
        return principal
    # A session of its own, only when the token is not remembered: a remembered token costs no session,
    # and the lookup's transaction is over before the endpoint's own transactions begin (on SQLite
    # every transaction holds the write lock).
    async with request.app.state.sessions() as session:
        principal = await principal_for(session, credentials.credentials)
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    cache.put(token_hash, principal)
    return principal


def require(*roles: str):
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
        return principal

    _check.roles = roles  # the OpenAPI document names them (service/openapi.py)
    return _check


AnyRole = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]
RegistryReader = Annotated[Principal, Depends(require("admin", "operator", "regulator"))]
ProviderApp = Annotated[Principal, Depends(require("provider"))]
Supervisor = Annotated[Principal, Depends(require("admin", "regulator"))]
