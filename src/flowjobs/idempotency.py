"""What a start with an ``Idempotency-Key`` asks for, so that a repeat of the
same request gets the first job and a different one with the same key is
refused (the manager's start)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flowjobs.domain import IdempotentRequest, RuleVersion
from flowjobs.versions import parse_version


def idempotent_request(
    key: str | None, rule: RuleVersion, version: str | None, input_data: Any
) -> IdempotentRequest | None:
    """The key with a hash of what the start asks for: the rule, the version
    as asked (``latest`` and none are the same) and the input."""
    if not key:
        return None
    spec = "latest" if version in (None, "latest") else str(parse_version(version))
    text = json.dumps(
        [rule.base_id, spec, input_data], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return IdempotentRequest(key, hashlib.sha256(text.encode()).hexdigest())
