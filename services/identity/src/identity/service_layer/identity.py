"""The identity use cases: register, confirm, log in, refresh, log out, reset, ESIA, roles.

Each command runs in one unit of work: the account's new events, the look-up tables, the
credential and link tables and the outgoing mail commit together. Expensive argon2 work runs
before or after the transaction, never while it holds locks. Answers that could tell whether an
address is registered (registration, reset, failed login) are the same either way.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from diary_kernel.access_tokens import AccessClaims
from diary_kernel.aggregate import Repository
from diary_kernel.db import Connection, Pool
from diary_kernel.eventstore import EventStore
from diary_kernel.uow import UnitOfWork
from identity.adapters import directory, login_failures, one_time_links, sessions
from identity.adapters import mail as letters
from identity.adapters.credentials import Passwords
from identity.adapters.directory import save_account
from identity.adapters.esia import EsiaClient, FederatedLoginFailed, pkce_pair
from identity.adapters.sessions import RefreshRefused, Session
from identity.adapters.signing_keys import SigningKeys
from identity.domain.accounts import Account, Grant, IdentityError, NotAllowed
from identity.domain.emails import normalise_email
from identity.domain.lockout import LockoutPolicy
from identity.domain.passwords import PasswordPolicy

ROLE_TITLES = {
    "parent": "родитель",
    "pupil": "обучающийся",
    "teacher": "учитель",
    "school_staff": "сотрудник школы",
    "operator": "оператор платформы",
}


class LoginRefused(IdentityError):
    status = 401


class Throttled(IdentityError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(IdentityError):
    status = 404


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    account_id: UUID
    token_type: str = "Bearer"


@dataclass(frozen=True)
class IdentityConfig:
    issuer: str
    audience: str = "diary"
    access_ttl: timedelta = timedelta(minutes=10)
    refresh_ttl: timedelta = timedelta(days=30)
    session_max_age: timedelta = timedelta(days=90)
    confirm_ttl: timedelta = timedelta(hours=24)
    reset_ttl: timedelta = timedelta(minutes=30)
    invitation_ttl: timedelta = timedelta(days=7)
    federated_ttl: timedelta = timedelta(minutes=10)
    links_base_url: str = "http://127.0.0.1:8102"


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


class Identity:
    def __init__(
        self,
        pool: Pool,
        store: EventStore,
        passwords: Passwords,
        keys: SigningKeys,
        config: IdentityConfig,
        *,
        lockout: LockoutPolicy | None = None,
        policy: PasswordPolicy | None = None,
        esia: EsiaClient | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_mail: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._store = store
        self._accounts = Repository(store, Account)
        self.passwords = passwords
        self.keys = keys
        self.config = config
        self.lockout = lockout or LockoutPolicy()
        self.policy = policy or PasswordPolicy()
        self.esia = esia
        self._now = clock
        self._on_mail = on_mail

    # -- plumbing --------------------------------------------------------------------------

    def _uow(self) -> UnitOfWork:
        return UnitOfWork(self._pool, self._store)

    async def _mail(
        self, conn: Connection, to: str, purpose: letters.MailPurpose, letter: letters.Letter
    ) -> None:
        await letters.enqueue(conn, to, purpose, letter, self._now())

    def _link(self, path: str, token: str | None = None) -> str:
        base = self.config.links_base_url.rstrip("/")
        return f"{base}{path}?token={token}" if token else f"{base}{path}"

    async def _tokens(
        self, conn: Connection, account: Account, session: Session, refresh_token: str
    ) -> TokenPair:
        now = self._now()
        expires = now + self.config.access_ttl
        claims: dict[str, Any] = {
            "iss": self.config.issuer,
            "aud": self.config.audience,
            "sub": str(account.account_id),
            "sid": str(session.session_id),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": uuid.uuid4().hex,
            "amr": [session.method],
            "roles": [
                {
                    k: str(v)
                    for k, v in (("role", g.role), ("school_id", g.school_id), ("person_id", g.person_id))
                    if v is not None
                }
                for g in sorted(account.grants, key=lambda g: (g.role, str(g.school_id), str(g.person_id)))
            ],
        }
        access = await self.keys.sign(conn, claims, now)
        return TokenPair(
            access, refresh_token, int(self.config.access_ttl.total_seconds()), account.account_id
        )

    async def _sign_in(self, conn: Connection, account: Account, method: str) -> TokenPair:
        session, refresh = await sessions.start(
            conn,
            account.account_id,
            method,
            self._now(),
            refresh_ttl=self.config.refresh_ttl,
            max_age=self.config.session_max_age,
        )
        return await self._tokens(conn, account, session, refresh)

    # -- registration ----------------------------------------------------------------------

    async def register(self, raw_email: str) -> None:
        """Start a registration; says nothing about whether the address had an account."""
        email = normalise_email(raw_email)
        now = self._now()
        async with self._uow() as uow:
            existing = await directory.account_for_email(uow.conn, email)
            if existing is None:
                account = Account(str(uuid.uuid4()))
                account.register(email, "email", now)
                await save_account(self._accounts, uow.conn, account)
                await self._send_confirmation(uow.conn, account)
            elif not (account := await self._accounts.load(uow.conn, str(existing))).has_password:
                await self._send_confirmation(uow.conn, account)
            else:
                letter = letters.already_registered(self._link("/login"), self._link("/password/forgot"))
                await self._mail(uow.conn, email, "already_registered", letter)
        self._on_mail()

    async def _send_confirmation(self, conn: Connection, account: Account) -> None:
        ttl = self.config.confirm_ttl
        token = await one_time_links.issue(conn, account.account_id, "confirm", self._now(), ttl)
        letter = letters.confirmation(
            self._link("/registration/confirm", token), int(ttl.total_seconds() // 3600)
        )
        await self._mail(conn, account.email, "confirm", letter)

    async def _account_for_link(self, token: str, purpose: one_time_links.LinkPurpose) -> Account:
        async with self._pool.acquire() as conn:
            account_id = await one_time_links.peek(conn, token, purpose, self._now())
            if account_id is None:
                raise IdentityError("the link is invalid, expired or was used already", field="token")
            return await self._accounts.load(conn, str(account_id))

    async def pending_confirmation(self, token: str) -> str:
        """The address a confirmation link is for (the page shows it), without spending the link."""
        return (await self._account_for_link(token, "confirm")).email

    async def confirm(self, token: str, password: str) -> TokenPair:
        """The link proves the address; the password is set; the owner is signed in."""
        account = await self._account_for_link(token, "confirm")
        self.policy.check(password, email=account.email)
        encoded = await self.passwords.hash(password)
        now = self._now()
        async with self._uow() as uow:
            if await one_time_links.spend(uow.conn, token, "confirm", now) != account.account_id:
                raise IdentityError("the link is invalid, expired or was used already", field="token")
            account = await self._accounts.load(uow.conn, account.id)
            account.confirm_email(now)
            account.first_password(now)
            await self.passwords.store(uow.conn, account.account_id, encoded, now)
            await save_account(self._accounts, uow.conn, account)
            return await self._sign_in(uow.conn, account, "pwd")

    # -- login, sessions -------------------------------------------------------------------

    async def login(self, raw_email: str, password: str, client_address: str) -> TokenPair:
        email = normalise_email(raw_email)
        login_key = login_failures.login_key(email)
        address_key = login_failures.address_key(client_address)
        now = self._now()
        async with self._pool.acquire() as conn:
            for key in (login_key, address_key):
                count = await login_failures.read(conn, key)
                until = count.locked_at(now) if count else None
                if until is not None:
                    raise Throttled(
                        "too many failed attempts; try again later or reset the password",
                        retry_after=max(1, int((until - now).total_seconds())),
                    )
            account_id = await directory.account_for_email(conn, email)
            encoded = await self.passwords.stored(conn, account_id) if account_id else None
        if not await self.passwords.verify(encoded, password):
            await self._count_failure(account_id, login_key, address_key)
            raise LoginRefused("wrong e-mail or password")
        assert account_id is not None
        assert encoded is not None
        now = self._now()
        async with self._uow() as uow:
            await login_failures.clear(uow.conn, login_key)
            if self.passwords.needs_rehash(encoded):
                await self.passwords.store(uow.conn, account_id, await self.passwords.hash(password), now)
            account = await self._accounts.load(uow.conn, str(account_id))
            return await self._sign_in(uow.conn, account, "pwd")

    async def _count_failure(self, account_id: UUID | None, login_key: str, address_key: str) -> None:
        now = self._now()
        async with self._uow() as uow:
            policy = self.lockout
            await login_failures.count_failure(uow.conn, policy, address_key, policy.per_address, now)
            count = await login_failures.count_failure(uow.conn, policy, login_key, policy.per_login, now)
            if (
                account_id is not None
                and count.locked_until is not None
                and count.failures == policy.per_login
            ):
                account = await self._accounts.load(uow.conn, str(account_id))
                account.lock(count.locked_until, count.failures)
                await save_account(self._accounts, uow.conn, account)

    async def refresh(self, refresh_token: str) -> TokenPair:
        now = self._now()
        async with self._uow() as uow:
            try:
                session, token = await sessions.refresh(
                    uow.conn, refresh_token, now, refresh_ttl=self.config.refresh_ttl
                )
            except RefreshRefused as exc:
                # Leave the block normally: the revocation after a reuse must commit.
                refused = exc
            else:
                account = await self._accounts.load(uow.conn, str(session.account_id))
                return await self._tokens(uow.conn, account, session, token)
        raise LoginRefused(str(refused), field="refresh_token")

    async def logout(self, refresh_token: str) -> None:
        """End the session the token belongs to; an unknown token is not an error (idempotent)."""
        async with self._pool.acquire() as conn:
            session_id = await sessions.session_of(conn, refresh_token)
            if session_id is not None:
                await sessions.revoke(conn, session_id, "logout", self._now())

    async def logout_everywhere(self, account_id: UUID) -> int:
        async with self._pool.acquire() as conn:
            return await sessions.revoke_all(conn, account_id, "logout everywhere", self._now())

    async def session_active(self, session_id: UUID) -> bool:
        async with self._pool.acquire() as conn:
            return await sessions.is_active(conn, session_id, self._now())

    # -- password reset --------------------------------------------------------------------

    async def request_reset(self, raw_email: str) -> None:
        email = normalise_email(raw_email)
        now = self._now()
        async with self._uow() as uow:
            account_id = await directory.account_for_email(uow.conn, email)
            if account_id is None:
                return
            account = await self._accounts.load(uow.conn, str(account_id))
            if not account.has_password:
                # Not finished registering: the confirmation link is what they need.
                await self._send_confirmation(uow.conn, account)
            else:
                ttl = self.config.reset_ttl
                token = await one_time_links.issue(uow.conn, account.account_id, "reset", now, ttl)
                account.request_reset(now)
                await save_account(self._accounts, uow.conn, account)
                letter = letters.password_reset(
                    self._link("/password/reset", token), int(ttl.total_seconds() // 60)
                )
                await self._mail(uow.conn, email, "reset", letter)
        self._on_mail()

    async def complete_reset(self, token: str, password: str) -> TokenPair:
        account = await self._account_for_link(token, "reset")
        self.policy.check(password, email=account.email)
        encoded = await self.passwords.hash(password)
        now = self._now()
        async with self._uow() as uow:
            if await one_time_links.spend(uow.conn, token, "reset", now) != account.account_id:
                raise IdentityError("the link is invalid, expired or was used already", field="token")
            account = await self._accounts.load(uow.conn, account.id)
            await self.passwords.store(uow.conn, account.account_id, encoded, now)
            revoked = await sessions.revoke_all(uow.conn, account.account_id, "password reset", now)
            account.complete_reset(now, revoked)
            account.confirm_email(now)
            await login_failures.clear(uow.conn, login_failures.login_key(account.email))
            await save_account(self._accounts, uow.conn, account)
            return await self._sign_in(uow.conn, account, "pwd")

    # -- ESIA ------------------------------------------------------------------------------

    def _esia(self) -> EsiaClient:
        if self.esia is None:
            raise NotFound("federated login is not configured on this installation")
        return self.esia

    async def start_federated(self, browser_binding: str) -> str:
        """Where to send the browser; the login is bound to it by `browser_binding` (a cookie)."""
        esia = self._esia()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, challenge = pkce_pair()
        now = self._now()
        url = await esia.authorization_url(state=state, nonce=nonce, code_challenge=challenge)
        async with self._pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO federated_logins
                       (state_hash, browser_hash, nonce, code_verifier, created_at, expires_at)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                _sha256(state),
                _sha256(browser_binding),
                nonce,
                verifier,
                now,
                now + self.config.federated_ttl,
            )
        return url

    async def finish_federated(
        self, code: str, state: str, browser_binding: str, issuer: str | None = None
    ) -> TokenPair:
        esia = self._esia()
        if issuer is not None and issuer != esia.settings.issuer:
            # RFC 9207: the answer names who sent it; a mix-up with another provider stops here.
            raise FederatedLoginFailed("the answer comes from another identity provider", field="iss")
        now = self._now()
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """UPDATE federated_logins SET consumed_at = $2
                   WHERE state_hash = $1 AND consumed_at IS NULL AND expires_at > $2
                   RETURNING browser_hash, nonce, code_verifier""",
                _sha256(state),
                now,
            )
        if row is None or not secrets.compare_digest(bytes(row["browser_hash"]), _sha256(browser_binding)):
            raise FederatedLoginFailed(
                "this login was not started in this browser, took too long or was finished already",
                field="state",
            )
        person = await esia.exchange(code, code_verifier=row["code_verifier"], nonce=row["nonce"])
        now = self._now()
        async with self._uow() as uow:
            linked = await directory.account_for_esia(uow.conn, person.issuer, person.subject)
            if linked is not None:
                account = await self._accounts.load(uow.conn, str(linked))
            else:
                if not person.email or not person.email_verified:
                    raise NotAllowed(
                        "your ESIA account has no confirmed e-mail address: confirm it on Gosuslugi "
                        "or register here with your e-mail"
                    )
                email = normalise_email(person.email)
                existing = await directory.account_for_email(uow.conn, email)
                account = await self._accounts.load(uow.conn, str(existing or uuid.uuid4()))
                if not account.exists:
                    account.register(email, "esia", now)
                account.confirm_email(now, by="esia")
                account.link_esia(person.issuer, person.subject, now, new_account=existing is None)
                await save_account(self._accounts, uow.conn, account)
            return await self._sign_in(uow.conn, account, "esia")

    # -- roles -----------------------------------------------------------------------------

    @staticmethod
    def _authorise_grant(actor: AccessClaims, grant: Grant) -> Literal["operator", "school_staff"]:
        """Operators grant anything; a school's staff grant school roles of their own school."""
        if actor.has_role("operator"):
            return "operator"
        if grant.role in ("pupil", "teacher", "school_staff") and actor.has_role(
            "school_staff", grant.school_id
        ):
            return "school_staff"
        raise NotAllowed("you may not grant or revoke this role")

    async def _require_roster_person(self, conn: Connection, grant: Grant) -> None:
        if grant.person_id is None:
            return
        active = await conn.fetchval(
            "SELECT active FROM roster_people WHERE person_id = $1 AND school_id = $2 AND kind = $3",
            grant.person_id,
            grant.school_id,
            "pupil" if grant.role == "pupil" else "teacher",  # staff are on the registry's staff list
        )
        if not active:
            raise IdentityError(f"the school's roster has no such {grant.role}", field="person_id")

    async def invite(self, actor: AccessClaims, raw_email: str, grant: Grant) -> tuple[UUID, bool]:
        """Grant a role to the owner of an address, creating the account if needed.

        Returns the account id and whether the role is new. An account without a password gets
        an invitation link to set one; an existing one is told about its new role.
        """
        grant.validate()
        source = self._authorise_grant(actor, grant)
        email = normalise_email(raw_email)
        now = self._now()
        async with self._uow() as uow:
            await self._require_roster_person(uow.conn, grant)
            existing = await directory.account_for_email(uow.conn, email)
            account = await self._accounts.load(uow.conn, str(existing or uuid.uuid4()))
            if not account.exists:
                account.register(email, "invitation", now)
            granted = account.grant(grant, source, actor.account_id, now)
            await save_account(self._accounts, uow.conn, account)
            title = ROLE_TITLES[grant.role]
            if not account.has_password:
                ttl = self.config.invitation_ttl
                token = await one_time_links.issue(uow.conn, account.account_id, "confirm", now, ttl)
                letter = letters.invitation(
                    self._link("/registration/confirm", token), title, int(ttl.total_seconds() // 3600)
                )
                await self._mail(uow.conn, email, "invitation", letter)
            elif granted:
                await self._mail(
                    uow.conn, email, "role_granted", letters.role_granted(title, self._link("/login"))
                )
        self._on_mail()
        return account.account_id, granted

    async def revoke(self, actor: AccessClaims, account_id: UUID, grant: Grant) -> bool:
        source = self._authorise_grant(actor, grant)
        now = self._now()
        async with self._uow() as uow:
            account = await self._accounts.load(uow.conn, str(account_id))
            if not account.exists:
                raise NotFound("no such account", field="account_id")
            revoked = account.revoke(grant, source, now)
            await save_account(self._accounts, uow.conn, account)
            return revoked

    async def account(self, account_id: UUID) -> Account:
        async with self._pool.acquire() as conn:
            account = await self._accounts.load(conn, str(account_id))
        if not account.exists:
            raise NotFound("no such account", field="account_id")
        return account
