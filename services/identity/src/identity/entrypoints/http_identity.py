"""HTTP API of the identity service: what the parents' web page and the gateway call.

Tokens and links travel only in request and response bodies (never in URLs we log, never in
events); responses carrying tokens are not cacheable. Refusals are problem+json naming the
field at fault; a lock-out answers 429 with Retry-After.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Cookie, Depends, FastAPI, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from diary_events.identity import AccountRole
from diary_kernel.http_auth import Caller, client_address
from diary_kernel.problems import PROBLEM_RESPONSES, Problem, install_refusals
from identity.domain.accounts import Account, Grant, IdentityError
from identity.service_layer.identity import Identity, Throttled, TokenPair, utc_now

router = APIRouter(responses=PROBLEM_RESPONSES)

BINDING_COOKIE = "diary_esia_login"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
ACCEPTED_DETAIL = "If the address can be used, a message with further steps is on its way to it."


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmailBody(_Body):
    email: str = Field(min_length=3, max_length=254, examples=["ivanova.parent@example.org"])


class LoginBody(EmailBody):
    password: str = Field(min_length=1, max_length=1024)


class LinkPasswordBody(_Body):
    token: str = Field(min_length=20, max_length=200, description="From the e-mailed link.")
    password: str = Field(min_length=1, max_length=1024)


class RefreshBody(_Body):
    refresh_token: str = Field(min_length=20, max_length=200)


class GrantBody(_Body):
    role: AccountRole
    school_id: UUID | None = None
    person_id: UUID | None = Field(default=None, description="teacher_id or pupil_id from the roster")

    def grant(self) -> Grant:
        return Grant(self.role, self.school_id, self.person_id)


class InvitationBody(GrantBody):
    email: str = Field(min_length=3, max_length=254)


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    detail: str = ACCEPTED_DETAIL


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")
    account_id: UUID

    @classmethod
    def of(cls, pair: TokenPair) -> TokenResponse:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            account_id=pair.account_id,
        )


class RoleView(BaseModel):
    role: AccountRole
    school_id: UUID | None = None
    person_id: UUID | None = None


class AccountView(BaseModel):
    account_id: UUID
    email: str
    email_confirmed: bool
    has_password: bool
    registered_by: str
    esia_linked: bool
    roles: list[RoleView]

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(
            account_id=account.account_id,
            email=account.email,
            email_confirmed=account.email_confirmed,
            has_password=account.has_password,
            registered_by=account.method,
            esia_linked=bool(account.esia_subjects),
            roles=[
                RoleView(role=g.role, school_id=g.school_id, person_id=g.person_id)
                for g in sorted(account.grants)
            ],
        )


class InvitationResult(BaseModel):
    account_id: UUID
    role_granted: bool = Field(description="False when the account had this role already.")


def _identity(request: Request) -> Identity:
    identity: Identity = request.app.state.identity
    return identity


IdentityDep = Annotated[Identity, Depends(_identity)]


def _tokens(pair: TokenPair, response: Response) -> TokenResponse:
    response.headers.update(NO_STORE)
    return TokenResponse.of(pair)


# -- registration ----------------------------------------------------------------------------


@router.post(
    "/registrations", status_code=202, tags=["registration"], summary="Register with an e-mail address"
)
async def register(body: EmailBody, identity: IdentityDep) -> Accepted:
    """Sends a single-use confirmation link; the answer is the same for a registered address."""
    await identity.register(body.email)
    return Accepted()


@router.get("/registrations/confirmation", tags=["registration"], summary="Check a confirmation link")
async def confirmation_link(
    identity: IdentityDep, token: Annotated[str, Query(min_length=20, max_length=200)]
) -> EmailBody:
    """The address a still-valid link confirms (the page shows it); the link is not spent."""
    return EmailBody(email=await identity.pending_confirmation(token))


@router.post(
    "/registrations/confirmation",
    status_code=201,
    tags=["registration"],
    summary="Confirm the address, set the password, sign in",
)
async def confirm(body: LinkPasswordBody, identity: IdentityDep, response: Response) -> TokenResponse:
    return _tokens(await identity.confirm(body.token, body.password), response)


# -- sessions --------------------------------------------------------------------------------


@router.post("/sessions", status_code=201, tags=["sessions"], summary="Log in with e-mail and password")
async def login(
    body: LoginBody, request: Request, identity: IdentityDep, response: Response
) -> TokenResponse:
    pair = await identity.login(body.email, body.password, client_address(request))
    return _tokens(pair, response)


@router.post("/sessions/refresh", tags=["sessions"], summary="Exchange a refresh token for new tokens")
async def refresh(body: RefreshBody, identity: IdentityDep, response: Response) -> TokenResponse:
    """The refresh token is spent: keep the new one. Presenting a spent one ends the session."""
    return _tokens(await identity.refresh(body.refresh_token), response)


@router.post("/sessions/logout", status_code=204, tags=["sessions"], summary="End this session")
async def logout(body: RefreshBody, identity: IdentityDep) -> Response:
    await identity.logout(body.refresh_token)
    return Response(status_code=204)


class SessionsEnded(BaseModel):
    sessions_ended: int


@router.post("/sessions/logout-everywhere", tags=["sessions"], summary="End every session of the account")
async def logout_everywhere(caller: Caller, identity: IdentityDep) -> SessionsEnded:
    return SessionsEnded(sessions_ended=await identity.logout_everywhere(caller.account_id))


# -- password reset --------------------------------------------------------------------------


@router.post("/password-resets", status_code=202, tags=["password"], summary="Ask for a password reset link")
async def request_reset(body: EmailBody, identity: IdentityDep) -> Accepted:
    """The answer is the same whether or not the address has an account."""
    await identity.request_reset(body.email)
    return Accepted()


@router.post(
    "/password-resets/completion",
    status_code=201,
    tags=["password"],
    summary="Set a new password with the link; ends every other session",
)
async def complete_reset(body: LinkPasswordBody, identity: IdentityDep, response: Response) -> TokenResponse:
    return _tokens(await identity.complete_reset(body.token, body.password), response)


# -- ESIA ------------------------------------------------------------------------------------


@router.get(
    "/federated/esia/login",
    status_code=302,
    tags=["federated"],
    summary="Start a login with ESIA (Gosuslugi)",
    response_class=RedirectResponse,
)
async def esia_login(request: Request, identity: IdentityDep) -> RedirectResponse:
    binding = secrets.token_urlsafe(32)
    url = await identity.start_federated(binding)
    response = RedirectResponse(url, status_code=302, headers=NO_STORE)
    response.set_cookie(
        BINDING_COOKIE,
        binding,
        max_age=int(identity.config.federated_ttl.total_seconds()),
        path="/federated/esia",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


@router.get("/federated/esia/callback", tags=["federated"], summary="ESIA sends the browser back here")
async def esia_callback(
    identity: IdentityDep,
    response: Response,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    iss: Annotated[str | None, Query(max_length=500)] = None,
    binding: Annotated[str | None, Cookie(alias=BINDING_COOKIE)] = None,
) -> TokenResponse:
    """Signs in the ESIA user: their linked account, the account with their verified e-mail, or a new one."""
    if error is not None or code is None:
        raise Problem(401, "Federated login refused", f"the identity provider answered {error or 'no code'}")
    pair = await identity.finish_federated(code, state, binding or "", iss)
    response.delete_cookie(BINDING_COOKIE, path="/federated/esia")
    return _tokens(pair, response)


# -- accounts and roles ----------------------------------------------------------------------


@router.get("/me", tags=["accounts"], summary="The caller's account and roles")
async def me(caller: Caller, identity: IdentityDep) -> AccountView:
    return AccountView.of(await identity.account(caller.account_id))


@router.get("/accounts/{account_id}", tags=["accounts"], summary="An account (operators)")
async def account(account_id: UUID, caller: Caller, identity: IdentityDep) -> AccountView:
    if not caller.has_role("operator"):
        raise Problem(403, "Forbidden", "only operators look up accounts")
    return AccountView.of(await identity.account(account_id))


@router.post(
    "/invitations",
    status_code=201,
    tags=["accounts"],
    summary="Grant a role to the owner of an e-mail address, inviting them if they have no account",
)
async def invite(body: InvitationBody, caller: Caller, identity: IdentityDep) -> InvitationResult:
    """Operators grant any role; a school's staff grant teacher, pupil and staff roles of their school.
    Teacher and pupil roles name the roster person (`person_id`), who must be on the school's roster."""
    account_id, granted = await identity.invite(caller, body.email, body.grant())
    return InvitationResult(account_id=account_id, role_granted=granted)


class Revoked(BaseModel):
    revoked: bool


@router.post("/accounts/{account_id}/role-revocations", tags=["accounts"], summary="Revoke a role")
async def revoke(account_id: UUID, body: GrantBody, caller: Caller, identity: IdentityDep) -> Revoked:
    return Revoked(revoked=await identity.revoke(caller, account_id, body.grant()))


@router.get("/.well-known/jwks.json", tags=["keys"], summary="Public keys that verify access tokens")
async def jwks(request: Request, identity: IdentityDep) -> Response:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        document = await identity.keys.published(conn, utc_now())
    return Response(
        content=orjson.dumps(document),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )


def install_identity_errors(app: FastAPI, *, trusted_proxies: list[str]) -> None:
    app.state.trusted_proxies = frozenset(trusted_proxies)

    def retry_after(exc: Exception) -> dict[str, str]:
        return {"Retry-After": str(exc.retry_after)} if isinstance(exc, Throttled) else {}

    install_refusals(app, IdentityError, headers=retry_after)
