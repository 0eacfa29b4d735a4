"""Registration by e-mail, login, sessions, password reset, lock-out: the parent's whole path."""

import asyncio

from diary_events.identity import IDENTITY_EVENTS_TOPIC
from diary_kernel.access_tokens import AccessTokenVerifier, RemoteKeySet
from diary_kernel.envelope import Envelope
from diary_kernel.testing import bearer, eventually, read_topic
from identity.testing import STRONG_PASSWORD, IdentityUnderTest, link_token, unique_email


async def account_events(identity: IdentityUnderTest, account_id: str, expected: int) -> list[Envelope]:
    records = await read_topic(
        identity.bootstrap, identity.topic_prefix + IDENTITY_EVENTS_TOPIC, expected=expected, timeout=30
    )
    envelopes = [Envelope.from_kafka(r.headers, r.value) for r in records]
    return [e for e in envelopes if e.data.get("account_id") == account_id]


async def test_register_confirm_set_password_then_log_in(identity: IdentityUnderTest) -> None:
    email = unique_email()
    accepted = await identity.client.post("/registrations", json={"email": email.upper()})
    assert accepted.status_code == 202
    letter = await identity.letter(email, "Подтверждение регистрации")
    token = link_token(letter)
    assert f"http://diary.test/registration/confirm?token={token}" in letter.get_content()

    shown = await identity.client.get("/registrations/confirmation", params={"token": token})
    assert shown.json() == {"email": email}

    weak = await identity.client.post(
        "/registrations/confirmation", json={"token": token, "password": "qwerty123"}
    )
    assert weak.status_code == 400
    assert weak.headers["content-type"] == "application/problem+json"
    assert weak.json()["errors"][0]["field"] == "password"

    confirmed = await identity.client.post(
        "/registrations/confirmation", json={"token": token, "password": STRONG_PASSWORD}
    )
    assert confirmed.status_code == 201
    assert confirmed.headers["cache-control"] == "no-store"
    tokens = confirmed.json()

    # Any service checks the token against the published keys, without calling identity.
    verifier = AccessTokenVerifier(
        RemoteKeySet.from_url("http://identity.test/.well-known/jwks.json", identity.client),
        issuer="http://identity.test",
        audience="diary",
    )
    claims = await verifier.verify(tokens["access_token"])
    assert str(claims.account_id) == tokens["account_id"]
    assert [r.role for r in claims.roles] == ["parent"]

    me = await identity.client.get("/me", headers=bearer(tokens["access_token"]))
    assert me.json()["email"] == email
    assert me.json()["email_confirmed"] is True

    reused = await identity.client.post(
        "/registrations/confirmation", json={"token": token, "password": STRONG_PASSWORD}
    )
    assert reused.status_code == 400
    assert reused.json()["errors"][0]["field"] == "token"

    logged_in = await identity.login(email.title())
    assert logged_in.status_code == 201
    assert logged_in.json()["account_id"] == tokens["account_id"]
    wrong = await identity.login(email, "Не тот пароль совсем")
    assert wrong.status_code == 401

    events = await account_events(identity, tokens["account_id"], expected=4)
    assert [e.type.split(".")[2] for e in events] == [
        "AccountRegistered",
        "RoleGranted",
        "EmailConfirmed",
        "PasswordSet",
    ]
    # No secret reaches the topic: neither the password, nor its hash, nor the link.
    async with identity.pool.acquire() as conn:
        stored_hash = await conn.fetchval("SELECT password_hash FROM credentials")
    assert stored_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    everything = b"".join(e.body() + b"".join(value for _, value in e.kafka_headers()) for e in events)
    for secret in (STRONG_PASSWORD, token, stored_hash, tokens["refresh_token"]):
        assert secret.encode() not in everything


async def test_registration_and_reset_answers_do_not_reveal_registered_addresses(
    identity: IdentityUnderTest,
) -> None:
    known = unique_email()
    await identity.registered(known)
    unknown = unique_email()
    before = identity.letters_to(known)

    answers = [
        await identity.client.post(path, json={"email": email})
        for email in (known, unknown)
        for path in ("/password-resets", "/registrations")
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1

    # The owner of the known address is told, with no link that would do anything.
    warning = await identity.letter(known, "Попытка регистрации", after=before)
    assert "token=" not in warning.get_content()
    reset = await identity.letter(known, "Восстановление пароля", after=before)
    assert link_token(reset)
    # The unknown address got nothing for the reset, then a confirmation link for the registration.
    await identity.letter(unknown, "Подтверждение регистрации")
    await asyncio.sleep(0.5)
    assert [m["Subject"] for m in identity.sink.mailbox.to(unknown)] == [
        "Подтверждение регистрации на портале «Петербургское образование»"
    ]


async def test_expired_and_forged_links_are_refused(identity: IdentityUnderTest) -> None:
    email = unique_email()
    await identity.client.post("/registrations", json={"email": email})
    token = link_token(await identity.letter(email, "Подтверждение"))
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    refused = await identity.client.post(
        "/registrations/confirmation", json={"token": forged, "password": STRONG_PASSWORD}
    )
    assert refused.status_code == 400
    async with identity.pool.acquire() as conn:
        await conn.execute("UPDATE one_time_links SET expires_at = now() - interval '1 second'")
    expired = await identity.client.post(
        "/registrations/confirmation", json={"token": token, "password": STRONG_PASSWORD}
    )
    assert expired.status_code == 400
    assert expired.json()["errors"][0]["field"] == "token"
    # A new registration request sends a new link, and the old one stays dead.
    await identity.client.post("/registrations", json={"email": email})
    fresh = link_token(await identity.letter(email, "Подтверждение", after=1))
    assert fresh != token
    ok = await identity.client.post(
        "/registrations/confirmation", json={"token": fresh, "password": STRONG_PASSWORD}
    )
    assert ok.status_code == 201


async def test_password_reset_replaces_the_password_and_ends_every_session(
    identity: IdentityUnderTest,
) -> None:
    email = unique_email()
    first = await identity.registered(email)
    second = (await identity.login(email)).json()
    before = identity.letters_to(email)

    assert (await identity.client.post("/password-resets", json={"email": email})).status_code == 202
    token = link_token(await identity.letter(email, "Восстановление пароля", after=before))
    new_password = "Разводные мосты в два часа"
    done = await identity.client.post(
        "/password-resets/completion", json={"token": token, "password": new_password}
    )
    assert done.status_code == 201

    for old in (first, second):
        refused = await identity.client.post(
            "/sessions/refresh", json={"refresh_token": old["refresh_token"]}
        )
        assert refused.status_code == 401
    assert (await identity.login(email)).status_code == 401
    assert (await identity.login(email, new_password)).status_code == 201
    again = await identity.client.post(
        "/password-resets/completion", json={"token": token, "password": new_password}
    )
    assert again.status_code == 400

    events = await account_events(identity, first["account_id"], expected=6)
    completed = [e for e in events if e.type.endswith("PasswordResetCompleted.v1")]
    assert completed[0].data["sessions_revoked"] == 2


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_session(identity: IdentityUnderTest) -> None:
    email = unique_email()
    tokens = await identity.registered(email)
    rotated = await identity.client.post("/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200
    newer = rotated.json()
    assert newer["refresh_token"] != tokens["refresh_token"]

    # The spent token shows up again: someone copied it. Both holders are logged out.
    stolen = await identity.client.post("/sessions/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert stolen.status_code == 401
    after_theft = await identity.client.post(
        "/sessions/refresh", json={"refresh_token": newer["refresh_token"]}
    )
    assert after_theft.status_code == 401

    other = (await identity.login(email)).json()
    assert (
        await identity.client.post("/sessions/logout", json={"refresh_token": other["refresh_token"]})
    ).status_code == 204
    logged_out = await identity.client.post(
        "/sessions/refresh", json={"refresh_token": other["refresh_token"]}
    )
    assert logged_out.status_code == 401


async def test_repeated_failures_lock_the_login_whether_or_not_it_exists(identity_factory) -> None:  # type: ignore[no-untyped-def]
    identity = await identity_factory(lockout_per_login=3, lockout_per_address=8, lockout_seconds=60)
    email = unique_email()
    tokens = await identity.registered(email)
    unknown = unique_email()
    for target in (email, unknown):
        answers = [
            (await identity.login(target, "Совсем не тот пароль", address="203.0.113.1")).status_code
            for _ in range(3)
        ]
        assert answers == [401, 401, 401]
        locked = await identity.login(target, STRONG_PASSWORD, address="203.0.113.2")
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 60
    events = await account_events(identity, tokens["account_id"], expected=5)
    assert events[-1].type == "diary.identity.AccountLocked.v1"
    assert events[-1].data["failed_attempts"] == 3

    # One client address trying many logins is stopped too; other clients are not.
    for _ in range(2):
        assert (
            await identity.login(unique_email(), "Угадываю пароль", address="203.0.113.1")
        ).status_code == 401
    assert (await identity.login(unique_email(), "Угадываю пароль", address="203.0.113.1")).status_code == 429
    assert (await identity.login(unique_email(), "Угадываю пароль", address="203.0.113.9")).status_code == 401

    # The lock ends by itself; a reset ends it at once.
    async with identity.pool.acquire() as conn:
        await conn.execute("UPDATE login_failures SET locked_until = now() WHERE key LIKE 'login:%'")
    assert (await identity.login(email, address="203.0.113.3")).status_code == 201


async def test_security_mail_is_retried_until_the_server_takes_it(identity: IdentityUnderTest) -> None:
    email = unique_email()
    identity.sink.fail_next(2)
    await identity.client.post("/registrations", json={"email": email})
    await identity.letter(email, "Подтверждение")

    async def sent() -> object:
        async with identity.pool.acquire() as conn:
            return await conn.fetchrow(
                "SELECT attempts, body FROM outgoing_mail WHERE recipient = $1 AND sent_at IS NOT NULL", email
            )

    row = await eventually(sent)
    assert row["attempts"] == 3  # type: ignore[index]
    assert row["body"] is None  # type: ignore[index]  # the link is not kept once delivered
