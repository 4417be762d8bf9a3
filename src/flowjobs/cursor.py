"""The ``nextCursor`` of a job listing: an opaque position after a job.

A newest-first listing continues after ``(created_at, id)`` of its last job
(keyset pagination); the cursor is that pair as URL-safe base64 JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from flowjobs.domain import JobRecord
from flowjobs.errors import InvalidRequestError
from flowjobs.ids import is_uuid


def encode_cursor(job: JobRecord) -> str:
    """An opaque position after ``job`` in a newest-first listing."""
    text = json.dumps([job.created_at.isoformat(), job.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor of :func:`encode_cursor` names; 400 for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = json.loads(text)
        position = (datetime.fromisoformat(created), str(job_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidRequestError("cursor is not a nextCursor of this listing") from exc
    if position[0].tzinfo is None or not is_uuid(position[1]):
        raise InvalidRequestError("cursor is not a nextCursor of this listing")
    return position
