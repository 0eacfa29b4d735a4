"""Who is calling: the identity the gateway verified, passed on in request headers.

The gradebook sits behind the gateway (a NetworkPolicy admits only it): the gateway checks the
access token and forwards the account's role, id and school. Commands without an actor are
refused with 401; a malformed header names itself in the problem's errors.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header

from diary_kernel.problems import Problem
from gradebook.domain.access import Actor, Role


def _uuid(value: str, header: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise Problem(
            400,
            "Invalid actor",
            f"{header} is not a UUID",
            errors=[{"field": header, "message": "not a UUID"}],
        ) from exc


def current_actor(
    x_actor_role: Annotated[str | None, Header(description="teacher | school_staff | operator")] = None,
    x_actor_id: Annotated[str | None, Header(description="The account's id (a teacher's teacher_id)")] = None,
    x_actor_school: Annotated[str | None, Header(description="The school the account acts for")] = None,
) -> Actor:
    if x_actor_role is None or x_actor_id is None:
        raise Problem(401, "Not authenticated", "this route needs the caller's identity from the gateway")
    try:
        role = Role(x_actor_role)
    except ValueError as exc:
        raise Problem(
            400,
            "Invalid actor",
            f"unknown role {x_actor_role!r}",
            errors=[{"field": "X-Actor-Role", "message": "one of teacher, school_staff, operator"}],
        ) from exc
    school = _uuid(x_actor_school, "X-Actor-School") if x_actor_school else None
    if role is not Role.OPERATOR and school is None:
        raise Problem(
            400,
            "Invalid actor",
            "teachers and school staff act for a school",
            errors=[{"field": "X-Actor-School", "message": "required for this role"}],
        )
    return Actor(role=role, actor_id=_uuid(x_actor_id, "X-Actor-Id"), school_id=school)


CurrentActor = Annotated[Actor, Depends(current_actor)]
