"""Webhook commands: create, list, delete, new-key, reencrypt."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from flowjobs.cli.common import (
    JsonOpt,
    SpaceOpt,
    _emit,
    _with_services,
    webhook_app,
)
from flowjobs.domain import (
    Webhook,
    WebhookEvent,
)
from flowjobs.runtime import Services
from flowjobs.schemas import WebhookCreate, WebhookPublic
from flowjobs.webhooks import CreatedWebhook, new_key


def _webhook_line(hook: Webhook) -> str:
    state = "enabled" if hook.enabled else "disabled"
    rules = "all flows" if hook.base_ids is None else f"{len(hook.base_ids)} flow(s)"
    events = ",".join(e.value for e in hook.events)
    return f"{hook.alias:<24} {state:<8} {events:<40} {rules:<10} {hook.url}  {hook.id}"


@webhook_app.command("create")
def webhook_create(
    ctx: typer.Context,
    space: SpaceOpt,
    url: Annotated[str, typer.Option("--url", help="where events are POSTed (http or https)")],
    alias: Annotated[str, typer.Option("--alias", help="unique in the space")],
    event: Annotated[
        list[WebhookEvent] | None,
        typer.Option("--event", help="an event to send (repeat it); default: all three"),
    ] = None,
    rule: Annotated[
        list[str] | None,
        typer.Option("--rule", help="a flow's id or alias (repeat it); default: every flow"),
    ] = None,
    description: Annotated[str | None, typer.Option(help="a note for people")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="create it switched off")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a webhook; its signing secret is printed once."""
    try:
        spec = WebhookCreate(
            url=url,
            alias=alias,
            enabled=not disabled,
            description=description,
            events=event or list(WebhookEvent),
            rules=rule or "all",
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        typer.echo(f"error: {problems}", err=True)
        raise typer.Exit(1) from None

    async def create(services: Services) -> CreatedWebhook:
        found = await services.catalog.space(space)
        return await services.webhooks.create(found.id, spec)

    created = _with_services(ctx, create)
    data = WebhookPublic.from_webhook(created.webhook).model_dump(mode="json")
    _emit(
        as_json,
        data | {"secret": created.secret},
        f"webhook {created.webhook.alias} created: {created.webhook.id}\n"
        f"signing secret: {created.secret}\n(shown once: store it now)",
    )


@webhook_app.command("list")
def webhook_list(ctx: typer.Context, space: SpaceOpt, as_json: JsonOpt = False) -> None:
    """List the webhooks of a space."""

    async def find(services: Services) -> list[Webhook]:
        return await services.webhooks.list_webhooks((await services.catalog.space(space)).id)

    found = _with_services(ctx, find)
    data = {"webhooks": [WebhookPublic.from_webhook(w).model_dump(mode="json") for w in found]}
    header = f"{'ALIAS':<24} {'STATE':<8} {'EVENTS':<40} {'FLOWS':<10} URL  ID"
    _emit(as_json, data, "\n".join([header, *(_webhook_line(w) for w in found)]))


@webhook_app.command("delete")
def webhook_delete(
    ctx: typer.Context,
    space: SpaceOpt,
    webhook: Annotated[str, typer.Argument(help="the webhook's id or alias")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a webhook with its deliveries (pending ones are not sent)."""

    async def delete(services: Services) -> Webhook:
        space_id = (await services.catalog.space(space)).id
        hook = await services.webhooks.get(space_id, webhook)
        await services.webhooks.delete(space_id, hook.id)
        return hook

    hook = _with_services(ctx, delete)
    _emit(as_json, {"deleted": hook.id, "alias": hook.alias}, f"webhook {hook.alias} deleted")


@webhook_app.command("new-key")
def webhook_new_key() -> None:
    """Print a new key for FLOWJOBS_SECRET_KEY (it encrypts webhook secrets)."""
    typer.echo(new_key())


@webhook_app.command("reencrypt")
def webhook_reencrypt(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Encrypt every webhook secret with the first key of FLOWJOBS_SECRET_KEY
    (key rotation: put the new key first, run this, then drop the old key)."""
    count = _with_services(ctx, lambda s: s.webhooks.reencrypt())
    _emit(as_json, {"reencrypted": count}, f"{count} webhook secrets encrypted with the first key")


# ---- jobs, through the API -------------------------------------------------------------
