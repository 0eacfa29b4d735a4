"""People's names as parents type them and as the registry holds them, made comparable.

A parent writes «ЁЛКИНА  анна-мария», the registry holds «Ёлкина Анна Мария»: case, ё/е, extra
spaces and hyphens must not keep the school from finding the child. Comparison keys are built
from the normalised parts only; what people see keeps the spelling they gave.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

_DASHES = re.compile(r"[\-\u2010\u2011\u2012\u2013\u2014\u2212]")
_SPACES = re.compile(r"\s+")


def normalise_name(part: str | None) -> str:
    """Lower case, ё as е, hyphens as spaces, single spaces, trimmed; '' for no name."""
    if not part:
        return ""
    text = part.casefold().replace("ё", "е")
    text = _DASHES.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def clean_name(part: str | None) -> str | None:
    """The spelling to keep: trimmed, inner spaces single, hyphens without spaces around them."""
    if part is None:
        return None
    text = _SPACES.sub(" ", part).strip()
    text = re.sub(r"\s*-\s*", "-", text)
    return text or None


@dataclass(frozen=True)
class PersonName:
    surname: str
    first_name: str
    patronymic: str | None = None

    @property
    def display(self) -> str:
        return " ".join(p for p in (self.surname, self.first_name, self.patronymic) if p)

    def normalised(self) -> tuple[str, str, str]:
        return (
            normalise_name(self.surname),
            normalise_name(self.first_name),
            normalise_name(self.patronymic),
        )


@dataclass(frozen=True)
class Child:
    """The child as the parent describes them in the application."""

    name: PersonName
    birth_date: date

    def key(self) -> str:
        """Same child, same key: what makes a second open application for them a duplicate.

        A hash, so the index that enforces uniqueness holds no name of a minor.
        """
        surname, first_name, patronymic = self.name.normalised()
        text = "|".join((surname, first_name, patronymic, self.birth_date.isoformat()))
        return hashlib.sha256(text.encode()).hexdigest()
