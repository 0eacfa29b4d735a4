"""The demo `make run` loads: a school with a few classes and weeks of journal, plus the
neighbouring school a pupil moves to (so the diary shows a move that keeps its history)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date

import httpx

from gradebook.demo.generator import CityGenerator, CitySize, School
from gradebook.demo.journal import JournalDriver, JournalStats
from gradebook.demo.publish import Published, city_records, publish

DEMO_SEED = 1703  # the year the city was founded
DEMO_SIZE = CitySize(schools=2, districts=18, classes_per_grade=2, pupils_per_class=25, grades=(5, 9))
DEMO_WEEKS = 3


@dataclass(frozen=True)
class DemoSummary:
    """Ids worth querying after a demo load (no names: pupils are minors)."""

    school_id: str
    class_ids: dict[str, str]
    education_id: str
    transferred_education_id: str | None
    moved_education_ids: tuple[str, str] | None
    first_day: date
    last_day: date
    published: Published
    journal: JournalStats

    def lines(self) -> list[str]:
        out = [
            f"registry: {self.published.records} records in {self.published.seconds:.1f} s",
            f"journal {self.first_day} .. {self.last_day}: {self.journal.summary()}",
            f"school {self.school_id}; classes "
            + ", ".join(f"{name} {cid}" for name, cid in self.class_ids.items()),
            f"demo pupil's diary (education_id): {self.education_id}",
        ]
        if self.transferred_education_id:
            out.append(f"a pupil who changed class (education_id): {self.transferred_education_id}")
        if self.moved_education_ids:
            old, new = self.moved_education_ids
            out.append(f"a pupil who moved to the next school: {old} (old diary), {new} (new diary)")
        out.extend(self.journal.examples)
        return out


def demo_generator(today: date | None = None, weeks: int = DEMO_WEEKS) -> CityGenerator:
    return CityGenerator(DEMO_SIZE, seed=DEMO_SEED, today=today, weeks=weeks)


def demo_education_id(generator: CityGenerator, school: School) -> str:
    """A pupil of the first class with an uneventful term (not the one who moves)."""
    moving = {t.education_id for t in school.transfers} | {d.education_id for d in school.departures}
    first = school.classes[0].class_id
    return str(
        next(
            e.education_id for e in school.enrolments if e.class_id == first and e.education_id not in moving
        )
    )


async def load_demo(
    url: str,
    bootstrap_servers: str,
    *,
    topic_prefix: str = "",
    today: date | None = None,
    weeks: int = DEMO_WEEKS,
    concurrency: int = 16,
    roster_timeout: float = 120.0,
    client: httpx.AsyncClient | None = None,
) -> DemoSummary:
    """Publish the demo schools to the registry topic, then drive their weeks of journal
    (through `client` if given, e.g. one on an in-process app, else over HTTP to `url`)."""
    generator = demo_generator(today, weeks)
    schools = [generator.school(i) for i in range(DEMO_SIZE.schools)]
    published = await publish(bootstrap_servers, city_records(generator, schools), topic_prefix=topic_prefix)
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=30))
        driver = JournalDriver(client, generator, concurrency=concurrency)
        for school in schools:
            await driver.wait_for_roster(school, timeout=roster_timeout)
            await driver.set_timetables(school)
        home, neighbour = schools
        await driver.drive(home)
        # The neighbour from the day the moving pupil arrives: their new diary, not a whole term.
        await driver.drive(neighbour, [d for d in generator.days if d >= (neighbour.changes_on or d)])
    stats = driver.stats
    moved = None
    if home.departures:
        leaving = home.departures[0].education_id
        pupil = next(e.pupil.pupil_id for e in home.enrolments if e.education_id == leaving)
        arrived = next(a.education_id for a in neighbour.arrivals if a.pupil.pupil_id == pupil)
        moved = (str(leaving), str(arrived))
    return DemoSummary(
        school_id=str(home.school_id),
        class_ids={k.name: str(k.class_id) for k in home.classes},
        education_id=demo_education_id(generator, home),
        transferred_education_id=str(home.transfers[0].education_id) if home.transfers else None,
        moved_education_ids=moved,
        first_day=generator.days[0] if generator.days else generator.window_start,
        last_day=generator.days[-1] if generator.days else generator.window_end,
        published=published,
        journal=stats,
    )
