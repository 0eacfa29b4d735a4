"""The journal's refusals (`JournalError`) as problem+json, for every router of the service."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from diary_kernel.problems import problem_response
from gradebook.domain.errors import Forbidden, JournalError, NotFound


async def _journal_refusal(request: Request, error: Exception) -> Response:
    """Every refusal of the journal as problem+json naming the field, in one place."""
    assert isinstance(error, JournalError)
    status, title = 422, "Refused by the journal"
    if isinstance(error, NotFound):
        status, title = 404, "Not found"
    elif isinstance(error, Forbidden):
        status, title = 403, "Forbidden"
    return problem_response(
        status,
        title,
        str(error),
        type_="/problems/journal",
        instance=request.url.path,
        errors=[{"field": error.field, "message": str(error)}] if error.field else [],
    )


def install_journal_errors(app: FastAPI) -> None:
    app.add_exception_handler(JournalError, _journal_refusal)
