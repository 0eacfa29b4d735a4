"""Passwords at rest: argon2id hashes, computed off the event loop.

Parameters default to RFC 9106's second recommended option (t=3, 64 MiB, p=4). The encoded hash
carries its parameters, so raising them later re-hashes each password at its owner's next login.
A login for an address with no account still spends one verification, so that the answer takes
as long whether or not the address is registered.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from diary_kernel.db import Connection


@dataclass(frozen=True)
class Argon2Parameters:
    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    def describe(self) -> str:
        return f"argon2id t={self.time_cost} m={self.memory_kib} KiB p={self.parallelism}"


class Passwords:
    def __init__(self, parameters: Argon2Parameters) -> None:
        self.parameters = parameters
        self._hasher = PasswordHasher(
            time_cost=parameters.time_cost,
            memory_cost=parameters.memory_kib,
            parallelism=parameters.parallelism,
            type=Type.ID,
        )
        self._decoy = self._hasher.hash("no account has this password")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, encoded: str | None, password: str) -> bool:
        """True when the password matches; with no hash, the same work is done against a decoy."""

        def check() -> bool:
            try:
                return self._hasher.verify(encoded or self._decoy, password) and encoded is not None
            except (VerificationError, InvalidHashError):
                return False

        return await asyncio.to_thread(check)

    def needs_rehash(self, encoded: str) -> bool:
        return self._hasher.check_needs_rehash(encoded)

    async def stored(self, conn: Connection, account_id: UUID) -> str | None:
        value: str | None = await conn.fetchval(
            "SELECT password_hash FROM credentials WHERE account_id = $1", account_id
        )
        return value

    async def store(self, conn: Connection, account_id: UUID, encoded: str, now: datetime) -> None:
        await conn.execute(
            """INSERT INTO credentials (account_id, password_hash, changed_at) VALUES ($1, $2, $3)
               ON CONFLICT (account_id) DO UPDATE SET password_hash = $2, changed_at = $3""",
            account_id,
            encoded,
            now,
        )
