"""Access applications end to end: a parent registered in identity, a school imported by the
gradebook from the registry topic, a staff member invited by an operator, real Kafka throughout."""

import asyncio
import time
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer

from applications.testing import Platform, application_body
from diary_events.applications import APPLICATIONS_EVENTS_TOPIC
from diary_events.registry import EnrolmentRecord, SchoolRecord
from diary_kernel.envelope import Envelope
from diary_kernel.testing import eventually
from identity.domain.accounts import Grant
from identity.testing import unique_email


async def parent(platform: Platform, who: str = "parent") -> str:
    tokens = await platform.identity.registered(unique_email(who))
    token: str = tokens["access_token"]
    return token


async def staff(platform: Platform, school_id: UUID | None = None, person_id: UUID | None = None) -> str:
    grant = Grant("school_staff", school_id or platform.school.school_id, person_id)
    if person_id is None:
        tokens = await platform.identity.invited(unique_email("staff"), grant)
    else:
        # identity checks the person against its roster copy, which fills from gradebook's events
        email = unique_email("staff")

        async def invited() -> dict[str, Any] | None:
            try:
                return await platform.identity.invited(email, grant)
            except Exception:
                return None

        tokens = await eventually(invited, timeout=30, interval=0.3)
    token: str = tokens["access_token"]
    return token


def petr(platform: Platform, **changes: Any) -> dict[str, Any]:
    """An application for pupil 0 of the tiny school, Иванов Пётр, as his mother types it."""
    school = platform.school
    fields: dict[str, Any] = {
        "surname": "Иванов",
        "first_name": "Пётр",
        "birth_date": school.year[0].replace(year=school.year[0].year - 11, month=3, day=10),
        "class_id": school.class_a,
    }
    school_id = changes.pop("school_id", school.school_id)
    fields.update(changes)
    return application_body(school_id, **fields)


async def filed(platform: Platform, token: str, body: dict[str, Any]) -> UUID:
    response = await platform.applications.file(token, body)
    assert response.status_code == 201, response.text
    return UUID(response.json()["application_id"])


async def seen(platform: Platform, token: str, application_id: UUID, **expected: Any) -> dict[str, Any]:
    """The application as its reader sees it, once the read model shows `expected`."""

    async def probe() -> dict[str, Any] | None:
        response = await platform.applications.get(f"/applications/{application_id}", token)
        if response.status_code != 200:
            return None
        body: dict[str, Any] = response.json()
        return body if all(body.get(k) == v for k, v in expected.items()) else None

    return await eventually(probe, timeout=20)


async def events_of(platform: Platform, application_id: UUID, *types: str) -> list[Envelope]:
    """The application's events on applications.events.v1, once every one of `types` is there."""
    consumer = AIOKafkaConsumer(
        platform.topic_prefix + APPLICATIONS_EVENTS_TOPIC,
        bootstrap_servers=platform.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Envelope] = []
    raw: list[bytes] = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for part in (await consumer.getmany(timeout_ms=200)).values():
                for record in part:
                    envelope = Envelope.from_kafka(record.headers, record.value)
                    if envelope.data.get("application_id") == str(application_id):
                        found.append(envelope)
                        raw.append(record.value)
            names = [e.type.split(".")[2] for e in found]
            if all(t in names for t in types):
                break
    finally:
        await consumer.stop()
    names = [e.type.split(".")[2] for e in found]
    assert all(t in names for t in types), names
    for body in raw:
        assert "Иванов".encode() not in body, "a child's name travelled in clear"
    return found


async def test_from_registration_to_the_parent_link(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother = await parent(platform)
    deputy = await staff(platform, person_id=school.maths_teacher)

    # The parent finds the school and class, reads the consent and files the application.
    schools = (await apps.get("/schools", mother)).json()
    assert str(school.school_id) in [s["school_id"] for s in schools]
    classes = (await apps.get(f"/schools/{school.school_id}/classes", mother)).json()
    assert {c["name"] for c in classes} == {"5А", "5Б"}
    consent = (await apps.get("/consent-texts/current", mother)).json()
    assert "152-ФЗ" in consent["text"]
    body = petr(platform, surname="  ИВАНОВ ", first_name="петр")
    response = await apps.file(mother, body)
    assert response.status_code == 201, response.text
    application_id = UUID(response.json()["application_id"])
    assert response.headers["location"] == f"/applications/{application_id}"

    # The school's queue shows it; the registry offers the right pupil; the checks are listed.
    async def queued() -> list[dict[str, Any]]:
        page = (await apps.get(f"/schools/{school.school_id}/applications", deputy)).json()
        return [i for i in page["items"] if i["application_id"] == str(application_id)]

    [item] = await eventually(queued, timeout=20)
    assert item["state"] == "pending"
    assert item["child"]["surname"] == "ИВАНОВ"
    candidates = (await apps.get(f"/applications/{application_id}/candidates", deputy)).json()
    best = candidates["candidates"][0]
    assert best["pupil_id"] == str(school.pupils[0])
    assert best["closeness"] in ("exact", "close")
    assert best["class_name"] == "5А"
    assert best["in_named_class"]
    assert any("Иванова Мария Петровна" in check for check in candidates["checks_in_person"])

    approved = await apps.post(
        f"/applications/{application_id}/approval", deputy, {"pupil_id": str(school.pupils[0])}
    )
    assert approved.status_code == 204, approved.text

    events = await events_of(
        platform,
        application_id,
        "ApplicationSubmitted",
        "ConsentGiven",
        "ApplicationApproved",
        "ParentLinked",
    )
    linked = next(e for e in events if e.type.endswith("ParentLinked.v1"))
    me = (await platform.identity.client.get("/me", headers={"Authorization": f"Bearer {mother}"})).json()
    assert linked.data["pupil_id"] == str(school.pupils[0])
    assert linked.data["parent_account_id"] == me["account_id"]
    assert linked.data["school_id"] == str(school.school_id)
    consent_given = next(e for e in events if e.type.endswith("ConsentGiven.v1"))
    assert consent_given.data["consent_version"] == consent["version"]

    # The parent sees the decision, and who made it and when.
    view = await seen(platform, mother, application_id, state="approved", linked=True)
    decided = next(entry for entry in view["audit_trail"] if entry["action"] == "approved")
    assert decided["actor_name"] == "Петрова Анна Сергеевна"
    assert decided["actor_position"] == "учитель математики"
    assert decided["at"]
    assert [a["action"] for a in view["audit_trail"]][-2:] == ["approved", "linked"]
    mine = (await apps.get("/applications", mother)).json()
    assert [a["application_id"] for a in mine] == [str(application_id)]


async def test_rejection_names_the_reason_and_a_comment_is_needed_for_other(platform: Platform) -> None:
    apps = platform.applications
    mother, deputy = await parent(platform), await staff(platform)
    application_id = await filed(platform, mother, petr(platform))
    await seen(platform, deputy, application_id, state="pending")

    no_comment = await apps.post(f"/applications/{application_id}/rejection", deputy, {"reason": "other"})
    assert no_comment.status_code == 422
    assert no_comment.headers["content-type"].startswith("application/problem+json")
    assert no_comment.json()["errors"][0]["field"] == "comment"
    unknown = await apps.post(f"/applications/{application_id}/rejection", deputy, {"reason": "tired"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"] == "reason"

    rejected = await apps.post(
        f"/applications/{application_id}/rejection",
        deputy,
        {"reason": "documents_not_presented", "comment": "Ждём вас с паспортом"},
    )
    assert rejected.status_code == 204
    view = await seen(platform, mother, application_id, state="rejected")
    assert view["rejection_reason_text"].startswith("Заявитель не явился")
    assert view["rejection_comment"] == "Ждём вас с паспортом"
    assert not view["linked"]
    await events_of(platform, application_id, "ApplicationRejected")
    # A refused parent may apply again (e.g. after coming with the passport).
    assert (await apps.file(mother, petr(platform))).status_code == 201


async def test_withdrawal_and_who_may_touch_an_application(platform: Platform) -> None:
    apps = platform.applications
    mother, stranger, deputy = await parent(platform), await parent(platform, "other"), await staff(platform)
    application_id = await filed(platform, mother, petr(platform))

    assert (await apps.post(f"/applications/{application_id}/withdrawal", stranger)).status_code == 404
    assert (await apps.get(f"/applications/{application_id}", stranger)).status_code == 404
    assert (await apps.post(f"/applications/{application_id}/withdrawal", mother)).status_code == 204
    again = await apps.post(f"/applications/{application_id}/withdrawal", mother)
    assert again.status_code == 409
    late = await apps.post(
        f"/applications/{application_id}/approval", deputy, {"pupil_id": str(platform.school.pupils[0])}
    )
    assert late.status_code == 409
    await events_of(platform, application_id, "ApplicationWithdrawn")
    await seen(platform, mother, application_id, state="withdrawn")

    no_token = await apps.client.post("/applications", json=petr(platform))
    assert no_token.status_code == 401
    assert (await apps.file(deputy, petr(platform))).status_code == 403  # staff are not parents here


async def test_duplicates_are_refused_and_a_pupil_may_have_two_guardians(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother, father, deputy = await parent(platform), await parent(platform, "father"), await staff(platform)
    application_id = await filed(platform, mother, petr(platform))

    duplicate = await apps.file(mother, petr(platform, surname="иванов", first_name="ПЕТР"))
    assert duplicate.status_code == 409
    assert duplicate.json()["errors"][0]["field"] == "child"
    assert "open application" in duplicate.json()["detail"]

    await apps.post(f"/applications/{application_id}/approval", deputy, {"pupil_id": str(school.pupils[0])})
    linked_already = await apps.file(mother, petr(platform))
    assert linked_already.status_code == 409
    assert "access" in linked_already.json()["detail"]
    # Even spelled with an extra patronymic: the registry pupil she is linked to has this name.
    assert (await apps.file(mother, petr(platform, patronymic="Сергеевич"))).status_code == 409

    fathers = await filed(platform, father, petr(platform, applicant=("Иванов", "Сергей", "Павлович")))
    await seen(platform, deputy, fathers, state="pending")
    approved = await apps.post(
        f"/applications/{fathers}/approval", deputy, {"pupil_id": str(school.pupils[0])}
    )
    assert approved.status_code == 204
    await events_of(platform, fathers, "ParentLinked")

    # A pupil who is not in this school cannot be linked.
    sister = await filed(platform, mother, petr(platform, first_name="Анна"))
    wrong = await apps.post(f"/applications/{sister}/approval", deputy, {"pupil_id": str(uuid4())})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "pupil_id"


async def test_staff_of_another_school_see_nothing(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother = await parent(platform)
    outsider = await staff(platform, school_id=uuid4())
    application_id = await filed(platform, mother, petr(platform))
    await seen(platform, mother, application_id, state="pending")

    assert (await apps.get(f"/schools/{school.school_id}/applications", outsider)).status_code == 403
    for path in (f"/applications/{application_id}", f"/applications/{application_id}/candidates"):
        assert (await apps.get(path, outsider)).status_code == 404
    for path, body in (
        (f"/applications/{application_id}/approval", {"pupil_id": str(school.pupils[0])}),
        (f"/applications/{application_id}/rejection", {"reason": "pupil_not_found"}),
        (f"/applications/{application_id}/link-revocation", None),
    ):
        assert (await apps.post(path, outsider, body)).status_code == 404
    assert (await apps.get(f"/applications/{application_id}", mother)).json()["state"] == "pending"


async def test_withdrawing_consent_or_revoking_ends_the_link(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother, father, deputy = await parent(platform), await parent(platform, "father"), await staff(platform)
    ids = [await filed(platform, who, petr(platform)) for who in (mother, father)]
    for application_id in ids:
        await apps.post(
            f"/applications/{application_id}/approval", deputy, {"pupil_id": str(school.pupils[0])}
        )

    assert (await apps.post(f"/applications/{ids[0]}/consent-withdrawal", mother)).status_code == 204
    events = await events_of(platform, ids[0], "ConsentWithdrawn", "ParentUnlinked")
    unlinked = next(e for e in events if e.type.endswith("ParentUnlinked.v1"))
    assert unlinked.data["reason"] == "consent_withdrawn"
    view = await seen(platform, mother, ids[0], linked=False, unlink_reason="consent_withdrawn")
    assert view["unlink_reason_text"].startswith("Согласие")
    assert (await apps.post(f"/applications/{ids[0]}/consent-withdrawal", mother)).status_code == 409

    assert (await apps.post(f"/applications/{ids[1]}/link-revocation", deputy)).status_code == 204
    revoked = await events_of(platform, ids[1], "ParentUnlinked")
    assert revoked[-1].data["reason"] == "revoked_by_school"
    assert (await apps.post(f"/applications/{ids[1]}/link-revocation", deputy)).status_code == 409
    # With the link gone the mother may apply again.
    assert (await apps.file(mother, petr(platform))).status_code == 201


async def test_a_pupil_who_moves_to_another_school_is_unlinked_there(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother, deputy = await parent(platform), await staff(platform)
    application_id = await filed(platform, mother, petr(platform))
    await apps.post(f"/applications/{application_id}/approval", deputy, {"pupil_id": str(school.pupils[0])})
    await events_of(platform, application_id, "ParentLinked")

    # The registry: Пётр left for another school, where he is enrolled anew.
    new_school = uuid4()
    starts, _ = school.year
    await platform.publish(
        [
            EnrolmentRecord(
                school_id=school.school_id,
                revision=2,
                education_id=school.educations[0],
                pupil_id=school.pupils[0],
                class_id=school.class_a,
                enrolled_on=starts,
                left_on=starts.replace(month=11, day=1),
                leaving_reason="transferred",
            ),
            SchoolRecord(
                school_id=new_school,
                revision=1,
                district_id=school.district_id,
                district_name="Петроградский район",
                name="ГБОУ гимназия № 610",
                short_name="Гимназия № 610",
            ),
        ]
    )
    events = await events_of(platform, application_id, "ParentUnlinked")
    assert events[-1].data["reason"] == "pupil_left_school"
    view = await seen(platform, mother, application_id, linked=False, unlink_reason="pupil_left_school")
    assert view["unlink_reason"] == "pupil_left_school"
    assert [a["actor_role"] for a in view["audit_trail"]][-1] == "system"

    # The new school is open for an application; the old school can no longer link him.
    await eventually(lambda: _school_listed(platform, mother, new_school), timeout=20)
    assert (await apps.file(mother, petr(platform, school_id=new_school, class_id=None))).status_code == 201
    father = await parent(platform, "father")
    again = await filed(platform, father, petr(platform))
    refused = await apps.post(f"/applications/{again}/approval", deputy, {"pupil_id": str(school.pupils[0])})
    assert refused.status_code == 422


async def _school_listed(platform: Platform, token: str, school_id: UUID) -> bool:
    schools = (await platform.applications.get("/schools", token)).json()
    return str(school_id) in [s["school_id"] for s in schools]


async def test_concurrent_approve_and_reject_one_wins(platform: Platform) -> None:
    apps, school = platform.applications, platform.school
    mother, deputy, colleague = await parent(platform), await staff(platform), await staff(platform)
    for _ in range(3):
        application_id = await filed(platform, mother, petr(platform))
        approve = apps.post(
            f"/applications/{application_id}/approval", deputy, {"pupil_id": str(school.pupils[0])}
        )
        reject = apps.post(
            f"/applications/{application_id}/rejection", colleague, {"reason": "pupil_not_found"}
        )
        outcomes = await asyncio.gather(approve, reject)
        statuses = sorted(r.status_code for r in outcomes)
        assert statuses == [204, 409], [r.text for r in outcomes]
        winner = "ApplicationApproved" if outcomes[0].status_code == 204 else "ApplicationRejected"
        await events_of(platform, application_id, winner)
        await asyncio.sleep(1.0)  # a second decision, had one slipped through, would be published by now
        events = await events_of(platform, application_id, winner)
        decisions = [e.type for e in events if "Approved" in e.type or "Rejected" in e.type]
        assert len(decisions) == 1, decisions
        if outcomes[0].status_code == 204:  # approved: end the link so the next round may apply again
            await apps.post(f"/applications/{application_id}/link-revocation", deputy)
