"""The keys that sign access tokens: kept sealed in PostgreSQL, published as JWKS, rotated.

Rotation without downtime: a new key is published `publish_ahead` before it starts signing
(longer than verifiers cache the key set), and the old key stays published until the last token
it signed has expired. Every instance of the service reads the same table, so they all switch
at the same moment.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from diary_kernel.access_tokens import ALGORITHM
from diary_kernel.db import Connection

KEY_BITS = 2048


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    signs_until: datetime | None


class SigningKeys:
    """Sign with the current key; publish every key a valid token may name."""

    def __init__(
        self,
        key_encryption_key: bytes,
        *,
        access_token_ttl: timedelta,
        publish_ahead: timedelta,
        cache_seconds: float = 30.0,
    ) -> None:
        if len(key_encryption_key) != 32:
            raise ValueError("the key-encryption key must be 32 bytes (base64 of 32 random bytes)")
        self._kek = AESGCM(key_encryption_key)
        self._ttl = access_token_ttl
        self._ahead = publish_ahead
        self._cache_seconds = cache_seconds
        self._current: tuple[float, SigningKey] | None = None

    # -- keys at rest ----------------------------------------------------------------------

    def _seal(self, kid: str, pem: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._kek.encrypt(nonce, pem, kid.encode())

    def _unseal(self, kid: str, sealed: bytes) -> rsa.RSAPrivateKey:
        pem = self._kek.decrypt(sealed[:12], sealed[12:], kid.encode())
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    async def _create(self, conn: Connection, signs_from: datetime) -> str:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        numbers = private_key.public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "use": "sig",
            "alg": ALGORITHM,
            "n": _int_b64(numbers.n),
            "e": _int_b64(numbers.e),
        }
        # RFC 7638 thumbprint as the key id: stable, and says nothing but which key it is.
        canonical = orjson.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]})
        kid = _b64(hashlib.sha256(canonical).digest())[:22]
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        await conn.execute(
            """INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, created_at, signs_from)
               VALUES ($1, $2, $3, $4, now(), $5)""",
            kid,
            ALGORITHM,
            self._seal(kid, pem),
            {**jwk, "kid": kid},
            signs_from,
        )
        return kid

    # -- lifecycle -------------------------------------------------------------------------

    async def ensure(self, conn: Connection, now: datetime) -> None:
        """At start-up: make sure some key signs now (the very first start creates one)."""
        async with conn.transaction():
            await conn.execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            if await self._signing_row(conn, now) is None:
                await self._create(conn, now)

    async def rotate(self, conn: Connection, now: datetime) -> str:
        """Schedule a new key: published now, signing after `publish_ahead`; returns its kid."""
        async with conn.transaction():
            await conn.execute("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE")
            switch_at = now + self._ahead
            await conn.execute(
                """UPDATE signing_keys SET signs_until = $1, published_until = $2
                   WHERE signs_until IS NULL OR signs_until > $1""",
                switch_at,
                switch_at + self._ttl + timedelta(minutes=5),
            )
            kid = await self._create(conn, switch_at)
        self._current = None
        return kid

    async def rotate_if_older(self, conn: Connection, now: datetime, max_age: timedelta) -> str | None:
        """Rotate when the newest key started signing more than `max_age` ago."""
        newest = await conn.fetchval("SELECT max(signs_from) FROM signing_keys")
        if newest is None or now - newest >= max_age:
            return await self.rotate(conn, now)
        return None

    async def _signing_row(self, conn: Connection, now: datetime) -> Any:
        return await conn.fetchrow(
            """SELECT kid, private_key, signs_until FROM signing_keys
               WHERE signs_from <= $1 AND (signs_until IS NULL OR signs_until > $1)
               ORDER BY signs_from DESC LIMIT 1""",
            now,
        )

    async def current(self, conn: Connection, now: datetime) -> SigningKey:
        cached = self._current
        if (
            cached is not None
            and time.monotonic() - cached[0] < self._cache_seconds
            and (cached[1].signs_until is None or cached[1].signs_until > now)
        ):
            return cached[1]
        row = await self._signing_row(conn, now)
        if row is None:
            raise RuntimeError("no signing key: the service did not run SigningKeys.ensure at start-up")
        key = SigningKey(row["kid"], self._unseal(row["kid"], bytes(row["private_key"])), row["signs_until"])
        self._current = (time.monotonic(), key)
        return key

    async def published(self, conn: Connection, now: datetime) -> dict[str, Any]:
        """The JWKS document: every key that signs now, will sign soon, or signed a live token."""
        rows = await conn.fetch(
            """SELECT public_jwk FROM signing_keys
               WHERE published_until IS NULL OR published_until > $1 ORDER BY signs_from""",
            now,
        )
        return {"keys": [dict(row["public_jwk"]) for row in rows]}

    async def sign(self, conn: Connection, claims: dict[str, Any], now: datetime) -> str:
        key = await self.current(conn, now)
        return jwt.encode(
            claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "at+jwt"}
        )
