"""Login with ESIA (a real OpenID provider, configured like ESIA): new account, link, refusals."""

from urllib.parse import parse_qs, urlsplit

import httpx

from diary_devinfra.pytest_plugin import OidcTestProvider
from diary_kernel.testing import bearer
from identity.testing import STRONG_PASSWORD, IdentityUnderTest, link_token


async def esia_redirect(identity: IdentityUnderTest, provider: OidcTestProvider, login: str) -> str:
    """Start at identity, sign in at the provider as a browser would; the callback URL."""
    started = await identity.client.get("/federated/esia/login")
    assert started.status_code == 302
    location = started.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0]
    assert query["nonce"][0]
    async with httpx.AsyncClient(timeout=10) as browser:
        account = provider.account(login)
        return await provider.login(browser, location, account.login, account.password)


async def test_first_esia_login_creates_a_parent_account(
    identity: IdentityUnderTest, oidc_provider: OidcTestProvider
) -> None:
    callback = await esia_redirect(identity, oidc_provider, "petrov.parent@example.org")
    signed_in = await identity.client.get(callback)
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.headers["cache-control"] == "no-store"
    tokens = signed_in.json()
    me = (await identity.client.get("/me", headers=bearer(tokens["access_token"]))).json()
    assert me["email"] == "petrov.parent@example.org"
    assert me["registered_by"] == "esia"
    assert me["email_confirmed"] is True
    assert me["esia_linked"] is True
    assert [r["role"] for r in me["roles"]] == ["parent"]

    again = await identity.client.get(
        await esia_redirect(identity, oidc_provider, "petrov.parent@example.org")
    )
    assert again.json()["account_id"] == tokens["account_id"]


async def test_esia_login_links_the_account_registered_with_the_same_email(
    identity: IdentityUnderTest, oidc_provider: OidcTestProvider
) -> None:
    email = "ivanova.parent@example.org"
    before = identity.letters_to(email)
    await identity.client.post("/registrations", json={"email": email})
    letter = await identity.letter(email, "Подтверждение", after=before)
    registered = await identity.client.post(
        "/registrations/confirmation", json={"token": link_token(letter), "password": STRONG_PASSWORD}
    )
    account_id = registered.json()["account_id"]

    via_esia = await identity.client.get(await esia_redirect(identity, oidc_provider, email))
    assert via_esia.status_code == 200, via_esia.text
    assert via_esia.json()["account_id"] == account_id
    me = (await identity.client.get("/me", headers=bearer(via_esia.json()["access_token"]))).json()
    assert me["esia_linked"] is True
    assert me["registered_by"] == "email"
    assert (await identity.login(email)).status_code == 201


async def test_esia_answers_that_do_not_belong_to_this_login_are_refused(
    identity: IdentityUnderTest, oidc_provider: OidcTestProvider
) -> None:
    unverified = await identity.client.get(
        await esia_redirect(identity, oidc_provider, "smirnova.parent@example.org")
    )
    assert unverified.status_code == 403
    assert "confirmed e-mail" in unverified.json()["detail"]

    callback = await esia_redirect(identity, oidc_provider, "petrov.parent@example.org")
    # Another browser (no binding cookie) cannot finish this login: login CSRF.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=identity.app), base_url="http://identity.test"
    ) as other_browser:
        assert (await other_browser.get(callback)).status_code == 401
    # The state was spent by that attempt: replaying the answer fails too.
    assert (await identity.client.get(callback)).status_code == 401

    mixed_up = await esia_redirect(identity, oidc_provider, "petrov.parent@example.org")
    params = parse_qs(urlsplit(mixed_up).query)
    forged_issuer = await identity.client.get(
        "/federated/esia/callback",
        params={"code": params["code"][0], "state": params["state"][0], "iss": "https://evil.example"},
    )
    assert forged_issuer.status_code == 401
    assert forged_issuer.json()["errors"][0]["field"] == "iss"

    fresh = await esia_redirect(identity, oidc_provider, "petrov.parent@example.org")
    forged_state = fresh.replace("state=", "state=x")
    assert (await identity.client.get(forged_state)).status_code == 401
    denied = await identity.client.get(
        "/federated/esia/callback", params={"error": "access_denied", "state": "s"}
    )
    assert denied.status_code == 401
