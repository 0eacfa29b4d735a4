"""A notice: one thing that happened in the diary, already described in words, before it meets a guardian.

The stream turns a diary event into a notice once; every guardian of the pupil then gets it
through the channels they chose. The facts are plain strings looked up in advance, so rendering
never needs I/O and a notice can be stored as it is (the `deliveries.notice` column).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Literal
from uuid import UUID

NoticeKind = Literal[
    "mark_new",
    "mark_corrected",
    "absence",
    "lateness",
    "final_mark",
    "homework",
    "application_approved",
    "application_rejected",
    "low_balance",
]

NOTICE_KINDS: tuple[NoticeKind, ...] = (
    "mark_new",
    "mark_corrected",
    "absence",
    "lateness",
    "final_mark",
    "homework",
    "application_approved",
    "application_rejected",
    "low_balance",
)
"""Every kind, in the order the preferences form and a digest list them."""

KIND_TITLES: dict[NoticeKind, str] = {
    "mark_new": "Новые оценки",
    "mark_corrected": "Исправленные оценки",
    "absence": "Пропуски",
    "lateness": "Опоздания",
    "final_mark": "Итоговые оценки",
    "homework": "Домашние задания",
    "application_approved": "Заявление одобрено",
    "application_rejected": "Заявление отклонено",
    "low_balance": "Низкий баланс карты",
}
"""Russian names of the kinds, for the preferences form and the digest's sections."""

_KINDS_BY_NAME: dict[str, NoticeKind] = {kind: kind for kind in NOTICE_KINDS}


@dataclass(frozen=True)
class Notice:
    """One thing that happened that a guardian may be told about, before it meets a guardian.

    `event_id` is the source event's CloudEvents id: with the guardian and the channel it is the
    key that makes a redelivered event harmless. `facts` holds every name the texts need, as
    strings (see `letters` for which ones each kind uses); missing ones only make the text plainer.
    """

    event_id: str
    kind: NoticeKind
    occurred_at: datetime
    pupil_id: UUID | None
    facts: Mapping[str, str]

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("Notice.occurred_at must be timezone-aware")
        # A private read-only copy: a notice is shared by several guardians and must not change.
        object.__setattr__(self, "facts", MappingProxyType(dict(self.facts)))

    def __hash__(self) -> int:
        return hash(
            (self.event_id, self.kind, self.occurred_at, self.pupil_id, frozenset(self.facts.items()))
        )

    def fact(self, name: str) -> str | None:
        """The fact stripped of blanks, or None when it is missing or empty."""
        value = self.facts.get(name)
        if not isinstance(value, str):
            return None
        value = value.strip()
        return value or None


def notice_to_dict(notice: Notice) -> dict[str, object]:
    """A JSON-ready form of a notice, for storing it with its deliveries."""
    return {
        "event_id": notice.event_id,
        "kind": notice.kind,
        "occurred_at": notice.occurred_at.isoformat(),
        "pupil_id": None if notice.pupil_id is None else str(notice.pupil_id),
        "facts": dict(notice.facts),
    }


def notice_from_dict(data: Mapping[str, object]) -> Notice:
    """The notice `notice_to_dict` stored; ValueError when the data is not one."""
    kind = _KINDS_BY_NAME.get(str(data.get("kind")))
    if kind is None:
        raise ValueError(f"unknown notice kind: {data.get('kind')!r}")
    event_id, occurred_at, pupil_id, facts = (
        data.get("event_id"),
        data.get("occurred_at"),
        data.get("pupil_id"),
        data.get("facts", {}),
    )
    if not isinstance(event_id, str) or not isinstance(occurred_at, str):
        raise ValueError("a notice needs event_id and occurred_at as strings")
    if pupil_id is not None and not isinstance(pupil_id, str):
        raise ValueError("pupil_id must be a string or null")
    if not isinstance(facts, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in facts.items()
    ):
        raise ValueError("facts must map strings to strings")
    return Notice(
        event_id=event_id,
        kind=kind,
        occurred_at=datetime.fromisoformat(occurred_at),
        pupil_id=None if pupil_id is None else UUID(pupil_id),
        facts={str(k): str(v) for k, v in facts.items()},
    )
