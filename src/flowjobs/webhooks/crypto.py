"""Webhook secrets at rest: encrypted with the deployment's key (Fernet:
AES-128-CBC with HMAC-SHA256, from the ``cryptography`` package).

``FLOWJOBS_SECRET_KEY`` holds one or more comma-separated Fernet keys. The
first encrypts; every one decrypts, so a key is rotated by putting the new key
first, re-encrypting (``flowjobs webhook reencrypt``) and then dropping the old
one (docs/webhooks.md).

``cryptography`` is imported only once a key is configured (or made): a
deployment without webhooks keeps its processes about 7 MB smaller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowjobs.errors import ConfigurationError, SecretDecryptionError, SecretKeyMissingError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


def new_key() -> str:
    """A fresh Fernet key for FLOWJOBS_SECRET_KEY."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Encrypts and decrypts webhook secrets; never logs or shows them."""

    def __init__(self, keys: Sequence[str]) -> None:
        self._fernet = _multi_fernet(keys) if keys else None

    @property
    def configured(self) -> bool:
        return self._fernet is not None

    def require(self) -> None:
        """Raise SecretKeyMissingError unless a key is configured."""
        self._keys()

    def _keys(self) -> MultiFernet:
        if self._fernet is None:
            raise SecretKeyMissingError(
                "Webhooks need FLOWJOBS_SECRET_KEY, the key that encrypts their secrets "
                "(make one with `flowjobs webhook new-key`)"
            )
        return self._fernet

    def encrypt(self, secret: str) -> str:
        return self._keys().encrypt(secret.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        keys = self._keys()  # cryptography is imported from here on
        from cryptography.fernet import InvalidToken

        try:
            return keys.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretDecryptionError() from None

    def rotate(self, token: str) -> str:
        """The same secret, encrypted with the first key."""
        keys = self._keys()
        from cryptography.fernet import InvalidToken

        try:
            return keys.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise SecretDecryptionError() from None


def _multi_fernet(keys: Sequence[str]) -> MultiFernet:
    from cryptography.fernet import Fernet, MultiFernet

    fernets = []
    for number, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key))
        except ValueError:
            # The message never repeats the key: it is a secret.
            raise ConfigurationError(
                f"FLOWJOBS_SECRET_KEY: key {number} is not a Fernet key "
                "(32 url-safe base64-encoded bytes); make one with `flowjobs webhook new-key`"
            ) from None
    return MultiFernet(fernets)
