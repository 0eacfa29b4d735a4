"""The committed contract documents match the event classes, and incompatible edits are caught."""

from diary_events.generate import compatibility_problems, main


def test_committed_json_schemas_and_asyncapi_are_up_to_date_and_compatible() -> None:
    assert main(["--check"]) == 0


def test_removing_retyping_or_requiring_a_field_is_incompatible() -> None:
    old = {
        "properties": {"mark_id": {"type": "string"}, "value": {"type": "string"}},
        "required": ["mark_id"],
    }
    assert compatibility_problems(old, old) == []
    added_optional = {**old, "properties": {**old["properties"], "comment": {"type": "string"}}}
    assert compatibility_problems(old, added_optional) == []

    removed = {"properties": {"mark_id": {"type": "string"}}, "required": ["mark_id"]}
    retyped = {**old, "properties": {**old["properties"], "value": {"type": "integer"}}}
    required = {**old, "required": ["mark_id", "value"]}
    assert compatibility_problems(old, removed) == ["field 'value' removed"]
    assert compatibility_problems(old, retyped) == ["field 'value' changed type"]
    assert compatibility_problems(old, required) == ["field 'value' became required"]
