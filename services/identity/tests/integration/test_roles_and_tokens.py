"""Roles from an operator's grant and the roster; what the services accept as an access token."""

import time
import uuid
from datetime import UTC, datetime

import jwt
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric import rsa

from diary_events.base import DomainEvent
from diary_events.gradebook import GRADEBOOK_EVENTS_TOPIC, TeacherDismissed, TeacherRegistered
from diary_events.identity import IDENTITY_EVENTS_TOPIC
from diary_kernel.envelope import Envelope
from diary_kernel.testing import bearer, eventually, read_topic
from identity.domain.accounts import Grant
from identity.testing import CONSOLE, IdentityUnderTest, unique_email


async def publish_roster(identity: IdentityUnderTest, *events: DomainEvent) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=identity.bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            envelope = Envelope.wrap(event, source="/diary/gradebook")
            await producer.send_and_wait(
                identity.topic_prefix + GRADEBOOK_EVENTS_TOPIC,
                envelope.body(),
                key=str(event.teacher_id).encode(),  # type: ignore[attr-defined]
                headers=envelope.kafka_headers(),
            )
    finally:
        await producer.stop()


async def test_roles_come_from_an_operator_and_end_with_the_roster(identity: IdentityUnderTest) -> None:
    school, other_school, teacher_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    operator_email = unique_email("operator")
    await identity.service.invite(CONSOLE, operator_email, Grant("operator"))
    operator = await identity.accept_invitation(operator_email)

    teacher_email = unique_email("teacher")
    invitation = {
        "email": teacher_email,
        "role": "teacher",
        "school_id": str(school),
        "person_id": str(teacher_id),
    }
    not_on_roster = await identity.client.post(
        "/invitations", json=invitation, headers=bearer(operator["access_token"])
    )
    assert not_on_roster.status_code == 400
    assert not_on_roster.json()["errors"][0]["field"] == "person_id"

    await publish_roster(
        identity,
        TeacherRegistered(
            teacher_id=teacher_id,
            school_id=school,
            surname="Соколова",
            first_name="Анна",
            position="учитель математики",
        ),
    )

    async def invited() -> bool:
        response = await identity.client.post(
            "/invitations", json=invitation, headers=bearer(operator["access_token"])
        )
        return response.status_code == 201

    await eventually(invited, timeout=30, interval=0.3)
    teacher = await identity.accept_invitation(teacher_email)
    me = (await identity.client.get("/me", headers=bearer(teacher["access_token"]))).json()
    assert me["roles"] == [{"role": "teacher", "school_id": str(school), "person_id": str(teacher_id)}]
    assert me["registered_by"] == "invitation"

    # A school's staff grant roles in their own school only; parents grant nothing.
    staff_email = unique_email("staff")
    await identity.service.invite(CONSOLE, staff_email, Grant("school_staff", other_school))
    staff = await identity.accept_invitation(staff_email)
    foreign = await identity.client.post(
        "/invitations", json={**invitation, "email": unique_email()}, headers=bearer(staff["access_token"])
    )
    assert foreign.status_code == 403
    parent = await identity.registered(unique_email())
    by_parent = await identity.client.post(
        "/invitations",
        json={"email": unique_email(), "role": "operator"},
        headers=bearer(parent["access_token"]),
    )
    assert by_parent.status_code == 403

    # The registry dismisses the teacher: the role ends and the next token no longer carries it.
    await publish_roster(identity, TeacherDismissed(teacher_id=teacher_id, school_id=school))

    async def role_gone() -> bool:
        refreshed = await identity.client.post(
            "/sessions/refresh", json={"refresh_token": teacher["refresh_token"]}
        )
        assert refreshed.status_code == 200
        teacher["refresh_token"] = refreshed.json()["refresh_token"]
        me = (await identity.client.get("/me", headers=bearer(refreshed.json()["access_token"]))).json()
        return me["roles"] == []

    await eventually(role_gone, timeout=30, interval=0.3)

    async def revocations() -> list[tuple[str, str]]:
        records = await read_topic(
            identity.bootstrap, identity.topic_prefix + IDENTITY_EVENTS_TOPIC, expected=1
        )
        return [
            (e.data["account_id"], e.data["reason"])
            for e in (Envelope.from_kafka(r.headers, r.value) for r in records)
            if e.type == "diary.identity.RoleRevoked.v1"
        ]

    assert await eventually(revocations, timeout=30, interval=0.5) == [(teacher["account_id"], "left_school")]


async def test_only_tokens_signed_by_the_current_keys_open_the_account(identity: IdentityUnderTest) -> None:
    tokens = await identity.registered(unique_email())
    good = await identity.client.get("/me", headers=bearer(tokens["access_token"]))
    assert good.status_code == 200
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    header = jwt.get_unverified_header(tokens["access_token"])

    async with identity.pool.acquire() as conn:
        key = await identity.service.keys.current(conn, datetime.now(UTC))
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        "alg none": jwt.encode(claims, None, algorithm="none", headers={"kid": header["kid"]}),
        "wrong key": jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": header["kid"]}),
        "expired": jwt.encode(
            {**claims, "exp": int(time.time()) - 300},
            key.private_key,
            algorithm="RS256",
            headers={"kid": key.kid},
        ),
        "another audience": jwt.encode(
            {**claims, "aud": "elsewhere"}, key.private_key, algorithm="RS256", headers={"kid": key.kid}
        ),
    }
    for why, token in forged.items():
        refused = await identity.client.get("/me", headers=bearer(token))
        assert refused.status_code == 401, why
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await identity.client.get("/me")).status_code == 401


async def test_a_rotated_key_is_published_before_it_signs_and_the_old_one_stays(identity_factory) -> None:  # type: ignore[no-untyped-def]
    identity = await identity_factory(key_publish_ahead_seconds=0)
    email = unique_email()
    before = await identity.registered(email)
    old_kid = jwt.get_unverified_header(before["access_token"])["kid"]
    async with identity.pool.acquire() as conn:
        new_kid = await identity.service.keys.rotate(conn, datetime.now(UTC))
    published = (await identity.client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in published["keys"]} == {old_kid, new_kid}
    assert all("d" not in k for k in published["keys"])  # public halves only

    after = (await identity.login(email)).json()
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    for tokens in (before, after):
        assert (await identity.client.get("/me", headers=bearer(tokens["access_token"]))).status_code == 200
