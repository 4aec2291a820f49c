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
from service.tokens.service import Principal, hash_token

_bearer = HTTPBearer(auto_error=False, description="A token from `homecare token create`")


class PrincipalCache:
    """What this process learnt about tokens, for `ttl` seconds: token hash -> principal for a known token,
    and the hashes of unknown (or revoked) ones, so that a client repeating one costs no database round trip.

    Consequences, documented with HOMECARE_TOKEN_CACHE_S: a revoked token keeps working in another API process
    for at most `ttl` seconds (in the process that revoked it, not at all), and a token that did not exist
    when it was first tried works `ttl` seconds later. Both maps are bounded.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._unknown: dict[str, float] = {}

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._entries[token_hash]
            return None
        return entry[0]

    def is_unknown(self, token_hash: str) -> bool:
        until = self._unknown.get(token_hash)
        if until is None:
            return False
        if until <= self.clock():
            del self._unknown[token_hash]
            return False
        return True

    def put(self, token_hash: str, principal: Principal) -> None:
        if self.ttl > 0:
            self._entries[token_hash] = (principal, self._room(self._entries, lambda entry: entry[1]))

    def put_unknown(self, token_hash: str) -> None:
        if self.ttl > 0:
            self._unknown[token_hash] = self._room(self._unknown, lambda until: until)

    def forget(self, token_id: int) -> None:
        """Drop a token this process has just revoked: it stops working here at once."""
        self._entries = {k: v for k, v in self._entries.items() if v[0].token_id != token_id}

    def _room(self, entries: dict, expiry: Callable) -> float:
        """Make room in `entries` (expired ones go; full of live ones, start over) and return the new expiry."""
        now = self.clock()
        if len(entries) >= self.MAX_ENTRIES:
            for key in [k for k, v in entries.items() if expiry(v) <= now]:
                del entries[key]
            if len(entries) >= self.MAX_ENTRIES:
                entries.clear()
        return now + self.ttl


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    cache: PrincipalCache = request.app.state.principals
    token_hash = hash_token(credentials.credentials)
    principal = cache.get(token_hash)
    if principal is not None:
        return principal
    if cache.is_unknown(token_hash):
        raise Unauthorized("unknown or revoked token")
    # Looked up with every other token asked for meanwhile, in one query on a session of its own (never the
    # endpoint's: on SQLite every transaction holds the write lock), over before the endpoint's work begins.
    principal = await request.app.state.token_lookups.find(token_hash)
    if principal is None:
        cache.put_unknown(token_hash)
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
Gateway = Annotated[Principal, Depends(require("gateway"))]
