"""`python -m gradebook.demo`: generated schools for demos and load tests.

  roster   publish a city's roster to the registry topic (city scale: --schools 700)
  journal  drive the journal of already published schools through a running gradebook
  school   the `make run` demo: two small schools published, their weeks of journal driven

Kafka address and topic prefix default to DIARY_KAFKA_BOOTSTRAP_SERVERS / DIARY_KAFKA_TOPIC_PREFIX,
as the services read them. Output names ids and counts only, never pupils' names.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import date

import httpx

from diary_kernel.settings import ServiceSettings
from gradebook.demo.generator import CityGenerator, CitySize
from gradebook.demo.journal import run_term
from gradebook.demo.publish import city_records, publish, roster_topic
from gradebook.demo.school import DEMO_WEEKS, load_demo


def _grades(text: str) -> tuple[int, ...]:
    """«1-11», «5,9» or «1-4,9»."""
    grades: set[int] = set()
    for part in text.split(","):
        low, _, high = part.partition("-")
        grades.update(range(int(low), int(high or low) + 1))
    if not grades or min(grades) < 1 or max(grades) > 11:
        raise argparse.ArgumentTypeError("grades are 1..11")
    return tuple(sorted(grades))


def _parser() -> argparse.ArgumentParser:
    env = ServiceSettings()
    parser = argparse.ArgumentParser(prog="python -m gradebook.demo", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def kafka(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--bootstrap", default=env.kafka_bootstrap_servers, help="Kafka bootstrap servers")
        sub.add_argument("--topic-prefix", default=env.kafka_topic_prefix, help="prefix of every topic name")

    def city(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--schools", type=int, default=700)
        sub.add_argument("--districts", type=int, default=18)
        sub.add_argument("--classes-per-grade", type=int, default=3)
        sub.add_argument("--pupils-per-class", type=int, default=26)
        sub.add_argument("--grades", type=_grades, default=tuple(range(1, 12)), help="e.g. 1-11 or 5,9")
        sub.add_argument("--seed", type=int, default=1)
        sub.add_argument("--weeks", type=int, default=None, help="journal weeks before today (default: all)")
        sub.add_argument("--today", type=date.fromisoformat, default=None, help="pretend today is (ISO date)")

    roster = commands.add_parser("roster", help="publish a city's roster to the registry topic")
    city(roster)
    kafka(roster)

    journal = commands.add_parser("journal", help="drive the journal of published schools over HTTP")
    city(journal)
    journal.add_argument("--url", default="http://127.0.0.1:8101")
    journal.add_argument("--first-school", type=int, default=0)
    journal.add_argument("--count", type=int, default=1, help="how many schools to drive")
    journal.add_argument("--concurrency", type=int, default=32)
    journal.add_argument("--roster-timeout", type=float, default=300.0)

    school = commands.add_parser("school", help="the make-run demo: publish and drive two small schools")
    kafka(school)
    school.add_argument("--url", default="http://127.0.0.1:8101")
    school.add_argument("--weeks", type=int, default=DEMO_WEEKS)
    school.add_argument("--today", type=date.fromisoformat, default=None)
    school.add_argument("--concurrency", type=int, default=16)
    return parser


def _size(args: argparse.Namespace) -> CitySize:
    return CitySize(
        schools=args.schools,
        districts=args.districts,
        classes_per_grade=args.classes_per_grade,
        pupils_per_class=args.pupils_per_class,
        grades=args.grades,
    )


async def _main(args: argparse.Namespace) -> int:
    if args.command == "school":
        summary = await load_demo(
            args.url, args.bootstrap, topic_prefix=args.topic_prefix, today=args.today, weeks=args.weeks
        )
        print("\n".join(summary.lines()))
        return 1 if summary.journal.refused else 0

    size = _size(args)
    generator = CityGenerator(size, seed=args.seed, today=args.today, weeks=args.weeks)
    if args.command == "roster":
        print(
            f"publishing {size.schools} schools, ~{size.pupils} pupils "
            f"to {roster_topic(args.topic_prefix)} ...",
            flush=True,
        )
        published = await publish(
            args.bootstrap, city_records(generator, generator.schools()), topic_prefix=args.topic_prefix
        )
        mb = published.bytes / 1e6
        print(
            f"{published.records} records ({mb:.0f} MB) in {published.seconds:.1f} s "
            f"({published.per_second:.0f} records/s)"
        )
        return 0

    schools = (generator.school(i) for i in range(args.first_school, args.first_school + args.count))
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=args.url, timeout=60) as client:
        stats = await run_term(
            client,
            generator,
            schools,
            concurrency=args.concurrency,
            roster_timeout=args.roster_timeout,
            progress=lambda line: print(line, flush=True),
        )
    print(f"done in {time.perf_counter() - started:.1f} s: {stats.summary()}")
    for example in stats.examples:
        print(example)
    return 1 if stats.refused else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
