"""Which registry pupils an application may be about, best first, and what to check in person.

The school decides, not the matcher: it lists the pupils of the school that share enough with
what the parent wrote, says which facts agree, and the staff member confirms one of them after
seeing the documents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal
from uuid import UUID

from applications.domain.names import Child, PersonName, normalise_name

Closeness = Literal["exact", "close", "partial"]


@dataclass(frozen=True)
class RegistryPupil:
    pupil_id: UUID
    name: PersonName
    birth_date: date
    class_id: UUID
    class_name: str


@dataclass(frozen=True)
class Candidate:
    pupil: RegistryPupil
    surname_matches: bool
    first_name_matches: bool
    patronymic_matches: bool
    birth_date_matches: bool
    in_named_class: bool

    @property
    def score(self) -> int:
        return (
            4 * self.surname_matches
            + 5 * self.first_name_matches  # a typo in a birth date is likelier than a twin
            + 1 * self.patronymic_matches
            + 4 * self.birth_date_matches
            + 1 * self.in_named_class
        )

    @property
    def closeness(self) -> Closeness:
        names = self.surname_matches and self.first_name_matches
        if names and self.birth_date_matches and self.patronymic_matches:
            return "exact"
        if names and self.birth_date_matches:
            return "close"
        return "partial"


def _same_patronymic(a: str | None, b: str | None) -> bool:
    return normalise_name(a) == normalise_name(b)


def candidates(child: Child, pupils: list[RegistryPupil], named_class: UUID | None) -> list[Candidate]:
    """Pupils sharing at least two of surname, first name and birth date with the child, best first."""
    surname, first_name, _ = child.name.normalised()
    found = []
    for pupil in pupils:
        their_surname, their_first, _ = pupil.name.normalised()
        candidate = Candidate(
            pupil=pupil,
            surname_matches=their_surname == surname,
            first_name_matches=their_first == first_name,
            patronymic_matches=_same_patronymic(pupil.name.patronymic, child.name.patronymic),
            birth_date_matches=pupil.birth_date == child.birth_date,
            in_named_class=named_class is not None and pupil.class_id == named_class,
        )
        agreeing = candidate.surname_matches + candidate.first_name_matches + candidate.birth_date_matches
        if agreeing >= 2:
            found.append(candidate)
    return sorted(found, key=lambda c: (-c.score, c.pupil.name.display, str(c.pupil.pupil_id)))


def checks_in_person(applicant: PersonName, relation: str, child: Child) -> list[str]:
    """What the school's responsible person verifies before deciding (Russian, for the staff page)."""
    checks = [
        f"Паспорт заявителя: фамилия, имя и отчество совпадают с «{applicant.display}».",
        f"Ребёнок: «{child.name.display}», дата рождения {child.birth_date:%d.%m.%Y} — "
        "совпадает с выбранным учеником из реестра школы.",
    ]
    if relation == "guardian":
        checks.append("Документ о назначении опекуна (попечителя) или иной документ законного представителя.")
    else:
        checks.append("Свидетельство о рождении ребёнка (или иной документ), где заявитель указан родителем.")
    checks.append(
        "Согласие на обработку персональных данных дано в заявлении; паспортные данные не вносятся."
    )
    return checks
