"""The base every domain event derives from.

Events are the contracts between services and with regional systems, so they live here, free of
any I/O, and the JSON Schema / AsyncAPI documents are generated from these classes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class DomainEvent(BaseModel):
    """A fact that happened in the school domain.

    Subclasses set `event_type` (a versioned CloudEvents type such as
    ``diary.gradebook.MarkRecorded.v1``) and inherit `topic` from their service's base class.
    A breaking change to a payload is a new class with the next version suffix, never an edit.
    """

    # Tolerant reader: a consumer ignores fields added by a newer producer of the same version.
    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    topic: ClassVar[str]
    key_description: ClassVar[str] = "Aggregate id: one aggregate's events stay in order"

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "event_type" in cls.__dict__:
            register(cls)


_REGISTRY: dict[str, type[DomainEvent]] = {}


def register(event_class: type[DomainEvent]) -> None:
    """Make an event class decodable by its type name; a clash is a programming error."""
    known = _REGISTRY.get(event_class.event_type)
    if known is not None and known is not event_class:
        raise ValueError(f"event type {event_class.event_type} is declared twice")
    _REGISTRY[event_class.event_type] = event_class


def event_class_for(event_type: str) -> type[DomainEvent] | None:
    """The class for a type name, or None for types this build does not know (newer producers)."""
    return _REGISTRY.get(event_type)


def registered_events() -> dict[str, type[DomainEvent]]:
    """Every event type known to this build, for schema generation."""
    return dict(_REGISTRY)
