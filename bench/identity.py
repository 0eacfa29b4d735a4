"""The identity service's figures: logins through the real HTTP stack with the production argon2id
parameters, and access-token verification where the gateway does it (against the JWKS) — each
next to raw baselines measured in the same run.

The service runs as it does in production: its own process (uvicorn), its own database, real
Kafka, real SMTP (the dev sink, in this process). Accounts are made the way parents make them:
registration, the mailed link, the password. argon2id dominates a login, so the login figure's
baseline is argon2-cffi alone with the same parameters, at the same concurrency; a bare ASGI app
under the same uvicorn and httpx shows what the HTTP stack alone could carry.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from argon2 import PasswordHasher, Type, extract_parameters
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI
from pydantic import BaseModel

from bench.common import free_port, fresh_database, percentile, throughput
from bench.infra import BenchInfra
from diary_devinfra.smtp_sink import SmtpSink
from diary_kernel.access_tokens import ALGORITHM, AccessTokenVerifier, RemoteKeySet
from identity.adapters.credentials import Argon2Parameters
from identity.bootstrap import IdentitySettings
from identity.testing import STRONG_PASSWORD, link_token

CLIENTS = 4  # concurrent logins: enough to keep 2-8 cores busy with argon2, as a school morning would
AUDIENCE = "diary"
ROOT = Path(__file__).resolve().parent.parent


def production_argon2() -> Argon2Parameters:
    """The parameters the service runs with when nothing overrides them (IdentitySettings defaults)."""
    fields = IdentitySettings.model_fields
    return Argon2Parameters(
        time_cost=fields["argon2_time_cost"].default,
        memory_kib=fields["argon2_memory_kib"].default,
        parallelism=fields["argon2_parallelism"].default,
    )


@dataclass(frozen=True)
class IdentityService:
    url: str
    dsn: str


@contextlib.asynccontextmanager
async def _serving(command: list[str], env: dict[str, str], url: str, probe: str) -> AsyncIterator[None]:
    """A server process until the block ends; ready once `probe` answers 200."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=5) as client:
                for _ in range(600):
                    if process.poll() is not None:
                        errors.seek(0)
                        tail = errors.read().decode(errors="replace")[-2000:]
                        raise RuntimeError(f"{command[2]} exited with {process.returncode}:\n{tail}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(probe)).status_code == 200:
                            break
                    await asyncio.sleep(0.2)
                else:
                    raise RuntimeError(f"{command[2]} did not become ready")
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.asynccontextmanager
async def running_identity(infra: BenchInfra, sink: SmtpSink) -> AsyncIterator[IdentityService]:
    """`identity serve` in its own process on a fresh database and topic namespace, with the
    production argon2id parameters and lock-out thresholds out of the way."""
    dsn = await fresh_database(infra, "identity")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDENTITY_")}  # argon2 defaults
    env.update(
        {
            "IDENTITY_DATABASE_URL": dsn,
            "IDENTITY_HTTP_PORT": str(port),
            "IDENTITY_LOG_LEVEL": "WARNING",
            "IDENTITY_PUBLIC_URL": url,
            "IDENTITY_LINKS_BASE_URL": url,
            "IDENTITY_KEY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
            "IDENTITY_SMTP_HOST": sink.host,
            "IDENTITY_SMTP_PORT": str(sink.port),
            "IDENTITY_SMTP_FIRST_RETRY_SECONDS": "0.2",
            "IDENTITY_LOCKOUT_PER_LOGIN": "1000000",
            "IDENTITY_LOCKOUT_PER_ADDRESS": "1000000",
            "DIARY_KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
            "DIARY_KAFKA_TOPIC_PREFIX": f"bench{uuid.uuid4().hex[:6]}.",
        }
    )
    async with _serving([sys.executable, "-m", "identity.entrypoints.cli", "serve"], env, url, "/readyz"):
        yield IdentityService(url, dsn)


# The baseline app: one route that parses the same body and answers JSON, nothing else.
bare_app = FastAPI()


class _Login(BaseModel):
    email: str
    password: str


@bare_app.post("/sessions", status_code=201)
async def _bare_login(body: _Login) -> dict[str, str]:
    return {"token_type": "Bearer", "email": body.email}


@bare_app.get("/healthz")
async def _bare_health() -> dict[str, str]:
    return {"status": "ok"}


@contextlib.asynccontextmanager
async def running_bare_app() -> AsyncIterator[str]:
    """`bare_app` under uvicorn in its own process, with the options `identity serve` uses."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "bench.identity:bare_app"),
        *("--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"),
    ]
    url = f"http://127.0.0.1:{port}"
    async with _serving(command, dict(os.environ), url, "/healthz"):
        yield url


async def closed_loop(
    op: Callable[[], Awaitable[None]], clients: int, seconds: float
) -> tuple[list[float], float]:
    """`clients` tasks calling `op` back to back for `seconds`: latencies (ms) and the time taken."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await op()
            latencies.append((time.perf_counter() - started) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, time.perf_counter() - began


async def _register(client: httpx.AsyncClient, sink: SmtpSink, email: str) -> dict[str, Any]:
    """Registration as a parent does it: the address, the mailed link, the password."""
    accepted = await client.post("/registrations", json={"email": email})
    if accepted.status_code != 202:
        raise RuntimeError(f"registration refused: {accepted.status_code} {accepted.text[:300]}")
    letter = await sink.mailbox.wait_for(email, subject_contains="Подтверждение регистрации", timeout=60)
    confirmed = await client.post(
        "/registrations/confirmation", json={"token": link_token(letter), "password": STRONG_PASSWORD}
    )
    if confirmed.status_code != 201:
        raise RuntimeError(f"confirmation refused: {confirmed.status_code} {confirmed.text[:300]}")
    body: dict[str, Any] = confirmed.json()
    return body


def _verifications_per_second(n: int, op: Callable[[], object]) -> float:
    for _ in range(min(200, n)):  # warm-up
        op()
    started = time.perf_counter()
    for _ in range(n):
        op()
    return n / (time.perf_counter() - started)


async def _verification_rates(url: str, token: str, n: int) -> dict[str, Any]:
    """verify() as the gateway builds it, then raw RSA and PyJWT on the same token and key."""
    verifier = AccessTokenVerifier(
        RemoteKeySet.from_url(f"{url}/.well-known/jwks.json"), issuer=url, audience=AUDIENCE
    )
    await verifier.verify(token)  # fetches and caches the key set
    kid = jwt.get_unverified_header(token)["kid"]
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        jwks = (await client.get("/.well-known/jwks.json")).json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    public_key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
    assert isinstance(public_key, rsa.RSAPublicKey)
    signing_input, _, signature_b64 = token.rpartition(".")
    signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))

    for _ in range(min(200, n)):
        await verifier.verify(token)
    began = time.perf_counter()
    for _ in range(n):
        await verifier.verify(token)
    kernel = n / (time.perf_counter() - began)

    pkcs1, sha256, message = padding.PKCS1v15(), hashes.SHA256(), signing_input.encode()
    raw_rsa = _verifications_per_second(n, lambda: public_key.verify(signature, message, pkcs1, sha256))
    pyjwt = _verifications_per_second(
        n,
        lambda: jwt.decode(
            token,
            public_key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=url,
            leeway=30.0,
            options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
        ),
    )
    return {"kernel": kernel, "raw_rsa": raw_rsa, "pyjwt": pyjwt, "key_bits": public_key.key_size}


async def figures_identity(infra: BenchInfra, quick: bool) -> list[dict[str, Any]]:
    """Logins/s and login latency through POST /sessions vs raw argon2id verify at the same
    concurrency; access-token verifications/s at a JWKS consumer vs raw RSA and PyJWT."""
    argon2 = production_argon2()
    accounts = 8 if quick else 24
    seconds, rounds = (8.0, 2) if quick else (20.0, 4)
    verifications = 4000 if quick else 20000
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="diary-bench-mail-") as mail:
        sink = SmtpSink(Path(mail), free_port())
        sink.start()
        try:
            async with (
                running_identity(infra, sink) as service,
                httpx.AsyncClient(
                    base_url=service.url, timeout=120, limits=httpx.Limits(max_connections=CLIENTS)
                ) as client,
            ):
                emails = [f"bench.parent.{i}.{uuid.uuid4().hex[:8]}@example.org" for i in range(accounts)]
                started = time.perf_counter()
                pending = iter(emails)

                async def registrar() -> None:
                    for email in pending:
                        await _register(client, sink, email)

                await asyncio.gather(*(registrar() for _ in range(CLIENTS)))
                registration_seconds = time.perf_counter() - started
                refused = 0

                async def login() -> None:
                    nonlocal refused
                    response = await client.post(
                        "/sessions", json={"email": rng.choice(emails), "password": STRONG_PASSWORD}
                    )
                    if response.status_code != 201:
                        refused += 1
                        if refused == 1:
                            print(
                                f"a login was refused: {response.status_code} {response.text[:300]}",
                                file=sys.stderr,
                            )

                # (a) raw argon2id verify of the very hash the service stored, same parameters.
                conn = await asyncpg.connect(service.dsn)
                try:
                    stored: str = await conn.fetchval("SELECT password_hash FROM credentials LIMIT 1")
                finally:
                    await conn.close()
                on_disk = extract_parameters(stored)
                if (on_disk.time_cost, on_disk.memory_cost, on_disk.parallelism) != (
                    argon2.time_cost,
                    argon2.memory_kib,
                    argon2.parallelism,
                ):
                    raise RuntimeError(f"the service stored {stored.split('$')[3]}, not {argon2.describe()}")
                hasher = PasswordHasher(
                    time_cost=argon2.time_cost,
                    memory_cost=argon2.memory_kib,
                    parallelism=argon2.parallelism,
                    type=Type.ID,
                )

                async def raw_verify() -> None:
                    await asyncio.to_thread(hasher.verify, stored, STRONG_PASSWORD)

                single: list[float] = []
                for _ in range(3 if quick else 10):
                    began = time.perf_counter()
                    hasher.verify(stored, STRONG_PASSWORD)
                    single.append((time.perf_counter() - began) * 1000)

                await closed_loop(login, CLIENTS, 1.0)  # warm-up: connections, key cache, plans
                await closed_loop(raw_verify, CLIENTS, 1.0)
                # Alternating rounds: whatever else the machine does (a checkpoint, autovacuum after
                # the figures before) falls on the service and its baseline alike.
                logins: list[float] = []
                raw: list[float] = []
                login_seconds = raw_seconds = 0.0
                for _ in range(rounds):
                    latencies, took = await closed_loop(login, CLIENTS, seconds / rounds)
                    logins, login_seconds = logins + latencies, login_seconds + took
                    latencies, took = await closed_loop(raw_verify, CLIENTS, seconds / rounds)
                    raw, raw_seconds = raw + latencies, raw_seconds + took

                # (2) the gateway's side: a real token, the published keys, verify() in one task.
                response = await client.post(
                    "/sessions", json={"email": emails[0], "password": STRONG_PASSWORD}
                )
                token: str = response.json()["access_token"]
                rates = await _verification_rates(service.url, token, verifications)
        finally:
            sink.stop()

    # (b) the HTTP stack alone: the same client, concurrency and body against a bare route.
    async with (
        running_bare_app() as url,
        httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(max_connections=CLIENTS)) as bare,
    ):

        async def bare_login() -> None:
            response = await bare.post("/sessions", json={"email": emails[0], "password": STRONG_PASSWORD})
            assert response.status_code == 201

        await closed_loop(bare_login, CLIENTS, 1.0)
        bare_latencies, bare_seconds = await closed_loop(bare_login, CLIENTS, seconds)

    logins_per_s = len(logins) / login_seconds
    raw_per_s = len(raw) / raw_seconds
    bare_per_s = len(bare_latencies) / bare_seconds
    login_params = {
        "argon2": argon2.describe(),
        "argon2_from": "IdentitySettings defaults, checked against the hash the service stored",
        "cpus": os.cpu_count(),
        "concurrent_clients": CLIENTS,
        "duration_s": seconds,
        "rounds": f"{rounds} alternating rounds of logins and of the raw argon2id baseline",
        "logins": len(logins),
        "refused": refused,
        "accounts": accounts,
        "accounts_path": "POST /registrations → letter from the SMTP sink → POST /registrations/confirmation",
        "registration_s": round(registration_seconds, 1),
        "argon2_verify_ms_single_caller": round(statistics.median(single), 1),
        "argon2_verify_per_s_single_caller": round(1000 / statistics.median(single), 2),
        "argon2_verify_per_s_to_thread": round(raw_per_s, 2),
        "bare_asgi_requests_per_s": round(bare_per_s),
        "bare_asgi_p50_ms": round(percentile(bare_latencies, 50), 2),
        "bare_asgi_p99_ms": round(percentile(bare_latencies, 99), 2),
        "logins_per_bare_asgi_request": round(logins_per_s / bare_per_s, 5),
        "path": "uvicorn + FastAPI → lock-out check → argon2id verify (to_thread) → session row → RS256 sign",
    }
    token_params = {
        "verifications": verifications,
        "loop": "one task, sequential awaits, key set cached after the first call",
        "key": f"RSA {rates['key_bits']} bit, {ALGORITHM}",
        "token_bytes": len(token),
        "raw_rsa_verify_per_s": round(rates["raw_rsa"]),
        "pyjwt_decode_per_s": round(rates["pyjwt"]),
    }
    return [
        throughput(
            "logins over HTTP (POST /sessions)",
            "logins/s",
            len(logins),
            login_seconds,
            f"raw argon2id verify via asyncio.to_thread, {CLIENTS} callers",
            raw_seconds * len(logins) / len(raw),
            **login_params,
        ),
        {
            "name": "login latency, POST /sessions",
            "unit": "ms",
            "p50": percentile(logins, 50),
            "p99": percentile(logins, 99),
            "baseline_name": f"raw argon2id verify via asyncio.to_thread, {CLIENTS} callers",
            "baseline_p50": percentile(raw, 50),
            "baseline_p99": percentile(raw, 99),
            "params": login_params,
        },
        throughput(
            "access-token verify at a JWKS consumer",
            "verifications/s",
            verifications,
            verifications / rates["kernel"],
            "raw cryptography RSA PKCS1v15/SHA-256 verify of header.payload",
            verifications / rates["raw_rsa"],
            **token_params,
        ),
        throughput(
            "access-token verify, vs PyJWT decode",
            "verifications/s",
            verifications,
            verifications / rates["kernel"],
            "PyJWT jwt.decode with the key and the same checks (no claims model)",
            verifications / rates["pyjwt"],
            **token_params,
        ),
    ]
