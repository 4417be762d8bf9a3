"""Webhook secrets and signatures.

The signature is the lowercase hex HMAC-SHA256 of the exact body bytes, keyed
by the webhook's secret (as UTF-8): what DecisionRules receivers check in the
``x-webhook-signature`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "x-webhook-signature"
_PREFIX = "fjw_"  # like the fjs_ / fjm_ API keys: tells a person what it is


def new_secret() -> str:
    """A 256-bit random signing secret."""
    return _PREFIX + secrets.token_urlsafe(32)


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str, secret: str) -> bool:
    """What a receiver does (in constant time)."""
    return hmac.compare_digest(sign(body, secret), signature.strip().lower())
