"""A test that needs the real servers and cannot get them fails; it is never skipped."""

import socket

import pytest

INNER_TEST = """
async def test_needs_kafka(kafka_bootstrap):
    assert kafka_bootstrap
"""

INNER_CONFIG = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_named_server_that_does_not_answer_errors_the_test_instead_of_skipping_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = closed_port()
    monkeypatch.setenv("DIARY_TEST_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    monkeypatch.setenv("DIARY_TEST_POSTGRES_DSN", f"postgresql://diary:diary@127.0.0.1:{port}/postgres")
    monkeypatch.setenv("DIARY_TEST_SERVER_WAIT", "2")
    pytester.makeini(INNER_CONFIG)
    pytester.makepyfile(test_inner=INNER_TEST)

    result = pytester.runpytest_subprocess("-p", "diary_devinfra.pytest_plugin")

    result.assert_outcomes(errors=1)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*the server named by DIARY_TEST_KAFKA_BOOTSTRAP*"])
