"""Why the journal refuses a command; the message is shown to the teacher as it is."""

from __future__ import annotations


class JournalError(Exception):
    """A command the journal refuses, naming the field at fault when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(JournalError):
    """The command names something the journal does not have (answered as 404)."""


class Forbidden(JournalError):
    """The actor may not do this here (a teacher outside their classes, another school's staff)."""
