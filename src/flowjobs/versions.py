"""Rule versions as clients name them: a positive integer, or ``latest``."""

from __future__ import annotations

from flowjobs.domain import RuleStatus, RuleVersion
from flowjobs.errors import InvalidVersionError, RuleVersionNotFoundError


def parse_version(spec: str) -> int:
    """The version number ``spec`` names; 400 unless it is a positive integer."""
    if not (spec.isascii() and spec.isdigit()) or len(spec) > 9 or int(spec) < 1:
        raise InvalidVersionError(
            f"version must be a positive integer or 'latest', not {spec[:40]!r}"
        )
    return int(spec)


def resolve_version(versions: list[RuleVersion], spec: str | None) -> RuleVersion:
    """The published version named by ``spec``: an integer, ``latest`` or None."""
    published = [v for v in versions if v.status is RuleStatus.PUBLISHED]
    if spec is None or spec == "latest":
        if not published:
            raise RuleVersionNotFoundError("The rule has no published version")
        return published[-1]
    number = parse_version(spec)
    for version in published:
        if version.version == number:
            return version
    raise RuleVersionNotFoundError(
        f"Version {number} of the rule does not exist or is not published"
    )
