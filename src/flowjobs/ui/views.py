"""What the pages show, computed from the services' records. Pure functions:
no I/O, so the templates only lay things out."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flowjobs.domain import (
    ACTIVE_STATES,
    FINAL_STATES,
    JobRecord,
    JobState,
    RuleStatus,
    RuleVersion,
    WebhookDelivery,
)
from flowjobs.errors import BadRequestError
from flowjobs.ui.formatting import run_seconds

CANCELLABLE = frozenset({JobState.WAITING, JobState.RUNNING})
RERUNNABLE = frozenset({JobState.ERROR, JobState.CANCELED})


@dataclass(frozen=True)
class FlowSummary:
    """One rule of the space with all its versions, oldest first."""

    base_id: str
    alias: str
    name: str
    description: str | None
    type: str
    versions: list[RuleVersion]

    @property
    def latest(self) -> RuleVersion:
        return self.versions[-1]

    @property
    def published(self) -> list[RuleVersion]:
        return [v for v in self.versions if v.status is RuleStatus.PUBLISHED]

    @property
    def startable(self) -> bool:
        return self.type == "integration-flow" and bool(self.published)

    def version(self, number: int | None) -> RuleVersion:
        """That version, or the latest published one (else the latest)."""
        for candidate in self.versions:
            if candidate.version == number:
                return candidate
        return (self.published or self.versions)[-1]


def flow_summaries(versions: list[RuleVersion]) -> list[FlowSummary]:
    """Versions grouped by rule, rules in alias order."""
    grouped: dict[str, list[RuleVersion]] = {}
    for version in versions:
        grouped.setdefault(version.base_id, []).append(version)
    summaries = []
    for rule_versions in grouped.values():
        ordered = sorted(rule_versions, key=lambda v: v.version)
        last = ordered[-1]
        summaries.append(
            FlowSummary(last.base_id, last.alias, last.name, last.description, last.type, ordered)
        )
    return sorted(summaries, key=lambda s: s.alias.lower())


def find_flow(flows: list[FlowSummary], identifier: str) -> FlowSummary | None:
    return next((f for f in flows if identifier in (f.alias, f.base_id)), None)


@dataclass(frozen=True)
class JobRow:
    job: JobRecord
    alias: str  # the rule's alias, or its baseId when the rule is gone
    run_seconds: float | None

    @property
    def state(self) -> str:
        return self.job.state.value

    @property
    def cancellable(self) -> bool:
        return self.job.state in CANCELLABLE

    @property
    def rerunnable(self) -> bool:
        return self.job.state in RERUNNABLE

    @property
    def final(self) -> bool:
        return self.job.state in FINAL_STATES

    @property
    def active(self) -> bool:
        return self.job.state in ACTIVE_STATES


def job_row(job: JobRecord, alias: str, now: datetime) -> JobRow:
    return JobRow(job, alias, run_seconds(job.claimed_at, job.ended_at, now))


def job_rows(jobs: list[JobRecord], flows: list[FlowSummary], now: datetime) -> list[JobRow]:
    aliases = {f.base_id: f.alias for f in flows}
    return [job_row(job, aliases.get(job.base_id, job.base_id), now) for job in jobs]


@dataclass(frozen=True)
class Deliveries:
    """A job's webhook deliveries, newest first, and the space's webhooks'
    aliases by id (a delivery of a deleted webhook shows its id)."""

    items: list[WebhookDelivery]
    aliases: dict[str, str]

    def alias(self, delivery: WebhookDelivery) -> str:
        return self.aliases.get(delivery.webhook_id, delivery.webhook_id)


@dataclass(frozen=True)
class ListQuery:
    """The Jobs page's filters, as read from its query string."""

    states: frozenset[JobState]
    rule: str | None
    version: int | None
    cursor: str | None

    def query_string(self, *, cursor: str | None = None) -> str:
        pairs: list[tuple[str, str]] = [("state", s.value) for s in JobState if s in self.states]
        if self.rule:
            pairs.append(("rule", self.rule))
        if self.version is not None:
            pairs.append(("version", str(self.version)))
        if cursor:
            pairs.append(("cursor", cursor))
        return urlencode(pairs)


def parse_version(text: str | None) -> int | None:
    """A version from a form or query: empty means any; else a positive integer."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise BadRequestError(f"version must be a positive integer, not {text[:40]!r}")
    return int(text)


def parse_states(values: list[str]) -> frozenset[JobState]:
    states = set()
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                states.add(JobState(part.strip().upper()))
            except ValueError:
                raise BadRequestError(f"unknown job state {part[:40]!r}") from None
    return frozenset(states)


class InputError(ValueError):
    """The JSON typed as a job's input is not valid; the message says where."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_input(text: str) -> Any:
    """A job's input typed on the Flows page: any JSON value; empty is {}."""
    if not text.strip():
        return {}
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"Line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:
        raise InputError(str(exc)[:200]) from exc


@dataclass(frozen=True)
class TraceBar:
    """One node execution on the job's timeline, in per-mille of the run."""

    entry: dict[str, Any]
    offset_ms: float
    duration_ms: float
    x: float  # 0..1000
    width: float  # 0..1000, at least a sliver so that instant nodes show


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def timeline(entries: list[dict[str, Any]], now: datetime) -> list[TraceBar]:
    """Trace entries placed on one time axis, from the first start to the
    last end (an entry still running ends at ``now``)."""
    spans = []
    for entry in entries:
        start = _parse_time(entry.get("startedAt"))
        if start is None:
            continue
        end = _parse_time(entry.get("endedAt")) or max(now, start)
        spans.append((entry, start, end))
    if not spans:
        return []
    first = min(s for _, s, _ in spans)
    last = max(e for _, _, e in spans)
    total_ms = max((last - first).total_seconds() * 1000, 1.0)
    bars = []
    for entry, start, end in spans:
        offset = (start - first).total_seconds() * 1000
        length = (end - start).total_seconds() * 1000
        width = max(1000 * length / total_ms, 4.0)
        x = min(1000 * offset / total_ms, 1000 - width)
        bars.append(TraceBar(entry, offset, length, x, width))
    return bars
