"""Dashboard sessions: a signed cookie that holds a key id and a CSRF token.

The cookie never holds the key's secret. It is signed (HMAC-SHA256, ``itsdangerous``)
with the deployment's ``FLOWJOBS_UI_SECRET`` and carries its own issue time,
so a session ends after ``FLOWJOBS_UI_SESSION_HOURS`` whatever the browser
does. Every request checks again that the key still exists and is not revoked
(see ``ui/deps.py``). A visitor who has not signed in gets a session without a
key id, so that the sign-in form has a CSRF token too.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "flowjobs_ui"
_SALT = "flowjobs-ui-session"


@dataclass(frozen=True)
class Session:
    csrf: str  # the token every form of this session must send back
    key_id: str | None = None  # the Management key signed in; None before sign-in


class SessionCodec:
    """Turns sessions into signed cookie values and back."""

    def __init__(self, secret: str, max_age_seconds: float) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret, salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
        )
        self.max_age_seconds = max_age_seconds

    @staticmethod
    def new(key_id: str | None = None) -> Session:
        """A fresh session with a fresh CSRF token (a new one at every sign-in,
        so that a token seen before sign-in is worth nothing after it)."""
        return Session(csrf=secrets.token_urlsafe(32), key_id=key_id)

    def dumps(self, session: Session) -> str:
        data: dict[str, Any] = {"c": session.csrf}
        if session.key_id is not None:
            data["k"] = session.key_id
        return self._serializer.dumps(data)

    def loads(self, value: str | None) -> Session | None:
        """The session in a cookie value; None when it is missing, tampered
        with, expired or not of our making."""
        if not value:
            return None
        try:
            data = self._serializer.loads(value, max_age=int(self.max_age_seconds))
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        key_id = data.get("k")
        return Session(csrf=data["c"], key_id=key_id if isinstance(key_id, str) else None)


def csrf_matches(session: Session | None, token: str | None) -> bool:
    """The form's token is this session's (compared in constant time)."""
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())


def safe_next(target: str | None, prefix: str) -> str:
    """Where to go after sign-in: a path of the dashboard, never another site."""
    home = prefix + "/"
    if not target or not target.startswith(home) or target.startswith("//"):
        return home
    if any(c in target for c in "\\\r\n\t") or "//" in target:
        return home
    return target
