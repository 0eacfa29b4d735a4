"""Unsubscribe links: a signed token naming the guardian, so a link works without signing in.

The token is the account id and an HMAC of it under the service's secret; it changes nothing
but that guardian's e-mail preference, so it needs no expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote
from uuid import UUID


class UnsubscribeLinks:
    def __init__(self, secret: str, base_url: str) -> None:
        self._key = secret.encode()
        self._base = base_url.rstrip("/")

    def token(self, account_id: UUID) -> str:
        mac = hmac.new(self._key, account_id.bytes, hashlib.sha256).digest()[:18]
        return f"{account_id}.{base64.urlsafe_b64encode(mac).decode()}"

    def link(self, account_id: UUID) -> str:
        return f"{self._base}/api/v1/notifications/unsubscribe?token={quote(self.token(account_id))}"

    def account_of(self, token: str) -> UUID | None:
        """The guardian a genuine token names; None for anything forged or mangled."""
        account, _, _ = token.partition(".")
        try:
            account_id = UUID(account)
        except ValueError:
            return None
        return account_id if hmac.compare_digest(self.token(account_id), token) else None
