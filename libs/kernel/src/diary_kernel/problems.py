"""RFC 9457 problem details for every HTTP error, naming the field at fault."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from diary_kernel.eventstore import ConcurrencyError

PROBLEM_JSON = "application/problem+json"


class FieldError(BaseModel):
    field: str | None = Field(None, description="The request field at fault (dotted path).")
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of the platform's APIs is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


def _problem(description: str) -> dict[str, Any]:
    return {"model": ProblemDetails, "description": description}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: _problem("Not found"),
    409: _problem("Changed by someone else since it was read"),
    422: _problem("Invalid request: `errors` names each field at fault"),
}
"""Error responses for a router's OpenAPI (replacing FastAPI's default 422 schema)."""


class Problem(Exception):
    """An error a client can act on; raised by handlers, rendered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = dict(headers or {})
        self.extra = extra


def problem_response(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    type_: str = "about:blank",
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        response = problem_response(
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type,
            instance=request.url.path,
            **exc.extra,
        )
        response.headers.update(exc.headers)
        return response

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(part) for part in error["loc"] if part != "body") or "body",
                "in": str(error["loc"][0]) if error["loc"] else "body",
                "message": error["msg"],
            }
            for error in exc.errors()
        ]
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem_response(
            422,
            "Invalid request",
            f"Invalid value for: {fields}",
            type_="/problems/validation",
            instance=request.url.path,
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(exc.status_code, str(exc.detail), instance=request.url.path)

    async def on_conflict(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ConcurrencyError)
        return problem_response(
            409,
            "Changed by someone else",
            "The record was changed since you read it; reload it and try again.",
            type_="/problems/concurrent-change",
            instance=request.url.path,
            current_version=exc.actual,
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ConcurrencyError, on_conflict)


REFUSAL_TITLES: Mapping[int, str] = {
    400: "Invalid request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    422: "Invalid request",
    429: "Too many attempts",
}


def install_refusals(
    app: FastAPI,
    error_type: type[Exception],
    *,
    headers: Callable[[Exception], Mapping[str, str]] | None = None,
) -> None:
    """Render a service's domain refusals as problem+json.

    The service's error class carries `status` (an HTTP status) and `field` (the input at fault,
    or None); `headers` adds response headers for some of them (e.g. Retry-After).
    """

    async def on_refusal(request: Request, exc: Exception) -> JSONResponse:
        status: int = getattr(exc, "status", 400)
        field: str | None = getattr(exc, "field", None)
        errors = [{"field": field, "message": str(exc)}] if field else []
        response = problem_response(
            status, REFUSAL_TITLES.get(status, "Refused"), str(exc), instance=request.url.path, errors=errors
        )
        if headers is not None:
            response.headers.update(headers(exc))
        return response

    app.add_exception_handler(error_type, on_refusal)


def declare_problem_media_type(app: FastAPI) -> None:
    """Make the OpenAPI document say what is sent: problems as application/problem+json."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                for response in operation.get("responses", {}).values():
                    content = response.get("content", {})
                    body = content.get("application/json", {}).get("schema", {})
                    if body.get("$ref", "").endswith("/ProblemDetails"):
                        content[PROBLEM_JSON] = content.pop("application/json")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
