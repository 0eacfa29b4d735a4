"""Fixtures for every test in the workspace: real Kafka and PostgreSQL (see diary_devinfra)."""

pytest_plugins = ["diary_devinfra.pytest_plugin", "diary_kernel.testing", "pytester"]
