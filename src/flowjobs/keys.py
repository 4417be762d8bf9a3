"""API key secrets: generation and hashing. Only the hash is ever stored."""

from __future__ import annotations

import hashlib
import secrets

from flowjobs.domain import KeyKind

_PREFIX = {KeyKind.SOLVER: "fjs_", KeyKind.MANAGEMENT: "fjm_"}


def new_secret(kind: KeyKind) -> str:
    """A 256-bit random key; the prefix only helps a human tell kinds apart."""
    return _PREFIX[kind] + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    # A fast hash suffices: keys carry 256 bits of entropy, so no dictionary
    # or brute-force attack applies, and lookups stay one index probe.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
