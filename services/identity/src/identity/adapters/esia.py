"""The relying-party side of OpenID Connect against ESIA (or any configured issuer).

Authorization code flow with PKCE (S256), `state` and `nonce`. The provider's metadata and keys
come from its discovery document; the ID token must be signed by one of its keys with RS256,
issued by the configured issuer for our client, fresh, and carry the nonce of this login. The
e-mail and whether the provider verified it come from the userinfo endpoint, whose subject must
be the ID token's.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from diary_kernel.access_tokens import ALGORITHM, RemoteKeySet
from identity.domain.accounts import IdentityError


class FederatedLoginFailed(IdentityError):
    status = 401


@dataclass(frozen=True)
class EsiaSettings:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: str = "openid fullname email"


@dataclass(frozen=True)
class EsiaIdentity:
    issuer: str
    subject: str
    email: str | None
    email_verified: bool


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class EsiaClient:
    def __init__(self, settings: EsiaSettings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http or httpx.AsyncClient(timeout=10.0)
        self._metadata: dict[str, Any] | None = None
        self._keys: RemoteKeySet | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
            try:
                response = await self._http.get(url)
                response.raise_for_status()
                document: dict[str, Any] = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise FederatedLoginFailed(f"the identity provider does not answer: {exc}") from exc
            if document.get("issuer") != self.settings.issuer:
                raise FederatedLoginFailed("the identity provider's metadata names another issuer")
            self._metadata = document
            self._keys = RemoteKeySet.from_url(document["jwks_uri"], self._http)
        return self._metadata

    async def authorization_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        metadata = await self.metadata()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.client_id,
                "redirect_uri": self.settings.redirect_uri,
                "scope": self.settings.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{metadata['authorization_endpoint']}?{query}"

    async def exchange(self, code: str, *, code_verifier: str, nonce: str) -> EsiaIdentity:
        metadata = await self.metadata()
        try:
            response = await self._http.post(
                metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.settings.redirect_uri,
                    "code_verifier": code_verifier,
                },
                auth=(self.settings.client_id, self.settings.client_secret),
            )
        except httpx.HTTPError as exc:
            raise FederatedLoginFailed(f"the identity provider does not answer: {exc}") from exc
        if response.status_code != 200:
            raise FederatedLoginFailed("the identity provider refused the authorization code")
        tokens = response.json()
        claims = await self._verified_id_token(str(tokens.get("id_token", "")), nonce)
        info = await self._userinfo(metadata, str(tokens.get("access_token", "")))
        if info and info.get("sub") != claims["sub"]:
            raise FederatedLoginFailed("the provider's userinfo is about another person")
        email = info.get("email") or claims.get("email")
        verified = info.get("email_verified", claims.get("email_verified", False))
        return EsiaIdentity(
            issuer=self.settings.issuer,
            subject=str(claims["sub"]),
            email=str(email) if email else None,
            email_verified=verified is True,
        )

    async def _verified_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise FederatedLoginFailed("the provider sent no valid ID token") from exc
        if header.get("alg") != ALGORITHM or not header.get("kid"):
            raise FederatedLoginFailed("the ID token is not signed the way the provider publishes")
        assert self._keys is not None
        key = await self._keys.key(str(header["kid"]))
        if key is None:
            raise FederatedLoginFailed("the ID token is signed with a key the provider does not publish")
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self.settings.client_id,
                issuer=self.settings.issuer,
                leeway=30,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise FederatedLoginFailed(f"the ID token is not valid: {exc}") from exc
        if not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
            raise FederatedLoginFailed("the ID token belongs to another login (nonce)")
        if "azp" in claims and claims["azp"] != self.settings.client_id:
            raise FederatedLoginFailed("the ID token was issued to another client")
        return claims

    async def _userinfo(self, metadata: dict[str, Any], access_token: str) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not endpoint or not access_token:
            return {}
        try:
            response = await self._http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            raise FederatedLoginFailed(f"the identity provider does not answer: {exc}") from exc
        if response.status_code != 200:
            raise FederatedLoginFailed("the identity provider refused the userinfo request")
        info: dict[str, Any] = response.json()
        return info
