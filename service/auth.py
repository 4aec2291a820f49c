"""Bearer-token authentication and role checks, as `Annotated` dependencies per audience.

401: no token or an unknown one. 403: a known token of the wrong role. A provider asking for
another provider's object gets 404 from the domain service, never 403, so it learns nothing.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.deps import SessionDep
from service.errors import Forbidden, Unauthorized
from service.tokens.service import Principal, principal_for

_bearer = HTTPBearer(auto_error=False, description="A token from `homecare token create`")


async def current_principal(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    principal = await principal_for(session, credentials.credentials)
    # End the lookup's transaction: on SQLite every transaction holds the write lock, and an endpoint
    # may open a second session (idempotency claims) that must not wait behind this one.
    await session.commit()
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal


def require(*roles: str):
    async def _check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(f"role {principal.role} may not do this; needs {' or '.join(roles)}")
        return principal

    return _check


AnyRole = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]
RegistryReader = Annotated[Principal, Depends(require("admin", "operator", "regulator"))]
ProviderApp = Annotated[Principal, Depends(require("provider"))]
Supervisor = Annotated[Principal, Depends(require("admin", "regulator"))]

# Responses every authenticated endpoint can give, for the OpenAPI document.
AUTH_RESPONSES = {401: {"description": "Missing or unknown token"}, 403: {"description": "Wrong role"}}
