from datetime import UTC, datetime

import pytest

from diary_kernel.envelope import Envelope, MalformedEvent
from diary_kernel.testing import Counted


def test_cloudevents_attributes_travel_as_kafka_headers_and_come_back() -> None:
    event = Counted(counter="c-1", amount=3)
    moment = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)
    envelope = Envelope.wrap(event, source="/diary/test", subject="c-1", time=moment)

    headers = dict(envelope.kafka_headers())
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"diary.kerneltest.Counted.v1"
    assert headers["ce_source"] == b"/diary/test"
    assert headers["ce_subject"] == b"c-1"
    assert headers["content-type"] == b"application/json"

    decoded = Envelope.from_kafka(envelope.kafka_headers(), envelope.body())
    assert decoded.id == envelope.id
    assert decoded.time == moment
    assert decoded.decode() == event


def test_a_message_without_cloudevents_headers_is_malformed() -> None:
    with pytest.raises(MalformedEvent, match="ce_id"):
        Envelope.from_kafka([("ce_type", b"x"), ("ce_source", b"/s"), ("ce_specversion", b"1.0")], b"{}")


def test_a_body_that_is_not_json_is_malformed() -> None:
    envelope = Envelope.wrap(Counted(counter="c", amount=1), source="/s")
    with pytest.raises(MalformedEvent, match="not JSON"):
        Envelope.from_kafka(envelope.kafka_headers(), b"{oops")


def test_a_known_type_with_a_wrong_body_names_the_field() -> None:
    envelope = Envelope.wrap(Counted(counter="c", amount=1), source="/s")
    with pytest.raises(MalformedEvent, match="amount"):
        Envelope.from_kafka(envelope.kafka_headers(), b'{"counter": "c", "amount": "many"}').decode()


def test_an_unknown_type_decodes_to_none_so_old_consumers_skip_new_events() -> None:
    headers = [
        ("ce_id", b"1"),
        ("ce_source", b"/s"),
        ("ce_type", b"diary.future.Thing.v9"),
        ("ce_specversion", b"1.0"),
    ]
    assert Envelope.from_kafka(headers, b"{}").decode() is None
