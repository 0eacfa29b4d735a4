"""What a service accepts as an access token, verified against the identity service's JWKS."""

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from diary_kernel.access_tokens import AccessTokenVerifier, InvalidToken, RemoteKeySet

ISSUER = "https://identity.example"
AUDIENCE = "diary"


def _b64(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_key(kid: str) -> tuple[rsa.RSAPrivateKey, dict[str, str]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = key.public_key().public_numbers()
    return key, {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }


KEY, JWK = new_key("k1")
OTHER_KEY, OTHER_JWK = new_key("k2")


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 600,
        "roles": [{"role": "teacher", "school_id": str(uuid.uuid4()), "person_id": str(uuid.uuid4())}],
        "amr": ["pwd"],
    }
    return {**base, **overrides}


def sign(payload: Mapping[str, Any], key: Any = KEY, kid: str = "k1", alg: str = "RS256") -> str:
    return jwt.encode(dict(payload), key, algorithm=alg, headers={"kid": kid})


class Jwks:
    def __init__(self, *keys: dict[str, str]) -> None:
        self.keys = list(keys)
        self.fetches = 0

    async def __call__(self) -> Mapping[str, Any]:
        self.fetches += 1
        return {"keys": self.keys}


def verifier(jwks: Jwks) -> AccessTokenVerifier:
    return AccessTokenVerifier(RemoteKeySet(jwks, min_refetch=0.0), issuer=ISSUER, audience=AUDIENCE)


async def test_a_valid_token_gives_the_account_and_its_roles() -> None:
    payload = claims()
    verified = await verifier(Jwks(JWK)).verify(sign(payload))
    assert str(verified.account_id) == payload["sub"]
    assert verified.roles[0].role == "teacher"
    assert verified.has_role("teacher")
    assert not verified.has_role("operator")


def _unsigned(payload: Mapping[str, Any]) -> str:
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"k1","typ":"JWT"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(dict(payload)).encode()).rstrip(b"=").decode()
    return f"{header}.{body}."


def _hmac_with_public_key(payload: Mapping[str, Any]) -> str:
    # The classic confusion attack: HS256 keyed with the public key's bytes.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"k1"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(dict(payload)).encode()).rstrip(b"=").decode()
    signature = hmac.new(JWK["n"].encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (_unsigned(claims()), "'none'"),
        (_hmac_with_public_key(claims()), "'HS256'"),
        (sign(claims(), key=OTHER_KEY, kid="k1"), "not valid"),
        (sign(claims(), key=OTHER_KEY, kid="k2"), "unknown key"),
        (sign(claims(exp=int(time.time()) - 120)), "expired"),
        (sign(claims(iss="https://elsewhere.example")), "not valid"),
        (sign(claims(aud="another-platform")), "not valid"),
        (sign({k: v for k, v in claims().items() if k != "sid"}), "not valid"),
        (jwt.encode(claims(), KEY, algorithm="RS256"), "names no signing key"),
        ("not.a.token", "not a signed token"),
    ],
    ids=[
        "alg-none",
        "hs256-confusion",
        "wrong-key",
        "unknown-kid",
        "expired",
        "issuer",
        "audience",
        "no-sid",
        "no-kid",
        "garbage",
    ],
)
async def test_forged_or_stale_tokens_are_refused(token: str, reason: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        await verifier(Jwks(JWK)).verify(token)
    assert reason in str(refused.value)


async def test_a_rotated_key_is_fetched_when_a_token_names_it() -> None:
    jwks = Jwks(JWK)
    check = verifier(jwks)
    await check.verify(sign(claims()))
    assert jwks.fetches == 1
    await check.verify(sign(claims()))
    assert jwks.fetches == 1  # cached
    jwks.keys.append(OTHER_JWK)  # the identity service published its next key
    verified = await check.verify(sign(claims(), key=OTHER_KEY, kid="k2"))
    assert verified.session_id
    assert jwks.fetches == 2
