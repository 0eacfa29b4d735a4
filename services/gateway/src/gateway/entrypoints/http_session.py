"""Signing in through the gateway: cookies for the web page, tokens for programs, ESIA's redirects.

The browser never sees a token: the gateway keeps the access token in an HttpOnly cookie for
every path and the refresh token in one that only `/api/v1/session` receives, both
`SameSite=Strict`. Programs take the token pair from `/api/v1/tokens` instead. Identity does the
work (passwords, lock-outs, ESIA); it sees the client's address as `X-Forwarded-For`.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Cookie, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field

from diary_kernel.access_tokens import AccessTokenVerifier, InvalidToken, RoleClaim
from diary_kernel.http_auth import client_address
from diary_kernel.problems import PROBLEM_RESPONSES, Problem, problem_response
from gateway.adapters.upstream import Upstream, Upstreams
from gateway.entrypoints.auth import ACCESS_COOKIE, REFRESH_COOKIE, SignedIn
from gateway.entrypoints.relay import API_PREFIX, relay, relayed
from identity.entrypoints.http_identity import (
    BINDING_COOKIE,
    AccountView,
    EmailBody,
    LinkPasswordBody,
    LoginBody,
    RefreshBody,
    TokenResponse,
)

router = APIRouter(
    responses={
        **PROBLEM_RESPONSES,
        401: PROBLEM_RESPONSES[404] | {"description": "Wrong credentials or no session"},
        429: PROBLEM_RESPONSES[404] | {"description": "Locked for a while (Retry-After)"},
    }
)
SESSION_PATH = f"{API_PREFIX}/session"
ESIA_PATH = "/federated/esia"
NO_STORE = {"Cache-Control": "no-store"}


class Session(BaseModel):
    """The signed-in account, as the web page needs it; the tokens stay in cookies."""

    account_id: UUID
    roles: list[RoleClaim]
    expires_in: int = Field(description="Seconds until the access cookie expires (refresh before).")


class Accepted(BaseModel):
    status: str
    detail: str


class ConfirmationLink(BaseModel):
    email: str


def _identity(request: Request) -> Upstream:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams.identity


def _forwarded(request: Request) -> dict[str, str]:
    return {"x-forwarded-for": client_address(request)}


async def _signed_in(request: Request, answer: Any, response: Response) -> Session:
    """Turn identity's token pair into cookies and the session the page shows."""
    if answer.status_code not in (200, 201):
        raise _as_problem(answer)
    pair = TokenResponse.model_validate_json(answer.content)
    verifier: AccessTokenVerifier = request.app.state.verifier
    try:
        claims = await verifier.verify(pair.access_token)
    except InvalidToken as exc:  # identity and the gateway disagree about keys or issuer
        raise Problem(502, "Bad gateway", "identity issued a token the gateway cannot verify") from exc
    set_session_cookies(request, response, pair)
    response.headers.update(NO_STORE)
    return Session(account_id=pair.account_id, roles=list(claims.roles), expires_in=pair.expires_in)


def set_session_cookies(request: Request, response: Response, pair: TokenResponse) -> None:
    secure: bool = request.app.state.cookie_secure
    response.set_cookie(
        ACCESS_COOKIE,
        pair.access_token,
        max_age=pair.expires_in,
        path="/",
        httponly=True,
        secure=secure,
        samesite="strict",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=request.app.state.refresh_cookie_seconds,
        path=SESSION_PATH,
        httponly=True,
        secure=secure,
        samesite="strict",
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/")
    response.delete_cookie(REFRESH_COOKIE, path=SESSION_PATH)


def _as_problem(answer: Any) -> Problem:
    """Identity's refusal, as the gateway's own problem (same status, detail, fields, Retry-After)."""
    try:
        body = answer.json()
    except ValueError:
        body = {}
    headers = {"Retry-After": answer.headers["retry-after"]} if "retry-after" in answer.headers else {}
    extra = {"errors": body["errors"]} if body.get("errors") else {}
    return Problem(
        answer.status_code,
        body.get("title", "Refused"),
        body.get("detail"),
        headers=headers,
        **extra,
    )


# -- the web page's session (cookies) ----------------------------------------------------------


@router.post(SESSION_PATH, tags=["session"], summary="Sign in with e-mail and password (sets the cookies)")
async def sign_in(body: LoginBody, request: Request, response: Response) -> Session:
    answer = await _identity(request).call(
        "POST", "/sessions", json=body.model_dump(), headers=_forwarded(request)
    )
    return await _signed_in(request, answer, response)


@router.post(
    f"{SESSION_PATH}/refresh",
    response_model=Session,
    tags=["session"],
    summary="New cookies for the refresh cookie",
)
async def refresh_session(
    request: Request,
    response: Response,
    refresh_token: Annotated[str | None, Cookie(alias=REFRESH_COOKIE)] = None,
) -> Any:
    if not refresh_token:
        raise Problem(401, "Not authenticated", "no session to refresh: sign in")
    answer = await _identity(request).call("POST", "/sessions/refresh", json={"refresh_token": refresh_token})
    if answer.status_code != 200:
        ended = problem_response(401, "Session ended", "the session expired or was ended: sign in again")
        clear_session_cookies(ended)
        return ended
    return await _signed_in(request, answer, response)


@router.post(
    f"{SESSION_PATH}/logout", status_code=204, tags=["session"], summary="Sign out (ends the session)"
)
async def sign_out(
    request: Request, refresh_token: Annotated[str | None, Cookie(alias=REFRESH_COOKIE)] = None
) -> Response:
    if refresh_token:
        await _identity(request).call("POST", "/sessions/logout", json={"refresh_token": refresh_token})
    response = Response(status_code=204, headers=NO_STORE)
    clear_session_cookies(response)
    return response


# -- programs (tokens in the body) -------------------------------------------------------------


@router.post(f"{API_PREFIX}/tokens", status_code=201, tags=["session"], summary="Tokens for a program")
async def tokens(body: LoginBody, request: Request) -> TokenResponse:
    answer = await _identity(request).call(
        "POST", "/sessions", json=body.model_dump(), headers=_forwarded(request)
    )
    if answer.status_code != 201:
        raise _as_problem(answer)
    return TokenResponse.model_validate_json(answer.content)


@router.post(f"{API_PREFIX}/tokens/refresh", tags=["session"], summary="Exchange a refresh token")
async def refresh_tokens(body: RefreshBody, request: Request) -> Response:
    return relayed(await _identity(request).call("POST", "/sessions/refresh", json=body.model_dump()))


# -- account -----------------------------------------------------------------------------------


@router.get(f"{API_PREFIX}/me", tags=["account"], summary="The caller's account and roles")
async def me(request: Request, viewer: SignedIn) -> AccountView:
    answer = await _identity(request).call("GET", "/me", headers=viewer.authorization)
    if answer.status_code != 200:
        raise _as_problem(answer)
    return AccountView.model_validate_json(answer.content)


@router.post(f"{API_PREFIX}/registrations", status_code=202, tags=["account"], summary="Register by e-mail")
async def register(body: EmailBody, request: Request) -> Response:
    return await relay(request, _identity(request), "POST", "/registrations", json=body.model_dump())


@router.get(
    f"{API_PREFIX}/registrations/confirmation", tags=["account"], summary="Which address a link confirms"
)
async def confirmation_link(
    request: Request, token: Annotated[str, Query(min_length=20, max_length=200)]
) -> ConfirmationLink:
    answer = await _identity(request).call("GET", "/registrations/confirmation", params={"token": token})
    if answer.status_code != 200:
        raise _as_problem(answer)
    return ConfirmationLink.model_validate_json(answer.content)


@router.post(
    f"{API_PREFIX}/registrations/confirmation",
    tags=["account"],
    summary="Confirm the address, set the password and sign in (sets the cookies)",
)
async def confirm(body: LinkPasswordBody, request: Request, response: Response) -> Session:
    answer = await _identity(request).call("POST", "/registrations/confirmation", json=body.model_dump())
    return await _signed_in(request, answer, response)


@router.post(
    f"{API_PREFIX}/password-resets", status_code=202, tags=["account"], summary="Ask for a reset link"
)
async def request_reset(body: EmailBody, request: Request) -> Response:
    return await relay(request, _identity(request), "POST", "/password-resets", json=body.model_dump())


@router.post(
    f"{API_PREFIX}/password-resets/completion",
    tags=["account"],
    summary="Set a new password from the link and sign in (sets the cookies)",
)
async def complete_reset(body: LinkPasswordBody, request: Request, response: Response) -> Session:
    answer = await _identity(request).call("POST", "/password-resets/completion", json=body.model_dump())
    return await _signed_in(request, answer, response)


# -- ESIA (Gosuslugi) --------------------------------------------------------------------------


@router.get(
    f"{ESIA_PATH}/login",
    status_code=302,
    response_class=RedirectResponse,
    tags=["session"],
    summary="«Войти через Госуслуги»: off to the identity provider",
)
async def esia_login(request: Request) -> Response:
    answer = await _identity(request).call("GET", f"{ESIA_PATH}/login")
    if answer.status_code != 302:
        return RedirectResponse("/login?error=esia", status_code=303)
    response = RedirectResponse(answer.headers["location"], status_code=302, headers=NO_STORE)
    for cookie in answer.headers.get_list("set-cookie"):  # the login's binding to this browser
        response.headers.append("set-cookie", cookie)
    return response


@router.get(
    f"{ESIA_PATH}/callback",
    status_code=303,
    response_class=RedirectResponse,
    tags=["session"],
    summary="The identity provider sends the browser back here; signed in, it lands on the diary",
)
async def esia_callback(request: Request) -> Response:
    binding = request.cookies.get(BINDING_COOKIE)
    answer = await _identity(request).call(
        "GET",
        f"{ESIA_PATH}/callback",
        params=list(request.query_params.multi_items()),
        headers={"cookie": f"{BINDING_COOKIE}={binding}"} if binding else {},
    )
    if answer.status_code != 200:
        response: Response = RedirectResponse("/login?error=esia", status_code=303, headers=NO_STORE)
    else:
        response = RedirectResponse("/", status_code=303, headers=NO_STORE)
        set_session_cookies(request, response, TokenResponse.model_validate_json(answer.content))
    response.delete_cookie(BINDING_COOKIE, path=ESIA_PATH)
    return response
