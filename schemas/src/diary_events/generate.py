"""Generate the committed contract documents from the event classes, and check them.

`python -m diary_events.generate` writes `schemas/jsonschema/<topic>/<type>.json` and
`schemas/asyncapi.yaml`. With `--check` it writes nothing and fails when the committed files
are stale, or when an event type changed incompatibly with any version of it in git history
(a field removed or retyped, or a new required field: old events and old consumers would break).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

import diary_events
from diary_events.base import DomainEvent, registered_events

SCHEMAS_DIR = Path(__file__).resolve().parents[2]
JSONSCHEMA_DIR = SCHEMAS_DIR / "jsonschema"
ASYNCAPI_FILE = SCHEMAS_DIR / "asyncapi.yaml"

CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 attributes, Kafka protocol binding, binary content mode.",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event; consumers deduplicate by it."},
        "ce_source": {"type": "string", "description": "The emitting service, e.g. /diary/gradebook."},
        "ce_type": {"type": "string", "description": "Versioned event type name."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "What the event is about (an id)."},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def short_name(event_type: str) -> str:
    """`diary.gradebook.MarkRecorded.v1` → `MarkRecorded.v1`."""
    return ".".join(event_type.split(".")[-2:])


def schema_path(event: type[DomainEvent]) -> Path:
    return JSONSCHEMA_DIR / event.topic / f"{short_name(event.event_type)}.json"


def json_schema(event: type[DomainEvent]) -> dict[str, Any]:
    schema = event.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:diary:event:{event.event_type}",
        **schema,
        "title": event.event_type,
        "description": (event.__doc__ or "").strip(),
    }


def asyncapi(events: dict[str, type[DomainEvent]]) -> dict[str, Any]:
    by_topic: dict[str, list[type[DomainEvent]]] = defaultdict(list)
    for event in events.values():
        by_topic[event.topic].append(event)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic, members in sorted(by_topic.items()):
        channel_id = topic.replace(".", "_")
        channel_messages = {}
        for event in sorted(members, key=lambda e: e.event_type):
            message_id = short_name(event.event_type).replace(".", "_")
            messages[message_id] = {
                "name": event.event_type,
                "title": short_name(event.event_type),
                "summary": (event.__doc__ or "").strip().splitlines()[0],
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
                "payload": {"$ref": str(schema_path(event).relative_to(SCHEMAS_DIR))},
                "bindings": {"kafka": {"key": {"type": "string", "description": event.key_description}}},
            }
            channel_messages[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel_id] = {"address": topic, "messages": channel_messages}
        operations[f"publish_{channel_id}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel_id}"},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Diary platform events",
            "version": "1.0.0",
            "description": "Domain events the diary services publish on Kafka. Generated from "
            "schemas/src/diary_events; do not edit by hand (make schemas).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": {"CloudEventsHeaders": CLOUDEVENTS_HEADERS}},
    }


def render() -> dict[Path, str]:
    assert diary_events.registry  # importing the package registers every event type
    events = {
        k: v for k, v in registered_events().items() if k.startswith("diary.") and ".kerneltest." not in k
    }
    files = {
        schema_path(event): json.dumps(json_schema(event), ensure_ascii=False, indent=2) + "\n"
        for event in events.values()
    }
    files[ASYNCAPI_FILE] = yaml.safe_dump(asyncapi(events), allow_unicode=True, sort_keys=False)
    return files


def compatibility_problems(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What breaks readers of `old` events or old readers of `new` events."""
    problems = []
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"field {name!r} removed")
        elif _shape(old_prop) != _shape(new_props[name]):
            problems.append(f"field {name!r} changed type")
    for name in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"field {name!r} became required")
    return problems


def _shape(prop: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prop.items() if k not in {"description", "title", "examples"}}


def history_problems(path: Path, new_text: str) -> list[str]:
    """Check `new_text` against every version of `path` committed before."""
    root = SCHEMAS_DIR.parent
    relative = path.relative_to(root)
    try:
        shas = subprocess.run(
            ["git", "log", "--format=%H", "--", str(relative)],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []
    new = json.loads(new_text)
    problems = []
    for sha in shas:
        shown = subprocess.run(["git", "show", f"{sha}:{relative}"], cwd=root, capture_output=True, text=True)
        if shown.returncode == 0:
            problems += [
                f"{relative} vs {sha[:8]}: {p}" for p in compatibility_problems(json.loads(shown.stdout), new)
            ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail on stale or incompatible files")
    args = parser.parse_args(argv)
    files = render()
    problems = [
        p for path, text in files.items() if path.suffix == ".json" for p in history_problems(path, text)
    ]
    if args.check:
        stale = [
            str(p.relative_to(SCHEMAS_DIR))
            for p, text in files.items()
            if not p.exists() or p.read_text("utf-8") != text
        ]
        known = set(files)
        extra = [str(p.relative_to(SCHEMAS_DIR)) for p in JSONSCHEMA_DIR.rglob("*.json") if p not in known]
        for name in stale:
            print(f"stale: {name} (run `make schemas` and commit)", file=sys.stderr)
        for name in extra:
            print(f"no event class for: {name}", file=sys.stderr)
        for problem in problems:
            print(f"incompatible: {problem} (publish a new .vN type instead)", file=sys.stderr)
        return 1 if stale or extra or problems else 0
    if problems:
        for problem in problems:
            print(f"incompatible: {problem} (publish a new .vN type instead)", file=sys.stderr)
        return 1
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")
    print(f"wrote {len(files)} files under {SCHEMAS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
