from datetime import date
from uuid import uuid4

import pytest

from applications.domain.matching import RegistryPupil, candidates, checks_in_person
from applications.domain.names import Child, PersonName, clean_name, normalise_name


@pytest.mark.parametrize(
    ("typed", "held"),
    [
        ("ЁЛКИНА", "Елкина"),
        ("  Анна   Мария ", "анна-мария"),
        ("Римский - Корсаков", "Римский-Корсаков"),
        ("Салтыков–Щедрин", "салтыков щедрин"),
        ("Пётр", "ПЕТР"),
    ],
)
def test_names_that_differ_only_in_spelling_compare_equal(typed: str, held: str) -> None:
    assert normalise_name(typed) == normalise_name(held)


def test_different_names_stay_different() -> None:
    assert normalise_name("Иванов") != normalise_name("Иванова")


def test_the_spelling_people_see_is_tidied_not_rewritten() -> None:
    assert clean_name("  Римский -  Корсаков ") == "Римский-Корсаков"
    assert clean_name("Пётр") == "Пётр"
    assert clean_name("   ") is None


def test_the_same_child_typed_differently_is_the_same_key() -> None:
    born = date(2014, 3, 10)
    a = Child(PersonName("Иванов", "Пётр", "Сергеевич"), born)
    b = Child(PersonName("ИВАНОВ ", "петр", "сергеевич"), born)
    assert a.key() == b.key()
    assert a.key() != Child(PersonName("Иванов", "Пётр", "Сергеевич"), date(2014, 3, 11)).key()
    assert "Иванов" not in a.key()


def _pupil(surname: str, first: str, born: date, patronymic: str | None = None) -> RegistryPupil:
    return RegistryPupil(uuid4(), PersonName(surname, first, patronymic), born, uuid4(), "5А")


def test_candidates_rank_the_exact_match_first_and_say_what_agrees() -> None:
    born = date(2014, 3, 10)
    exact = _pupil("Иванов", "Пётр", born, "Сергеевич")
    twin = _pupil("Иванов", "Павел", born)
    namesake = _pupil("Иванов", "Пётр", date(2013, 1, 1))
    stranger = _pupil("Кузнецова", "Мария", date(2013, 1, 1))
    child = Child(PersonName("иванов", "петр", "Сергеевич"), born)

    found = candidates(child, [stranger, namesake, twin, exact], named_class=None)

    assert [c.pupil for c in found] == [exact, namesake, twin]
    assert found[0].closeness == "exact"
    assert found[1].closeness == "partial"
    assert not found[1].birth_date_matches
    assert found[2].surname_matches
    assert found[2].birth_date_matches
    assert not found[2].first_name_matches


def test_checks_in_person_ask_for_a_guardians_papers_only_for_a_guardian() -> None:
    child = Child(PersonName("Иванов", "Пётр"), date(2014, 3, 10))
    applicant = PersonName("Иванова", "Мария", "Петровна")
    as_parent = checks_in_person(applicant, "parent", child)
    as_guardian = checks_in_person(applicant, "guardian", child)
    assert any("Иванова Мария Петровна" in line for line in as_parent)
    assert any("опекун" in line for line in as_guardian)
    assert not any("опекун" in line for line in as_parent)
