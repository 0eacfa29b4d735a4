"""Which passwords an account may have: long enough, not common, not guessable from the login.

Strength is judged by zxcvbn (dictionaries of common passwords, names and words; keyboard
patterns, sequences, dates) plus a short list of passwords common in Russian, which the
English-language dictionaries miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from zxcvbn import zxcvbn

from identity.domain.accounts import IdentityError

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_SCORE = 3
"""zxcvbn's 0..4 scale; 3 is "safely unguessable: moderate protection from offline attacks"."""


@cache
def _russian_common() -> frozenset[str]:
    text = resources.files("identity.domain").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = MIN_LENGTH
    min_score: int = MIN_SCORE

    def check(self, password: str, *, email: str) -> None:
        """Refuse a weak password with a reason the person can act on (field `password`)."""
        if len(password) < self.min_length:
            raise IdentityError(f"the password needs at least {self.min_length} characters", field="password")
        if len(password) > MAX_LENGTH:
            raise IdentityError(f"the password may have at most {MAX_LENGTH} characters", field="password")
        if password.strip() != password:
            raise IdentityError("the password must not start or end with a space", field="password")
        folded = password.casefold()
        local_part = email.split("@", 1)[0].casefold()
        if folded in _russian_common():
            raise IdentityError("this password is among the most common ones", field="password")
        if len(local_part) >= 4 and local_part in folded:
            raise IdentityError("the password must not contain your e-mail address", field="password")
        verdict = zxcvbn(password[:100], user_inputs=[email, local_part])
        if verdict["score"] < self.min_score:
            feedback = verdict.get("feedback") or {}
            hint = feedback.get("warning") or "add more words or characters that are hard to guess"
            raise IdentityError(f"the password is too easy to guess: {hint}", field="password")
