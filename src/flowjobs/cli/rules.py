"""Rule commands: push, list, validate, import, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from flowjobs.catalog import Catalog, document_problems
from flowjobs.cli.common import (
    JsonOpt,
    SpaceOpt,
    _emit,
    _with_catalog,
    _with_services,
    rule_app,
    table,
)
from flowjobs.domain import (
    RuleVersion,
)
from flowjobs.engine import load_flow_file
from flowjobs.errors import FlowjobsError, FlowValidationError
from flowjobs.runtime import Services


def _rule_json(rule: RuleVersion) -> dict[str, Any]:
    return {
        "baseId": rule.base_id,
        "ruleAlias": rule.alias,
        "version": rule.version,
        "status": rule.status.value,
    }


@rule_app.command("push")
def rule_push(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a flow document (.yaml, .yml or .json)")],
    space: SpaceOpt,
    publish: Annotated[bool, typer.Option("--publish", help="publish this version")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Push a flow or a DecisionRules rule (an exported decision table): a new
    rule, or a new version when it changed."""

    async def push(catalog: Catalog) -> RuleVersion:
        return await catalog.push_rule(space, load_flow_file(file), publish=publish)

    rule = _with_catalog(ctx, push)
    _emit(
        as_json,
        _rule_json(rule),
        f"{rule.alias} version {rule.version} ({rule.status.value}): {rule.base_id}",
    )


@rule_app.command("list")
def rule_list(ctx: typer.Context, space: SpaceOpt, as_json: JsonOpt = False) -> None:
    """List every version of the space's rules: alias, version, status, baseId."""

    async def versions(services: Services) -> list[RuleVersion]:
        return await services.rules.list_rules((await services.catalog.space(space)).id)

    found = _with_services(ctx, versions)
    rows = [[r.alias, str(r.version), r.status.value, r.type, r.base_id, r.name] for r in found]
    text = table(["ALIAS", "VERSION", "STATUS", "TYPE", "BASE ID", "NAME"], rows)
    _emit(as_json, {"rules": [_rule_json(r) | {"name": r.name} for r in found]}, text)


@rule_app.command("validate")
def rule_validate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="a flow document (.yaml, .yml or .json)")],
    as_json: JsonOpt = False,
) -> None:
    """Check a flow document without a server or database: its shape, rule
    fields and the engine's checks (calls to other flows are checked at push).
    Exit code 1 when it has problems."""
    try:
        document = load_flow_file(file)
    except FlowValidationError as exc:
        problems = exc.problems
    except FlowjobsError as exc:
        problems = [exc.message]
    else:
        problems, _ = document_problems(ctx.obj, document)
    text = (
        f"{file}: valid"
        if not problems
        else "\n".join([f"{file}: {len(problems)} problem(s)", *(f"  - {p}" for p in problems)])
    )
    _emit(as_json, {"file": str(file), "valid": not problems, "problems": problems}, text)
    if problems:
        raise typer.Exit(1)


def _load_export(file: Path) -> Any:
    """An export file: JSON (or YAML, by its suffix), whatever its top level."""
    try:
        text = file.read_text(encoding="utf-8")
        if file.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        typer.echo(f"error: cannot read {file}: {exc}", err=True)
        raise typer.Exit(1) from exc


@rule_app.command("import")
def rule_import(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="an export: a rule, a rule flow with its rules, a folder")
    ],
    space: SpaceOpt,
    as_json: JsonOpt = False,
) -> None:
    """Import rules exported from DecisionRules (or by `flowjobs rule export`).
    A rule whose alias exists gets a new version; others are created."""
    exported = _load_export(file)

    async def run(services: Services) -> list[RuleVersion]:
        found = await services.catalog.space(space)
        return await services.rules.import_rules(found.id, exported)

    imported = _with_services(ctx, run)
    if as_json:
        typer.echo(json.dumps({"rules": [_rule_json(rule) for rule in imported]}))
        return
    for rule in imported:
        typer.echo(f"{rule.alias} version {rule.version} ({rule.status.value}): {rule.base_id}")


@rule_app.command("export")
def rule_export(
    ctx: typer.Context,
    space: SpaceOpt,
    identifier: Annotated[
        str | None, typer.Argument(help="a rule's id or alias; default: every rule (a folder)")
    ] = None,
    version: Annotated[str | None, typer.Option("--version", help="default: the highest")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
) -> None:
    """Export a rule (a rule flow with its rules), or every rule of the space as
    a folder export, in DecisionRules' format (`flowjobs rule import` reads it)."""

    async def run(services: Services) -> Any:
        found = await services.catalog.space(space)
        if identifier is None:
            return await services.rules.export_space(found.id, found.name)
        return await services.rules.export(found.id, identifier, version)

    text = json.dumps(_with_services(ctx, run), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
