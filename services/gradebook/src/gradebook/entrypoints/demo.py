"""Demo data for `make run`: the generated demo school published to the registry topic and a few
weeks of its journal driven through the running service, as its staff and teachers would.

Kafka's address and topic prefix come from the environment the services read
(DIARY_KAFKA_BOOTSTRAP_SERVERS, DIARY_KAFKA_TOPIC_PREFIX). Ids are derived from a fixed seed,
so loading it again repeats what the journal already has and changes nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from diary_kernel.settings import ServiceSettings


def load(base_url: str) -> int:
    """Publish and drive the demo; prints what to query and returns how many marks were accepted."""
    # Imported here: `gradebook serve` shares this module's importer and needs no HTTP client.
    from gradebook.demo.school import load_demo

    settings = ServiceSettings()
    started = time.perf_counter()
    summary = asyncio.run(
        load_demo(base_url, settings.kafka_bootstrap_servers, topic_prefix=settings.kafka_topic_prefix)
    )
    for line in summary.lines():
        print(line)
    print(f"demo loaded in {time.perf_counter() - started:.1f} s", flush=True)
    return summary.journal.marks


def __getattr__(name: str) -> Any:
    # DEMO_PUPIL: the demo pupil's education id this school year (computed on first use).
    if name == "DEMO_PUPIL":
        from gradebook.demo.school import demo_education_id, demo_generator

        generator = demo_generator()
        return demo_education_id(generator, generator.school(0))
    raise AttributeError(name)
