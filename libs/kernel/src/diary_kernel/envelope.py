"""CloudEvents 1.0 envelope for Kafka, binary content mode.

The attributes travel as ``ce_*`` headers and the body is the event's JSON, so any Kafka client
(a bank's, a registry's) can route on headers without parsing bodies, and consumers can tell
duplicates apart by ``ce_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import ValidationError

from diary_events.base import DomainEvent, event_class_for

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

KafkaHeaders = list[tuple[str, bytes]]


class MalformedEvent(ValueError):
    """A message that can never be processed as sent: it belongs in a dead-letter topic."""


@dataclass(frozen=True)
class Envelope:
    """One event with its CloudEvents attributes."""

    id: str
    source: str
    type: str
    time: datetime
    data: Mapping[str, Any]
    subject: str | None = None
    specversion: str = SPEC_VERSION
    datacontenttype: str = CONTENT_TYPE
    extensions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def wrap(
        cls,
        event: DomainEvent,
        *,
        source: str,
        subject: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
        extensions: Mapping[str, str] | None = None,
    ) -> Envelope:
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=source,
            type=event.event_type,
            time=time or datetime.now(UTC),
            data=event.model_dump(mode="json"),
            subject=subject,
            extensions=dict(extensions or {}),
        )

    def body(self) -> bytes:
        return orjson.dumps(self.data)

    def kafka_headers(self) -> KafkaHeaders:
        headers: KafkaHeaders = [
            ("ce_specversion", self.specversion.encode()),
            ("ce_id", self.id.encode()),
            ("ce_source", self.source.encode()),
            ("ce_type", self.type.encode()),
            ("ce_time", self.time.isoformat().encode()),
            ("content-type", self.datacontenttype.encode()),
        ]
        if self.subject is not None:
            headers.append(("ce_subject", self.subject.encode()))
        headers.extend((f"ce_{name}", value.encode()) for name, value in self.extensions.items())
        return headers

    @classmethod
    def from_kafka(cls, headers: Sequence[tuple[str, bytes]] | None, value: bytes | None) -> Envelope:
        """Decode a Kafka record; anything that is not a CloudEvent is `MalformedEvent`."""
        attrs = _decode_headers(headers or ())
        missing = [name for name in ("id", "source", "type", "specversion") if name not in attrs]
        if missing:
            raise MalformedEvent(f"missing CloudEvents headers: {', '.join('ce_' + m for m in missing)}")
        if attrs["specversion"] != SPEC_VERSION:
            raise MalformedEvent(f"unsupported CloudEvents specversion {attrs['specversion']!r}")
        if value is None:
            raise MalformedEvent("empty message body")
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise MalformedEvent(f"body is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise MalformedEvent("body must be a JSON object")
        try:
            time = datetime.fromisoformat(attrs["time"]) if "time" in attrs else datetime.now(UTC)
        except ValueError as exc:
            raise MalformedEvent(f"ce_time is not an RFC 3339 timestamp: {attrs['time']!r}") from exc
        known = {"id", "source", "type", "specversion", "time", "subject"}
        return cls(
            id=attrs["id"],
            source=attrs["source"],
            type=attrs["type"],
            time=time,
            data=data,
            subject=attrs.get("subject"),
            specversion=attrs["specversion"],
            datacontenttype=attrs.get("content-type", CONTENT_TYPE),
            extensions={k: v for k, v in attrs.items() if k not in known and k != "content-type"},
        )

    def decode(self) -> DomainEvent | None:
        """The typed event, or None for a type this build does not know.

        An unknown type is not an error: a newer producer may emit types older consumers ignore.
        A known type whose body does not validate is `MalformedEvent`.
        """
        event_class = event_class_for(self.type)
        if event_class is None:
            return None
        try:
            return event_class.model_validate(self.data)
        except ValidationError as exc:
            raise MalformedEvent(f"{self.type} does not match its schema: {_short(exc)}") from exc


def _decode_headers(headers: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for name, raw in headers:
        try:
            text = raw.decode()
        except UnicodeDecodeError as exc:
            raise MalformedEvent(f"header {name} is not UTF-8") from exc
        if name.startswith("ce_"):
            attrs[name[3:]] = text
        elif name == "content-type":
            attrs[name] = text
    return attrs


def _short(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<body>'}: {err['msg']}" for err in exc.errors()
    )
