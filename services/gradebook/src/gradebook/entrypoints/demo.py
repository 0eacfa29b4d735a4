"""Demo data for `make run`: a pupil's fortnight of marks, recorded over HTTP as a teacher would.

Ids are derived from names, so loading it again changes nothing (the service treats a repeated
recording as a retry). The city-scale generator that publishes a whole registry comes with the
roster; this only makes the walking skeleton show a living diary.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import date, timedelta

DEMO = uuid.UUID("0f5a3c1e-9b7d-4e2a-8c6f-1d2e3f4a5b6c")
DEMO_PUPIL = "6f1c2b1e-5a47-4d7e-9a51-0c2f3d4e5a61"
SUBJECTS = ("Алгебра", "Русский язык", "История")
PATTERN = [
    ("5", "ответ на уроке"),
    ("4", "самостоятельная работа"),
    ("5", "домашняя работа"),
    ("3", "контрольная работа"),
]


def demo_marks(today: date) -> list[dict[str, str]]:
    teacher = str(uuid.uuid5(DEMO, "teacher"))
    marks = []
    for s, subject in enumerate(SUBJECTS):
        for i, (value, work_type) in enumerate(PATTERN[s:] + PATTERN[:s]):
            lesson = today - timedelta(days=2 + 3 * i + s)
            marks.append(
                {
                    "mark_id": str(uuid.uuid5(DEMO, f"{subject}/{i}")),
                    "education_id": DEMO_PUPIL,
                    "subject_id": str(uuid.uuid5(DEMO, subject)),
                    "teacher_id": teacher,
                    "lesson_date": lesson.isoformat(),
                    "value": value,
                    "work_type": work_type,
                }
            )
    return marks


def load(base_url: str) -> int:
    """Post the demo marks; returns how many were new."""
    created = 0
    for mark in demo_marks(date.today()):
        request = urllib.request.Request(
            f"{base_url}/marks",
            data=json.dumps(mark).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                created += response.status == 201
        except urllib.error.HTTPError as error:
            # Recorded earlier with other values (an older demo): the journal keeps the first.
            if error.code != 422 or b"already recorded" not in error.read():
                raise
    return created
