"""`applications demo`: the demo parent gets access to the demo pupil's diary the way a real
parent does — through the APIs and the mail.

An operator (made by `identity invite-operator`) invites the demo school's deputy head as school
staff; the demo parent (`identity demo`) files an application for the demo pupil of the
gradebook's demo school; the deputy head finds the pupil among the registry candidates and
approves. Every step reads the letters from the development mail sink. Re-running changes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from applications.domain.consent import CURRENT_CONSENT

DEMO_PARENT = "ivanova.parent@example.org"
DEMO_OPERATOR = "operator@diary.local"
DEMO_STAFF = "deputy.head.school1@example.org"
DEMO_PASSWORD = "Белые ночи над Невой 1703"


@dataclass(frozen=True)
class DemoPupil:
    school_id: str
    class_id: str
    pupil_id: str
    surname: str
    first_name: str
    patronymic: str
    birth_date: date
    deputy_head_id: str


def demo_pupil() -> DemoPupil:
    """The pupil whose diary `make run` prints, from the gradebook's demo generator."""
    from gradebook.demo.school import demo_education_id, demo_generator  # dev-only dependency

    generator = demo_generator()
    school = generator.school(0)
    education = demo_education_id(generator, school)
    enrolment = next(e for e in school.enrolments if str(e.education_id) == education)
    person = enrolment.pupil.person
    return DemoPupil(
        school_id=str(school.school_id),
        class_id=str(enrolment.class_id),
        pupil_id=str(enrolment.pupil.pupil_id),
        surname=person.surname,
        first_name=person.first_name,
        patronymic=person.patronymic,
        birth_date=enrolment.pupil.birth_date,
        deputy_head_id=str(school.deputy_head.teacher_id),
    )


async def _signed_in(identity: httpx.AsyncClient, mailbox_dir: Path, address: str) -> str:
    """An access token for `address`: by password, or by accepting its invitation letter."""
    from diary_devinfra.smtp_sink import Mailbox  # dev-only dependency

    login = await identity.post("/sessions", json={"email": address, "password": DEMO_PASSWORD})
    if login.status_code == 201:
        return str(login.json()["access_token"])
    letter = await Mailbox(mailbox_dir).wait_for(address, subject_contains="Приглашение", timeout=30)
    link = next(line for line in letter.get_content().splitlines() if "token=" in line)
    token = parse_qs(urlparse(link.strip()).query)["token"][0]
    accepted = await identity.post(
        "/registrations/confirmation", json={"token": token, "password": DEMO_PASSWORD}
    )
    accepted.raise_for_status()
    return str(accepted.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _until(probe: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if result := await probe():
            return result
        await asyncio.sleep(0.3)
    raise SystemExit(f"demo: {what} did not happen within {timeout:.0f} s")


async def load(applications_url: str, identity_url: str, mailbox_dir: Path) -> str:
    """Link the demo parent to the demo pupil; returns the application id."""
    pupil = demo_pupil()
    async with (
        httpx.AsyncClient(base_url=identity_url, timeout=30) as identity,
        httpx.AsyncClient(base_url=applications_url, timeout=30) as applications,
    ):
        parent = _bearer(
            (await identity.post("/sessions", json={"email": DEMO_PARENT, "password": DEMO_PASSWORD})).json()[
                "access_token"
            ]
        )
        for mine in (await applications.get("/applications", headers=parent)).json():
            if mine["pupil_id"] == pupil.pupil_id and mine["linked"]:
                return str(mine["application_id"])

        operator = _bearer(await _signed_in(identity, mailbox_dir, DEMO_OPERATOR))
        invitation = {
            "email": DEMO_STAFF,
            "role": "school_staff",
            "school_id": pupil.school_id,
            "person_id": pupil.deputy_head_id,
        }

        async def invited() -> bool:
            # identity learns of the deputy head from the roster events a moment after the import
            response = await identity.post("/invitations", json=invitation, headers=operator)
            return response.status_code == 201

        await _until(invited, "inviting the deputy head")
        staff = _bearer(await _signed_in(identity, mailbox_dir, DEMO_STAFF))

        async def school_listed() -> bool:
            schools = (await applications.get("/schools", headers=parent)).json()
            return any(s["school_id"] == pupil.school_id for s in schools)

        await _until(school_listed, "the demo school reaching the applications service")
        filed = await applications.post(
            "/applications",
            headers=parent,
            json={
                "child": {
                    "surname": pupil.surname,
                    "first_name": pupil.first_name,
                    "patronymic": pupil.patronymic,
                    "birth_date": pupil.birth_date.isoformat(),
                },
                "applicant": {"surname": "Иванова", "first_name": "Мария", "patronymic": "Петровна"},
                "relation": "parent",
                "school_id": pupil.school_id,
                "class_id": pupil.class_id,
                "consent": {"version": CURRENT_CONSENT.version, "accepted": True},
            },
        )
        if filed.status_code == 409:  # pending from an interrupted run: take that one
            pending = [
                a
                for a in (await applications.get("/applications", headers=parent)).json()
                if a["state"] == "pending" and a["school_id"] == pupil.school_id
            ]
            application_id = pending[0]["application_id"]
        else:
            filed.raise_for_status()
            application_id = filed.json()["application_id"]

        async def candidates() -> list[dict[str, Any]]:
            response = await applications.get(f"/applications/{application_id}/candidates", headers=staff)
            found: list[dict[str, Any]] = response.json()["candidates"] if response.status_code == 200 else []
            return found

        best = (await _until(candidates, "the application reaching the school's queue"))[0]
        if best["pupil_id"] != pupil.pupil_id:
            raise SystemExit("demo: the registry's best candidate is not the demo pupil")
        approved = await applications.post(
            f"/applications/{application_id}/approval", headers=staff, json={"pupil_id": pupil.pupil_id}
        )
        approved.raise_for_status()
        return str(application_id)
