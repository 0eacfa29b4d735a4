"""Per-address rate limiting in front of everything (signed in or not), as plain ASGI middleware.

Signed-in requests are limited per account as well (in `auth`); this outer limit is looser and
catches anonymous floods (sign-in, registration, the page) from one address.
"""

from __future__ import annotations

import math

from starlette.types import ASGIApp, Receive, Scope, Send

from diary_kernel.problems import problem_response
from gateway.adapters.rate_limit import RateLimiter

_EXEMPT = ("/healthz", "/readyz", "/metrics", "/static/")


class ClientRateLimit:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, trusted_proxies: frozenset[str]) -> None:
        self.app = app
        self.limiter = limiter
        self.trusted_proxies = trusted_proxies

    def _address(self, scope: Scope) -> str:
        peer = scope["client"][0] if scope.get("client") else "unknown"
        if peer in self.trusted_proxies:
            for name, value in scope["headers"]:
                if name == b"x-forwarded-for":
                    return value.decode("latin-1").split(",")[-1].strip() or peer
        return str(peer)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(f"address:{self._address(scope)}")
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        response = problem_response(
            429, "Too many requests", f"too many requests from this address; retry in {seconds} s"
        )
        response.headers["Retry-After"] = str(seconds)
        await response(scope, receive, send)
