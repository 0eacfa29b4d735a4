"""The class journal through the gateway: teachers and school staff keep it with their own token.

The gradebook takes its caller from `X-Actor-*` headers and trusts only the gateway to set them
(a NetworkPolicy lets nothing else reach it). Here they are made from the verified token, never
copied from the request: the acting role is the token's teacher role, else its school-staff role,
else operator; an account with roles in several schools names one with `X-Acting-School`.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response

from diary_kernel.access_tokens import RoleClaim
from diary_kernel.problems import PROBLEM_RESPONSES, Problem
from gateway.adapters.upstream import Upstreams
from gateway.entrypoints.auth import SignedIn, Viewer
from gateway.entrypoints.relay import API_PREFIX, relayed

router = APIRouter(prefix=f"{API_PREFIX}/journal", responses=PROBLEM_RESPONSES)
JOURNAL_ROUTES = ("classes/", "marks", "final-marks/")
ACTING_ORDER = ("teacher", "school_staff", "operator")


def acting_role(viewer: Viewer, school: UUID | None) -> RoleClaim:
    """The role the viewer keeps the journal in (403 when they have none that may)."""
    for wanted in ACTING_ORDER:
        for role in viewer.claims.roles:
            if role.role == wanted and (school is None or role.school_id in (school, None)):
                return role
    raise Problem(403, "Forbidden", "the class journal is kept by teachers and school staff")


def actor_headers(viewer: Viewer, role: RoleClaim) -> dict[str, str]:
    headers = {
        "x-actor-role": role.role,
        "x-actor-id": str(role.person_id or viewer.claims.account_id),
    }
    if role.school_id is not None:
        headers["x-actor-school"] = str(role.school_id)
    return headers


async def journal(
    path: str,
    request: Request,
    viewer: SignedIn,
    acting_school: Annotated[UUID | None, Header(alias="X-Acting-School")] = None,
) -> Response:
    if not path.startswith(JOURNAL_ROUTES):
        raise Problem(404, "Not found", f"no journal route /{path}")
    headers = actor_headers(viewer, acting_role(viewer, acting_school))
    if (precondition := request.headers.get("if-match")) is not None:
        headers["if-match"] = precondition
    body = await request.body()
    upstreams: Upstreams = request.app.state.upstreams
    answer = await upstreams.gradebook.call(
        request.method,
        f"/{path}",
        params=list(request.query_params.multi_items()),
        headers={**headers, "content-type": request.headers.get("content-type", "application/json")}
        if body
        else headers,
        content=body or None,
    )
    return relayed(answer, prefix=router.prefix)


for _method in ("GET", "POST", "PUT", "DELETE"):
    router.add_api_route(
        "/{path:path}",
        journal,
        methods=[_method],
        operation_id=f"journal_{_method.lower()}",
        tags=["class journal"],
        summary="The gradebook's journal commands and class queries (its /docs lists them), as the caller",
    )
