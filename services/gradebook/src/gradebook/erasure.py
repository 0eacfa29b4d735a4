"""Erasing a pupil's personal data (a 152-FZ request, or the registry deleting the person).

The pupil's key is destroyed, so the name sealed in every stored and published event can no
longer be opened, and the roster read model forgets it in the same transaction, so the live read
model and any later rebuild agree.
"""

from __future__ import annotations

from uuid import UUID

from diary_kernel.db import Pool
from diary_kernel.personal_data import PersonalDataKeys
from gradebook.adapters import roster_read_model


async def erase_pupil(pool: Pool, pupil_id: UUID) -> bool:
    """True when there was personal data to erase."""
    async with pool.acquire() as conn, conn.transaction():
        erased = await PersonalDataKeys().erase(conn, str(pupil_id))
        await roster_read_model.forget_pupil(conn, pupil_id)
    return erased
