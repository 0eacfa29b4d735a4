"""E-mail addresses as logins: one normal form, so that the same person cannot register twice."""

from __future__ import annotations

import re

from identity.domain.accounts import IdentityError

_ADDRESS = re.compile(r"^[^@\s]{1,64}@[^@\s.][^@\s]*\.[^@\s.]{2,}$")


def normalise_email(raw: str) -> str:
    """Trim and lower-case the whole address (mail systems here treat the local part alike)."""
    email = raw.strip().lower()
    if len(email) > 254 or not _ADDRESS.match(email) or ".." in email:
        raise IdentityError("not an e-mail address", field="email")
    return email
