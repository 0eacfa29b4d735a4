"""RFC 9457 problem details for every HTTP error, naming the field at fault."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from diary_kernel.eventstore import ConcurrencyError

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error a client can act on; raised by handlers, rendered as problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str = "about:blank",
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
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
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            type_=exc.type,
            instance=request.url.path,
            **exc.extra,
        )

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
