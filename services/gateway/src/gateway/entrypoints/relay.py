"""Answering a gateway request with a service's answer, and ETags for answers the gateway makes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from fastapi import Request, Response

from gateway.adapters.upstream import Upstream, passed_back

API_PREFIX = "/api/v1"


def relayed(answer: Any, prefix: str = API_PREFIX) -> Response:
    """The service's status, body and the headers a client may use, unchanged."""
    headers = passed_back(answer)
    location = headers.get("location")
    if location and location.startswith("/"):
        headers["location"] = prefix + location  # the services' paths live under the prefix here
    return Response(answer.content, status_code=answer.status_code, headers=headers)


async def relay(
    request: Request,
    upstream: Upstream,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    params: Any = None,
    json: Any = None,
) -> Response:
    sent = dict(headers or {})
    if (tag := request.headers.get("if-none-match")) is not None:
        sent["if-none-match"] = tag
    return relayed(await upstream.call(method, path, headers=sent, params=params, json=json))


def etagged(request: Request, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
    """JSON with a strong ETag of its bytes; 304 when the client already holds them."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    sent = {"ETag": etag, "Cache-Control": "private, no-cache", **(headers or {})}
    offered = request.headers.get("if-none-match")
    if offered is not None:
        tags = {tag.strip().removeprefix("W/") for tag in offered.split(",")}
        if etag in tags or "*" in tags:
            return Response(status_code=304, headers=sent)
    return Response(body, media_type="application/json", headers=sent)
