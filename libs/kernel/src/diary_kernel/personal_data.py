"""Sealing personal data of minors into events, and erasing it by destroying one key.

Each person gets an AES-256-GCM key of their own, kept in the owning service's database. The
person's id is bound into the ciphertext as associated data, so a sealed blob copied onto another
person's event does not open. Destroying the key (`erase`) leaves only ciphertext behind.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from diary_events.personal import SealedPersonalData
from diary_kernel.db import Connection


class PersonalDataErased(LookupError):
    """The person's key was destroyed: their personal data is gone for good."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(data: dict[str, Any], *, key_id: str, key: bytes, subject_id: str) -> SealedPersonalData:
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, orjson.dumps(data), subject_id.encode())
    return SealedPersonalData(key_id=key_id, nonce=_b64(nonce), ciphertext=_b64(ciphertext))


def open_sealed(sealed: SealedPersonalData, *, key: bytes, subject_id: str) -> dict[str, Any]:
    try:
        plain = AESGCM(key).decrypt(_unb64(sealed.nonce), _unb64(sealed.ciphertext), subject_id.encode())
    except InvalidTag as exc:
        raise ValueError("sealed personal data does not open with this person's key") from exc
    data = orjson.loads(plain)
    if not isinstance(data, dict):
        raise ValueError("sealed personal data is not a JSON object")
    return data


class PersonalDataKeys:
    """The key table (`personal_data_keys`, a kernel migration) of one service's database."""

    async def key_for(self, conn: Connection, subject_id: str) -> tuple[str, bytes]:
        """The person's key, created on first use; refuses a person whose key was destroyed."""
        row = await conn.fetchrow(
            """INSERT INTO personal_data_keys (key_id, subject_id, key) VALUES ($1, $2, $3)
               ON CONFLICT (subject_id) DO UPDATE SET subject_id = EXCLUDED.subject_id
               RETURNING key_id, key""",
            _b64(os.urandom(12)),
            subject_id,
            AESGCM.generate_key(bit_length=256),
        )
        assert row is not None
        if row["key"] is None:
            raise PersonalDataErased(subject_id)
        return row["key_id"], bytes(row["key"])

    async def open(self, conn: Connection, sealed: SealedPersonalData, subject_id: str) -> dict[str, Any]:
        key = await conn.fetchval(
            "SELECT key FROM personal_data_keys WHERE key_id = $1 AND subject_id = $2",
            sealed.key_id,
            subject_id,
        )
        if key is None:
            raise PersonalDataErased(subject_id)
        return open_sealed(sealed, key=bytes(key), subject_id=subject_id)

    async def erase(self, conn: Connection, subject_id: str) -> bool:
        """Destroy the person's key; True if there was one to destroy."""
        status = await conn.execute(
            """UPDATE personal_data_keys SET key = NULL, destroyed_at = now()
               WHERE subject_id = $1 AND key IS NOT NULL""",
            subject_id,
        )
        return status.endswith(" 1")
