"""Driving a generated school's term through the gradebook's HTTP command API.

The school's deputy head sets each class's weekly timetable; then, lesson by lesson, the
timetabled teacher writes the topic, sets homework, marks attendance, makes the odd remark and
records marks — with the actor headers the gateway would set. Every id comes from the
generator, so driving the same term again repeats commands the journal already has (no change).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

import httpx

from gradebook.demo.generator import CityGenerator, LessonActivity, School


class RosterNotVisible(RuntimeError):
    """The gradebook did not show the published roster in time (importer or projector stuck)."""


class JournalRefused(RuntimeError):
    """The gradebook refused commands the generator considers valid."""


@dataclass
class JournalStats:
    requests: int = 0
    lessons: int = 0
    marks: int = 0
    homework: int = 0
    attendance: int = 0
    remarks: int = 0
    seconds: float = 0.0
    refused: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def summary(self) -> str:
        rate = self.requests / self.seconds if self.seconds else 0.0
        text = (
            f"{self.lessons} lessons, {self.marks} marks, {self.homework} homework, "
            f"{self.attendance} attendance lines, {self.remarks} remarks: "
            f"{self.requests} requests in {self.seconds:.1f} s ({rate:.0f}/s)"
        )
        if self.refused:
            text += f"; refused: {dict(self.refused)}"
        return text


def staff_headers(school: School) -> dict[str, str]:
    return _actor("school_staff", school.deputy_head.teacher_id, school.school_id)


def teacher_headers(school: School, teacher_id: UUID) -> dict[str, str]:
    return _actor("teacher", teacher_id, school.school_id)


def _actor(role: str, actor_id: UUID, school_id: UUID) -> dict[str, str]:
    return {"X-Actor-Role": role, "X-Actor-Id": str(actor_id), "X-Actor-School": str(school_id)}


class JournalDriver:
    """Sends a school's journal commands with at most `concurrency` requests in flight."""

    def __init__(self, client: httpx.AsyncClient, generator: CityGenerator, *, concurrency: int = 16) -> None:
        self.client = client
        self.generator = generator
        self.stats = JournalStats()
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)

    async def wait_for_roster(self, school: School, *, timeout: float = 120.0) -> None:
        """Poll until every class lists its pupils and a pupil of each class sees all its teachers
        (assignments are the last records of a school, so then the whole roster is in)."""
        deadline = time.monotonic() + timeout
        on = self.generator.window_end
        waiting = {klass.class_id for klass in school.classes}
        last = ""
        while waiting:
            for klass in school.classes:
                if klass.class_id not in waiting:
                    continue
                members = school.members(klass.class_id, on)
                expected = {str(e.education_id) for e in members}
                response = await self.client.get(
                    f"/classes/{klass.class_id}/pupils",
                    params={"date": on.isoformat()},
                    headers=staff_headers(school),
                )
                last = f"GET pupils of {klass.name}: {response.status_code}"
                if response.status_code != 200 or not all(e in response.text for e in expected):
                    continue
                subjects = {str(s.subject_id) for s in school.timetable[klass.class_id]}
                if members:
                    teachers = await self.client.get(f"/diary/{members[0].education_id}/teachers")
                    last = f"GET teachers of a pupil of {klass.name}: {teachers.status_code}"
                    if teachers.status_code != 200 or not all(s in teachers.text for s in subjects):
                        continue
                waiting.discard(klass.class_id)
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise RosterNotVisible(
                    f"{len(waiting)} of {len(school.classes)} classes of {school.short_name} not visible "
                    f"after {timeout:.0f} s (last: {last}); is the registry importer running?"
                )
            await asyncio.sleep(0.5)

    async def set_timetables(self, school: School) -> None:
        """The deputy head enters each class's weekly timetable, valid from the year's start."""
        calls = []
        for klass in school.classes:
            body = {
                "valid_from": self.generator.year_starts.isoformat(),
                "slots": [
                    {
                        "weekday": s.weekday,
                        "lesson_number": s.lesson_number,
                        "subject_id": str(s.subject_id),
                        "teacher_id": str(s.teacher_id),
                        "room": s.room,
                        "starts_at": s.starts_at.isoformat("minutes"),
                        "ends_at": s.ends_at.isoformat("minutes"),
                    }
                    for s in school.timetable[klass.class_id]
                ],
            }
            calls.append(
                self._send("PUT", f"/classes/{klass.class_id}/timetable", body, staff_headers(school))
            )
        await asyncio.gather(*calls)

    async def drive(self, school: School, days: list[date] | None = None) -> JournalStats:
        """Every lesson of the window (or of `days`), many lessons at once, each in order."""
        started = time.perf_counter()
        tasks: set[asyncio.Task[None]] = set()
        for lesson in self.generator.journal(school, days):
            # Bounded look-ahead: the generator stays lazy even for a whole term.
            while len(tasks) >= 4 * self._concurrency:
                _, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            tasks.add(asyncio.create_task(self.lesson(school, lesson)))
        if tasks:
            await asyncio.gather(*tasks)
        self.stats.seconds += time.perf_counter() - started
        return self.stats

    async def lesson(self, school: School, lesson: LessonActivity) -> None:
        """One lesson's commands: the lesson's own record first (topic, homework, attendance,
        remarks, in order: they share the lesson's stream), the marks (one stream each) at once."""
        headers = teacher_headers(school, lesson.teacher_id)
        path = f"/classes/{lesson.class_id}/lessons/{lesson.lesson_date.isoformat()}/{lesson.lesson_number}"
        subject = str(lesson.subject_id)
        self.stats.lessons += 1
        await self._send(
            "PUT", f"{path}/topic", {"subject_id": subject, "lesson_topic": lesson.topic}, headers
        )
        if lesson.homework is not None:
            hw = lesson.homework
            body = {
                "homework_id": str(hw.homework_id),
                "subject_id": subject,
                "due_on": hw.due_on.isoformat(),
                "kind": hw.kind,
                "text": hw.text,
                "attachments": [{"title": title, "url": url} for title, url in hw.attachments],
            }
            change = {k: v for k, v in body.items() if k != "homework_id"}

            async def change_homework() -> bool:
                return await self._send("PUT", f"{path}/homework/{hw.homework_id}", change, headers)

            if await self._send("POST", f"{path}/homework", body, headers, taken=change_homework):
                self.stats.homework += 1
        if lesson.attendance:
            entries: list[dict[str, Any]] = []
            for line in lesson.attendance:
                entry: dict[str, Any] = {"education_id": str(line.education_id), "status": line.status}
                if line.absence_reason is not None:
                    entry["absence_reason"] = line.absence_reason
                if line.minutes_late is not None:
                    entry["minutes_late"] = line.minutes_late
                entries.append(entry)
            if await self._send(
                "PUT", f"{path}/attendance", {"subject_id": subject, "entries": entries}, headers
            ):
                self.stats.attendance += len(entries)
        for remark in lesson.remarks:
            body = {
                "remark_id": str(remark.remark_id),
                "subject_id": subject,
                "education_id": str(remark.education_id),
                "text": remark.text,
            }
            if await self._send("POST", f"{path}/remarks", body, headers):
                self.stats.remarks += 1

        async def mark(body: dict[str, Any]) -> None:
            async def correct() -> bool:
                # Recorded by an older demo with another value: corrected, as a teacher would.
                fix = {"value": body["value"], "reason": "исправление демонстрационных данных"}
                async with self._slots:
                    self.stats.requests += 1
                    response = await self.client.post(
                        f"/marks/{body['mark_id']}/corrections", json=fix, headers=headers
                    )
                return response.status_code < 300 or '"field":"value"' in response.text

            if await self._send("POST", "/marks", body, headers, taken=correct):
                self.stats.marks += 1

        await asyncio.gather(
            *(
                mark(
                    {
                        "mark_id": str(m.mark_id),
                        "education_id": str(m.education_id),
                        "subject_id": subject,
                        "lesson_date": lesson.lesson_date.isoformat(),
                        "lesson_number": lesson.lesson_number,
                        "value": m.value,
                        "work_type": m.work_type,
                    }
                )
                for m in lesson.marks
            )
        )

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any],
        headers: dict[str, str],
        *,
        taken: Callable[[], Awaitable[bool]] | None = None,
    ) -> bool:
        """One command, retried when worth it (conflicts, overload, restarts). When the journal
        says the id is taken by different content (an older demo), `taken` brings it up to date."""
        outcome = detail = ""
        async with self._slots:
            for attempt in range(6):
                self.stats.requests += 1
                try:
                    response = await self.client.request(method, path, json=body, headers=headers)
                except httpx.TransportError as error:
                    outcome = detail = type(error).__name__
                else:
                    if response.status_code < 300:
                        return True
                    outcome, detail = str(response.status_code), response.text[:300]
                    if response.status_code not in (409, 429, 500, 502, 503, 504):
                        break
                await asyncio.sleep(0.05 * 2**attempt)
        if taken is not None and outcome == "422" and '_id","message"' in detail and await taken():
            return True
        route = path.split("/")[1] if path.count("/") < 3 else path.rsplit("/", 1)[-1]
        self.stats.refused[f"{method} {route} {outcome}"] += 1
        if len(self.stats.examples) < 5:
            self.stats.examples.append(f"{method} {path}: {detail}")
        return False


async def run_term(
    client: httpx.AsyncClient,
    generator: CityGenerator,
    schools: Iterable[School],
    *,
    concurrency: int = 16,
    roster_timeout: float = 120.0,
    progress: Callable[[str], None] | None = None,
) -> JournalStats:
    """Wait for each school's roster, set its timetables, then drive its term."""
    driver = JournalDriver(client, generator, concurrency=concurrency)
    for school in schools:
        await driver.wait_for_roster(school, timeout=roster_timeout)
        await driver.set_timetables(school)
        await driver.drive(school)
        if progress is not None:
            progress(f"{school.short_name}: {driver.stats.summary()}")
    return driver.stats
