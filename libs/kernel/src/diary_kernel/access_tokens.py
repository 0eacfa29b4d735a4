"""Verifying the platform's access tokens (JWT signed by the identity service) anywhere.

The gateway and the services check a token locally against the identity service's published
keys (JWKS): no call per request. Only RS256 is accepted and every token must name its key
(`kid`), so `alg: none`, an HMAC signed with the public key, or a token from another issuer
are refused before any claim is read. An unknown `kid` makes the verifier fetch the key set
again (at most once per `min_refetch` seconds): that is how a freshly rotated key is picked up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol
from uuid import UUID

import httpx
import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

ALGORITHM = "RS256"


class InvalidToken(Exception):
    """The token is not one the platform issued, or no longer valid; the message says why."""


class RoleClaim(BaseModel):
    """One role in a token: `school_id` scopes it, `person_id` is the roster's teacher or pupil id."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    role: str
    school_id: UUID | None = None
    person_id: UUID | None = None


class AccessClaims(BaseModel):
    """What a verified access token says about its bearer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    account_id: UUID
    session_id: UUID
    roles: tuple[RoleClaim, ...] = ()
    expires_at: int
    methods: tuple[str, ...] = ()

    def has_role(self, role: str, school_id: UUID | None = None) -> bool:
        return any(r.role == role and (school_id is None or r.school_id == school_id) for r in self.roles)


class KeySet(Protocol):
    """Where public keys come from, by key id."""

    async def key(self, kid: str) -> jwt.PyJWK | None: ...


def key_set_from_jwks(document: Mapping[str, Any]) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document; others (encryption keys, other algs) are skipped."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys", []):
        if not isinstance(entry, Mapping) or entry.get("use", "sig") != "sig" or "kid" not in entry:
            continue
        if entry.get("kty") != "RSA" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        try:
            keys[str(entry["kid"])] = jwt.PyJWK(dict(entry), algorithm=ALGORITHM)
        except jwt.PyJWTError:
            continue
    return keys


class RemoteKeySet:
    """A JWKS fetched over HTTP(S) and cached; re-fetched for an unknown kid and when stale."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Mapping[str, Any]]],
        *,
        max_age: float = 300.0,
        min_refetch: float = 5.0,
    ) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._min_refetch = min_refetch
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, client: httpx.AsyncClient | None = None, **options: float) -> RemoteKeySet:
        async def fetch() -> Mapping[str, Any]:
            http = client or httpx.AsyncClient(timeout=5.0)
            try:
                response = await http.get(url)
                response.raise_for_status()
                document: Mapping[str, Any] = response.json()
                return document
            finally:
                if client is None:
                    await http.aclose()

        return cls(fetch, **options)

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if kid in self._keys and now - self._fetched_at < self._max_age:
            return self._keys[kid]
        if now - self._fetched_at >= self._min_refetch:
            async with self._lock:
                if time.monotonic() - self._fetched_at >= self._min_refetch:
                    try:
                        self._keys = key_set_from_jwks(await self._fetch())
                        self._fetched_at = time.monotonic()
                    except (httpx.HTTPError, ValueError) as exc:
                        if not self._keys:
                            raise InvalidToken(f"the signing keys could not be fetched: {exc}") from exc
        return self._keys.get(kid)


class AccessTokenVerifier:
    """Checks signature, issuer, audience and lifetime; returns the claims a handler needs."""

    def __init__(self, keys: KeySet, *, issuer: str, audience: str, leeway: float = 30.0) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    async def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken("not a signed token") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidToken(f"tokens signed with {header.get('alg')!r} are not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("the token names no signing key")
        key = await self._keys.key(kid)
        if key is None:
            raise InvalidToken("the token is signed with an unknown key")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"the token is not valid: {exc}") from exc
        try:
            return AccessClaims(
                account_id=claims["sub"],
                session_id=claims["sid"],
                roles=claims.get("roles", ()),
                expires_at=claims["exp"],
                methods=claims.get("amr", ()),
            )
        except ValidationError as exc:
            raise InvalidToken("the token's claims are malformed") from exc
