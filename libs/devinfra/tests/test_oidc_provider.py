"""The local ESIA stand-in is a working OpenID Connect provider: discovery, login, code + PKCE."""

from __future__ import annotations

import base64
import hashlib
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from diary_devinfra import _process
from diary_devinfra.oidc_provider import OidcLoginError, OidcProvider
from diary_devinfra.pytest_plugin import OidcTestProvider

ESIA_SCOPES = {"openid", "fullname", "email", "mobile", "birthdate"}


async def _discovery(client: httpx.AsyncClient, issuer: str) -> dict[str, Any]:
    response = await client.get(f"{issuer}/.well-known/openid-configuration")
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


class Authorization:
    """One authorization request as the identity service would make it (S256, state, nonce)."""

    def __init__(self, provider: OidcTestProvider, endpoint: str, scope: str, **extra: str) -> None:
        self.verifier = secrets.token_urlsafe(48)
        self.state = secrets.token_urlsafe(16)
        self.nonce = secrets.token_urlsafe(16)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=")
        params = {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": provider.redirect_uri,
            "scope": scope,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            **extra,
        }
        self.url = f"{endpoint}?{urlencode(params)}"


async def _sign_in(
    client: httpx.AsyncClient, provider: OidcTestProvider, login: str, scope: str = "openid fullname email"
) -> tuple[Authorization, dict[str, Any], dict[str, Any]]:
    """Walk the whole flow; return the request, the token response and the verified id_token."""
    discovery = await _discovery(client, provider.issuer)
    request = Authorization(provider, discovery["authorization_endpoint"], scope)
    account = provider.account(login)

    redirect = await provider.login(client, request.url, login, account.password)

    assert redirect.startswith(provider.redirect_uri + "?")
    query = {key: values[0] for key, values in parse_qs(urlsplit(redirect).query).items()}
    assert query["state"] == request.state
    assert query["iss"] == provider.issuer  # RFC 9207: the relying party can check who answered
    response = await client.post(
        discovery["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": provider.redirect_uri,
            "code_verifier": request.verifier,
        },
        auth=(provider.client_id, provider.client_secret),
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    jwks = (await client.get(discovery["jwks_uri"])).json()
    kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    key = jwt.PyJWKSet.from_dict(jwks)[kid]
    claims: dict[str, Any] = jwt.decode(
        tokens["id_token"],
        key,
        algorithms=["RS256"],
        audience=provider.client_id,
        issuer=provider.issuer,
    )
    return request, tokens, claims


async def test_discovery_looks_like_esia(oidc_provider: OidcTestProvider) -> None:
    async with httpx.AsyncClient() as client:
        document = await _discovery(client, oidc_provider.issuer)
        jwks = (await client.get(document["jwks_uri"])).json()

    assert document["issuer"] == oidc_provider.issuer
    assert set(document["scopes_supported"]) >= ESIA_SCOPES
    assert set(document["claims_supported"]) >= {
        "sub", "family_name", "given_name", "middle_name", "trusted",
        "email", "email_verified", "phone_number", "phone_number_verified", "birthdate",
    }  # fmt: skip
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert "client_secret_basic" in document["token_endpoint_auth_methods_supported"]
    assert [(key["kty"], key["alg"]) for key in jwks["keys"]] == [("RSA", "RS256")]
    assert "d" not in jwks["keys"][0], "the private part must never be published"


async def test_code_flow_with_pkce_gives_a_signed_id_token(oidc_provider: OidcTestProvider) -> None:
    account = oidc_provider.account("ivanova.parent@example.org")
    async with httpx.AsyncClient() as client:
        request, tokens, claims = await _sign_in(client, oidc_provider, account.login)
        userinfo = await client.get(
            (await _discovery(client, oidc_provider.issuer))["userinfo_endpoint"],
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )

    assert claims["nonce"] == request.nonce
    assert claims["sub"] == account.sub
    assert claims["email"] == "ivanova.parent@example.org"
    assert claims["email_verified"] is True
    assert (claims["family_name"], claims["given_name"], claims["middle_name"]) == (
        "Иванова",
        "Мария",
        "Сергеевна",
    )
    assert claims["trusted"] is True
    assert "phone_number" not in claims, "the mobile scope was not asked for"
    assert userinfo.status_code == 200
    assert userinfo.json()["email"] == "ivanova.parent@example.org"


async def test_each_login_is_a_fresh_sign_in(oidc_provider: OidcTestProvider) -> None:
    async with httpx.AsyncClient() as client:
        _, _, first = await _sign_in(client, oidc_provider, "ivanova.parent@example.org")
        _, _, second = await _sign_in(client, oidc_provider, "petrov.parent@example.org")
    assert (first["sub"], second["sub"]) == ("1000321457", "1000487236")


async def test_unverified_email_is_reported_as_such(oidc_provider: OidcTestProvider) -> None:
    async with httpx.AsyncClient() as client:
        _, _, claims = await _sign_in(
            client, oidc_provider, "smirnova.parent@example.org", "openid fullname email mobile"
        )
    assert claims["email_verified"] is False
    assert claims["trusted"] is False
    assert claims["phone_number"] == "+79110000103"


async def test_wrong_password_shows_the_form_again(oidc_provider: OidcTestProvider) -> None:
    async with httpx.AsyncClient(follow_redirects=True) as client:
        endpoint = (await _discovery(client, oidc_provider.issuer))["authorization_endpoint"]
        form = await client.get(Authorization(oidc_provider, endpoint, "openid email").url)
        assert form.status_code == 200
        action = form.text.split('<form method="post" action="', 1)[1].split('"', 1)[0]
        assert action.startswith("/interaction/")
        assert action.endswith("/login")

        again = await client.post(
            str(form.url.join(action)),
            data={"login": "ivanova.parent@example.org", "password": "not-her-password"},
        )

        assert again.status_code == 200
        assert "Неверный логин или пароль" in again.text
        assert f'action="{action}"' in again.text
        assert 'name="password"' in again.text

        with pytest.raises(OidcLoginError, match="Неверный логин или пароль"):
            await oidc_provider.login(
                client, Authorization(oidc_provider, endpoint, "openid").url, "nobody@example.org", "x"
            )


async def test_cancel_returns_access_denied_and_stale_pages_say_so(oidc_provider: OidcTestProvider) -> None:
    async with httpx.AsyncClient() as client:
        endpoint = (await _discovery(client, oidc_provider.issuer))["authorization_endpoint"]
        request = Authorization(oidc_provider, endpoint, "openid")
        form = await client.get(request.url, follow_redirects=True)
        abort = form.text.split('<form method="post" action="')[2].split('"', 1)[0]
        assert abort.endswith("/abort")
        response = await client.post(str(form.url.join(abort)))
        while response.is_redirect and not response.headers["location"].startswith(
            oidc_provider.redirect_uri
        ):
            response = await client.get(str(response.url.join(response.headers["location"])))
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert (query["error"], query["state"]) == (["access_denied"], [request.state])

        stale = await client.get(str(form.url))
    assert stale.status_code == 400
    assert 'role="alert"' in stale.text


async def test_pkce_is_required_and_checked(oidc_provider: OidcTestProvider) -> None:
    async with httpx.AsyncClient() as client:
        discovery = await _discovery(client, oidc_provider.issuer)
        request = Authorization(oidc_provider, discovery["authorization_endpoint"], "openid")
        without_pkce = request.url.replace("code_challenge=", "ignored=")
        refused = await oidc_provider.login(client, without_pkce, "petrov.parent@example.org", "esia-petrov")
        assert parse_qs(urlsplit(refused).query)["error"] == ["invalid_request"]

        redirect = await oidc_provider.login(client, request.url, "petrov.parent@example.org", "esia-petrov")
        code = parse_qs(urlsplit(redirect).query)["code"][0]
        response = await client.post(
            discovery["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": oidc_provider.redirect_uri,
                "code_verifier": secrets.token_urlsafe(48),  # not the one the challenge came from
            },
            auth=(oidc_provider.client_id, oidc_provider.client_secret),
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_signing_key_survives_a_restart(tmp_path: Path) -> None:
    def kid() -> str:
        (port,) = _process.free_ports(1)
        provider = OidcProvider(
            tmp_path, port, client_id="c", client_secret="s", redirect_uris=["http://rp.test/cb"]
        )
        with provider:
            keys = httpx.get(f"{provider.issuer}/jwks").json()["keys"]
        assert not provider.is_running()
        return str(keys[0]["kid"])

    assert kid() == kid()
    assert (tmp_path / "logs" / "oidc-provider.log").is_file()


def test_command_line_starts_and_stops_the_provider(tmp_path: Path) -> None:
    (port,) = _process.free_ports(1)
    argv = [
        sys.executable, "-m", "diary_devinfra.oidc_provider", "--port", str(port),
        "--state-dir", str(tmp_path), "--client-secret", "dev",
        "--redirect-uri", "http://127.0.0.1:1/federated/esia/callback",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the provider did not answer"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        node = _process.port_holder(port)
        assert node is not None
        assert node[1][0].endswith("node")
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert not _process.pid_alive(node[0]), "node must not outlive the command"
