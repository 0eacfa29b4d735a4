"""Event contracts of the diary platform.

Importing this package registers every event type so that consumers can decode them by name.
"""

from diary_events import applications as applications
from diary_events import exams as exams
from diary_events import gradebook as gradebook
from diary_events import identity as identity
from diary_events import notifications as notifications
from diary_events import registry as registry
from diary_events.base import DomainEvent, event_class_for, registered_events

__all__ = [
    "DomainEvent",
    "applications",
    "event_class_for",
    "exams",
    "gradebook",
    "identity",
    "notifications",
    "registered_events",
    "registry",
]
