"""What every service's command line does the same way: serve its app, rebuild its read models."""

from __future__ import annotations

import asyncio

import uvicorn
from fastapi import FastAPI

from diary_kernel.service import ServiceDefinition, rebuild_read_models
from diary_kernel.settings import ServiceSettings


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app on the configured address; our JSON logs replace uvicorn's own."""
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


def rebuild(definition: ServiceDefinition, settings: ServiceSettings, only: str | None) -> None:
    """Replay the read models (the service stopped) and say how many events each took."""
    replayed = asyncio.run(rebuild_read_models(definition, settings, only))
    for name, applied in replayed.items():
        print(f"{name}: {applied} events applied")
