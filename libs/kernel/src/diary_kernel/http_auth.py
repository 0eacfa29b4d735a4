"""The signed-in caller of an HTTP route: the access token's claims, verified.

Every service that serves people verifies the bearer token itself (the gateway forwards it), so
a request that skips the gateway is no more trusted than one through it. The app keeps its
`AccessTokenVerifier` at `app.state.verifier`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from diary_kernel.access_tokens import AccessClaims, AccessTokenVerifier, InvalidToken
from diary_kernel.problems import Problem

_bearer = HTTPBearer(auto_error=False)


async def signed_in_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AccessClaims:
    if credentials is None:
        raise Problem(401, "Not authenticated", "send the access token as `Authorization: Bearer ...`")
    verifier: AccessTokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise Problem(401, "Invalid access token", str(exc)) from exc


def client_address(request: Request) -> str:
    """The client's address: the peer's, or the one a trusted proxy (`app.state.trusted_proxies`) saw."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and peer in getattr(request.app.state, "trusted_proxies", ()):
        # The right-most entry is the one our own proxy added: the address it saw.
        return forwarded.split(",")[-1].strip() or peer
    return peer


Caller = Annotated[AccessClaims, Depends(signed_in_caller)]
"""A route parameter typed `Caller` gets the verified claims, or the request ends in 401."""
