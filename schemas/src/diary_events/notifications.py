"""Events on `notifications.events.v1`: what was delivered to whom, and what could not be.

Ids only: the guardian's account, the source event, the channel. Never the address, never the
text (it may speak of a child). Keyed by the guardian's account id.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from diary_events.base import DomainEvent

NOTIFICATIONS_EVENTS_TOPIC = "notifications.events.v1"

NotificationChannel = Literal["email", "feed"]
NotificationKind = Literal[
    "mark_new",
    "mark_corrected",
    "absence",
    "lateness",
    "final_mark",
    "homework",
    "application_approved",
    "application_rejected",
    "low_balance",
    "digest",
]


class NotificationEvent(DomainEvent):
    topic: ClassVar[str] = NOTIFICATIONS_EVENTS_TOPIC
    key_description: ClassVar[str] = "The guardian's account id"


class NotificationSent(NotificationEvent):
    """A notification reached its channel (the SMTP server accepted the letter)."""

    event_type: ClassVar[str] = "diary.notifications.NotificationSent.v1"

    delivery_id: UUID
    guardian_account_id: UUID
    channel: NotificationChannel
    kind: NotificationKind
    source_event_ids: list[str] = Field(description="CloudEvents ids of what it told (several for a digest).")
    sent_at: datetime
    attempts: int = Field(ge=1)


class NotificationFailed(NotificationEvent):
    """A notification was given up after its last try; the reason is the last error's kind."""

    event_type: ClassVar[str] = "diary.notifications.NotificationFailed.v1"

    delivery_id: UUID
    guardian_account_id: UUID
    channel: NotificationChannel
    kind: NotificationKind
    source_event_ids: list[str]
    reason: str = Field(max_length=500)
    failed_at: datetime
    attempts: int = Field(ge=1)
