"""Calls from the gateway to the services behind it, carrying the request id and the caller.

One pooled HTTP client per service. Only the headers that matter cross in either direction: a
request id, conditional-request headers and the caller's token (or, for the gradebook, the
verified caller as `X-Actor-*`) go in; body, type, ETag, caching, paging and retry headers come back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from diary_kernel.logs import request_id
from diary_kernel.problems import Problem

_PASSED_BACK = (
    "content-type",
    "etag",
    "cache-control",
    "retry-after",
    "location",
    "link",
    "x-total-count",
)
TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class UpstreamUnavailable(Problem):
    def __init__(self, service: str, detail: str = "did not answer") -> None:
        super().__init__(502, "Bad gateway", f"the {service} service {detail}")


@dataclass
class Upstream:
    """One service behind the gateway."""

    name: str
    client: httpx.AsyncClient

    @classmethod
    def at(cls, name: str, base_url: str) -> Upstream:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        return cls(name, httpx.AsyncClient(base_url=base_url, timeout=TIMEOUT, limits=limits))

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        sent = {"x-request-id": request_id.get() or "", **(headers or {})}
        try:
            return await self.client.request(
                method, path, params=params, headers=sent, json=json, content=content
            )
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(self.name) from exc


@dataclass
class Upstreams:
    identity: Upstream
    gradebook: Upstream
    applications: Upstream
    notifications: Upstream


def passed_back(response: httpx.Response) -> dict[str, str]:
    """The upstream response headers the gateway's client should see."""
    return {name: response.headers[name] for name in _PASSED_BACK if name in response.headers}
