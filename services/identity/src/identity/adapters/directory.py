"""Look-ups the account streams cannot answer by id: login → account, ESIA subject → account,
and who holds a roster person's role. Written in the same transaction as the account's events,
so the unique e-mail is enforced by the database at the moment of registration.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

import asyncpg

from diary_events.base import DomainEvent
from diary_events.identity import AccountRegistered, EsiaAccountLinked, RoleGranted, RoleRevoked
from diary_kernel.aggregate import Repository
from diary_kernel.db import Connection
from identity.domain.accounts import Account, Conflict

_NIL = UUID(int=0)


async def account_for_email(conn: Connection, email: str) -> UUID | None:
    account_id: UUID | None = await conn.fetchval(
        "SELECT account_id FROM account_logins WHERE email = $1", email
    )
    return account_id


async def account_for_esia(conn: Connection, issuer: str, subject: str) -> UUID | None:
    account_id: UUID | None = await conn.fetchval(
        "SELECT account_id FROM esia_links WHERE issuer = $1 AND subject = $2", issuer, subject
    )
    return account_id


async def holders_of(conn: Connection, role: str, person_id: UUID, school_id: UUID) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT account_id FROM account_roles WHERE role = $1 AND person_id = $2 AND school_id = $3",
        role,
        person_id,
        school_id,
    )
    return [row["account_id"] for row in rows]


async def record(conn: Connection, events: Iterable[DomainEvent]) -> None:
    for event in events:
        match event:
            case AccountRegistered():
                try:
                    await conn.execute(
                        "INSERT INTO account_logins (email, account_id, created_at) VALUES ($1, $2, $3)",
                        event.email,
                        event.account_id,
                        event.registered_at,
                    )
                except asyncpg.UniqueViolationError as exc:
                    raise Conflict("an account with this e-mail exists", field="email") from exc
            case EsiaAccountLinked():
                await conn.execute(
                    """INSERT INTO esia_links (issuer, subject, account_id, linked_at) VALUES ($1, $2, $3, $4)
                       ON CONFLICT (issuer, subject) DO NOTHING""",
                    event.issuer,
                    event.esia_subject,
                    event.account_id,
                    event.linked_at,
                )
            case RoleGranted():
                await conn.execute(
                    """INSERT INTO account_roles (account_id, role, school_id, person_id)
                       VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
                    event.account_id,
                    event.role,
                    event.school_id,
                    event.person_id,
                )
            case RoleRevoked():
                await conn.execute(
                    """DELETE FROM account_roles WHERE account_id = $1 AND role = $2
                       AND coalesce(school_id, $5) = coalesce($3, $5)
                       AND coalesce(person_id, $5) = coalesce($4, $5)""",
                    event.account_id,
                    event.role,
                    event.school_id,
                    event.person_id,
                    _NIL,
                )


async def save_account(accounts: Repository[Account], conn: Connection, account: Account) -> None:
    """Append what the account decided and keep these look-ups in step, in the caller's transaction."""
    events = list(account.pending)
    if events:
        await accounts.save(conn, account)
        await record(conn, events)
