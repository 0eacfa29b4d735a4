import json
import logging

from diary_kernel.logs import JsonFormatter, request_id


def test_log_lines_are_json_with_request_id_and_no_secrets_or_personal_data() -> None:
    record = logging.LogRecord("diary", logging.INFO, __file__, 1, "signed in", None, None)
    record.password = "hunter2"
    record.access_token = "eyJ..."
    record.pupil_full_name = "Иванов Иван Иванович"
    record.snils = "123-456-789 00"
    record.details = {"passport_number": "4000 123456", "school_id": 42}
    record.education_id = "e-1"
    token = request_id.set("req-7")
    try:
        line = JsonFormatter("gradebook").format(record)
    finally:
        request_id.reset(token)

    entry = json.loads(line)
    assert entry["message"] == "signed in"
    assert entry["service"] == "gradebook"
    assert entry["request_id"] == "req-7"
    assert entry["education_id"] == "e-1"
    assert entry["details"]["school_id"] == 42
    for secret in ("hunter2", "eyJ", "Иванов", "123-456-789", "4000 123456"):
        assert secret not in line
