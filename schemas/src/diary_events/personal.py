"""Personal data of minors in events, sealed so that it can be erased.

Events are kept forever, but a pupil's name must be erasable. Where a name has to travel (the
applications service matches parents' applications against the roster, the gateway lists a
parent's children), the event carries it encrypted with a key that belongs to that one pupil.
Destroying the key erases the name from every copy of every event ("crypto-shredding").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SealedPersonalData(BaseModel):
    """JSON of the personal fields, encrypted with AES-256-GCM under one person's key."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    alg: Literal["A256GCM"] = "A256GCM"
    key_id: str = Field(description="Id of the person's key; without the key the data is gone.")
    nonce: str = Field(description="Base64url, 12 bytes.")
    ciphertext: str = Field(description="Base64url ciphertext with the GCM tag.")
