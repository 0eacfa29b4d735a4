"""The signed-in viewer of a gateway route: a verified access token from a header or a cookie.

Programs send `Authorization: Bearer`; the web page's browser sends the HttpOnly cookie the
gateway set at sign-in. A cookie rides along on any request to this origin, so a cookie-signed
request that changes something must also carry `X-Diary-Client` (a header another site's page
cannot add without CORS, which the gateway does not allow): that is the CSRF defence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from diary_kernel.access_tokens import AccessClaims, AccessTokenVerifier, InvalidToken
from diary_kernel.problems import Problem
from gateway.adapters.rate_limit import RateLimiter

ACCESS_COOKIE = "diary_access"
REFRESH_COOKIE = "diary_refresh"
CLIENT_HEADER = "X-Diary-Client"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_bearer = HTTPBearer(auto_error=False, description="An access token from the identity service")
_cookie = APIKeyCookie(name=ACCESS_COOKIE, auto_error=False, description="Set by POST /api/v1/session")


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the verified claims, and the token to pass to the services that check it."""

    claims: AccessClaims
    token: str

    @property
    def authorization(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


def too_many_requests(wait: float) -> Problem:
    seconds = max(1, math.ceil(wait))
    return Problem(
        429,
        "Too many requests",
        f"this client's request rate is over the limit; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


async def signed_in_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> Viewer:
    if credentials is not None:
        token = credentials.credentials
    elif cookie is not None:
        if request.method not in SAFE_METHODS and CLIENT_HEADER.lower() not in request.headers:
            raise Problem(
                403, "Forbidden", f"a cookie-signed {request.method} needs the {CLIENT_HEADER} header"
            )
        token = cookie
    else:
        raise Problem(
            401,
            "Not authenticated",
            "sign in: send `Authorization: Bearer ...` or the session cookie",
            headers={"WWW-Authenticate": "Bearer"},
        )
    verifier: AccessTokenVerifier = request.app.state.verifier
    try:
        claims = await verifier.verify(token)
    except InvalidToken as exc:
        raise Problem(
            401,
            "Invalid access token",
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    limiter: RateLimiter = request.app.state.account_limiter
    wait = limiter.take(f"account:{claims.account_id}")
    if wait:
        raise too_many_requests(wait)
    return Viewer(claims, token)


SignedIn = Annotated[Viewer, Depends(signed_in_viewer)]
"""A route parameter typed `SignedIn` gets the verified viewer, or the request ends in 401."""
