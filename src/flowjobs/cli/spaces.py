"""Space, key and usage commands, with the quota parser."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import typer

from flowjobs.catalog import Keep
from flowjobs.cli.common import (
    JsonOpt,
    SpaceOpt,
    _emit,
    _with_catalog,
    _with_services,
    app,
    key_app,
    space_app,
    table,
)
from flowjobs.domain import (
    KeyKind,
    KeyListing,
    Space,
)
from flowjobs.schemas import SpaceUsage

QuotaOpt = Annotated[
    str | None,
    typer.Option(
        "--quota-seconds",
        help="free execution seconds a month (UTC), or 'unlimited' (the default)",
        metavar="N|unlimited",
    ),
]


def parse_quota(text: str) -> float | None:
    """``--quota-seconds``: a number of seconds, zero or more, or ``unlimited`` (None)."""
    if text.strip().lower() == "unlimited":
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise typer.BadParameter(
            f"{text!r}: expected seconds (0 or more) or 'unlimited'", param_hint="--quota-seconds"
        )
    return seconds


def _space_json(space: Space) -> dict[str, Any]:
    return {
        "id": space.id,
        "name": space.name,
        "parallelLimit": space.parallel_limit,
        "priority": space.priority,
        "quotaSeconds": space.quota_seconds,
        "payAsYouGo": space.pay_as_you_go,
    }


def _billing_text(space: Space) -> str:
    quota = "unlimited" if space.quota_seconds is None else f"{space.quota_seconds:g} s a month"
    return f"quota {quota}, pay-as-you-go {'on' if space.pay_as_you_go else 'off'}"


@space_app.command("create")
def space_create(
    ctx: typer.Context,
    name: str,
    parallel_limit: Annotated[int, typer.Option(min=1, max=10000)] = 1,
    priority: Annotated[int, typer.Option(min=0, max=10)] = 0,
    quota_seconds: QuotaOpt = None,
    pay_as_you_go: Annotated[
        bool, typer.Option("--pay-as-you-go", help="jobs still start past the quota")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a space."""
    quota = None if quota_seconds is None else parse_quota(quota_seconds)
    space = _with_catalog(
        ctx,
        lambda c: c.create_space(
            name,
            parallel_limit=parallel_limit,
            priority=priority,
            quota_seconds=quota,
            pay_as_you_go=pay_as_you_go,
        ),
    )
    _emit(as_json, _space_json(space), f"space {space.name} created: {space.id}")


@space_app.command("update")
def space_update(
    ctx: typer.Context,
    space: Annotated[str, typer.Argument(help="the space's id or name")],
    quota_seconds: QuotaOpt = None,
    pay_as_you_go: Annotated[
        bool | None,
        typer.Option("--pay-as-you-go/--no-pay-as-you-go", help="jobs still start past the quota"),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a space's monthly quota and pay-as-you-go."""
    if quota_seconds is None and pay_as_you_go is None:
        typer.echo(
            "error: nothing to change: give --quota-seconds and/or "
            "--pay-as-you-go / --no-pay-as-you-go",
            err=True,
        )
        raise typer.Exit(2)
    quota = Keep.KEEP if quota_seconds is None else parse_quota(quota_seconds)
    updated = _with_catalog(
        ctx,
        lambda c: c.update_space_billing(space, quota_seconds=quota, pay_as_you_go=pay_as_you_go),
    )
    _emit(as_json, _space_json(updated), f"space {updated.name}: {_billing_text(updated)}")


@space_app.command("list")
def space_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """List the spaces: name, id, parallel limit, priority, quota."""
    found = _with_catalog(ctx, lambda c: c.list_spaces())
    rows = [
        [
            space.name,
            space.id,
            str(space.parallel_limit),
            str(space.priority),
            _billing_text(space),
        ]
        for space in found
    ]
    text = table(["NAME", "ID", "PARALLEL", "PRIORITY", "BILLING"], rows)
    _emit(as_json, {"spaces": [_space_json(space) for space in found]}, text)


@key_app.command("create")
def key_create(
    ctx: typer.Context,
    space: SpaceOpt,
    kind: Annotated[KeyKind, typer.Option(case_sensitive=False)] = KeyKind.SOLVER,
    name: Annotated[str | None, typer.Option(help="a label for the key")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API key; its secret is printed once and never stored."""
    created = _with_catalog(ctx, lambda c: c.create_key(space, kind, name))
    data = {
        "id": created.key.id,
        "key": created.secret,
        "kind": created.key.kind.value,
        "spaceId": created.key.space_id,
    }
    _emit(
        as_json,
        data,
        f"{kind.value} key {created.key.id}: {created.secret}\n(shown once: store it now)",
    )


def _key_json(listing: KeyListing) -> dict[str, Any]:
    revoked = listing.revoked_at
    return {
        "id": listing.key.id,
        "name": listing.key.name,
        "kind": listing.key.kind.value,
        "spaceId": listing.key.space_id,
        "createdAt": listing.created_at.isoformat(),
        "revokedAt": None if revoked is None else revoked.isoformat(),
    }


@key_app.command("list")
def key_list(ctx: typer.Context, space: SpaceOpt, as_json: JsonOpt = False) -> None:
    """List a space's keys: id, name, kind, created, revoked (never a secret)."""
    listings = _with_catalog(ctx, lambda c: c.list_keys(space))
    if as_json:
        typer.echo(json.dumps({"keys": [_key_json(k) for k in listings]}))
        return
    rows = [
        [
            k.key.id,
            k.key.kind.value,
            f"{k.created_at:%Y-%m-%d %H:%M:%S}",
            "active" if k.revoked_at is None else f"revoked {k.revoked_at:%Y-%m-%d %H:%M:%S}",
            k.key.name or "",
        ]
        for k in listings
    ]
    typer.echo(table(["ID", "KIND", "CREATED (UTC)", "STATE", "NAME"], rows))


@key_app.command("revoke")
def key_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="the key's id (flowjobs key list)")],
    as_json: JsonOpt = False,
) -> None:
    """Revoke an API key: every server refuses it within a second (401)."""
    _with_catalog(ctx, lambda c: c.revoke_key(key_id))
    _emit(as_json, {"id": key_id, "revoked": True}, f"key {key_id} revoked")


def _usage_text(usage: SpaceUsage) -> str:
    def seconds(value: float | None) -> str:
        return "unlimited" if value is None else f"{value:g} s"

    counts = ", ".join(f"{state} {n}" for state, n in usage.jobCounts.model_dump().items())
    return "\n".join(
        [
            f"space {usage.spaceName} ({usage.spaceId}), {usage.month} (UTC)",
            f"used       {seconds(usage.usedSeconds)}",
            f"billed     {seconds(usage.billedSeconds)}",
            f"quota      {seconds(usage.quotaSeconds)}, "
            f"pay-as-you-go {'on' if usage.payAsYouGo else 'off'}",
            f"remaining  {seconds(usage.remainingSeconds)}",
            f"jobs       {counts}",
        ]
    )


@app.command("usage")
def usage_command(
    ctx: typer.Context,
    space: Annotated[str, typer.Argument(help="the space's id or name")],
    month: Annotated[
        str | None, typer.Option(help="YYYY-MM (UTC); default: the current month")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a space's execution seconds (used, billed, remaining) and jobs by state."""
    report = _with_services(ctx, lambda s: s.usage.report(space, month))
    usage = SpaceUsage.from_report(report)
    _emit(as_json, usage.model_dump(mode="json"), _usage_text(usage))


# ---- webhooks ------------------------------------------------------------------------
