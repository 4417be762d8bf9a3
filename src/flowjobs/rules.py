"""Rules as the Management API manages them: create, read, update, publish,
add a version, delete, list. The catalog judges the flows (the same checks as
``flowjobs rule push``); :mod:`flowjobs.rulejson` maps the SDKs' rule JSON.

Versions are named by a number or ``latest``, which here is the highest
version whatever its status (a job start's ``latest`` is the highest
*published* one).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from flowjobs.catalog import Catalog, alias_key, alias_of
from flowjobs.clock import utcnow
from flowjobs.domain import RULE_TYPE_COMPOSITION, RULE_TYPE_FLOW, RuleStatus, RuleVersion
from flowjobs.errors import (
    AlreadyExistsError,
    InvalidRuleError,
    RuleExistsError,
    RuleNotFoundError,
    RuleVersionInUseError,
    RuleVersionNotFoundError,
)
from flowjobs.ruleio import (
    ExportFormatError,
    export_document,
    export_with_rules,
    exported_id,
    exported_rules,
    folder_export,
    referenced_ids,
    remap_rule_flow,
)
from flowjobs.rulejson import STATUSES, RuleChange, apply_rule_json, dr_document, is_dr_rule
from flowjobs.versions import parse_version


def pick_version(versions: list[RuleVersion], spec: str | None) -> RuleVersion:
    """The version named by ``spec``: a number, or the highest for None / latest."""
    if spec is None or spec == "latest":
        return versions[-1]
    number = parse_version(spec)
    for version in versions:
        if version.version == number:
            return version
    raise RuleVersionNotFoundError(f"Version {number} of the rule does not exist")


class RuleService:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.store = catalog.store

    async def list_rules(self, space_id: str) -> list[RuleVersion]:
        """Every version of every rule of the space, by alias then version."""
        return await self.store.list_rule_versions(space_id)

    async def get(self, space_id: str, identifier: str, version: str | None) -> RuleVersion:
        return pick_version(await self._versions(space_id, identifier), version)

    async def create(self, space_id: str, body: Any) -> RuleVersion:
        """A new rule, version 1; a flow is pending unless the body says
        published, a DecisionRules rule published unless it says pending (as
        DecisionRules creates rules)."""
        change = apply_rule_json(body, set_alias=True)
        await self._validate(space_id, change)
        alias = alias_of(change.document)
        document = {**change.document, alias_key(change.document): alias}
        if await self.store.find_rule_versions(space_id, alias):
            raise self._exists(alias)
        now = utcnow()
        default = RuleStatus.PUBLISHED if is_dr_rule(document) else RuleStatus.PENDING
        rule = self._version_of(
            str(uuid.uuid4()), space_id, alias, 1, change.status or default, document
        )
        rule = replace(rule, created_at=now, updated_at=now)
        try:
            await self.store.insert_rule_version(rule, now, new_rule=True)
        except AlreadyExistsError as exc:  # created meanwhile by another call
            raise self._exists(alias) from exc
        return rule

    async def update(
        self, space_id: str, identifier: str, version: str | None, body: Any
    ) -> RuleVersion:
        """Lay the body over one version (the highest by default). Its number
        and the rule's id and alias do not change."""
        versions = await self._versions(space_id, identifier)
        target = pick_version(versions, version)
        self._require_managed(target)
        change = apply_rule_json(body, target.document)
        await self._validate(space_id, change, alias=target.alias)
        rule = self._version_of(
            target.base_id,
            space_id,
            target.alias,
            target.version,
            change.status or target.status,
            change.document,
        )
        now = utcnow()
        latest = target.version == versions[-1].version
        if not await self.store.update_rule_version(rule, now, latest=latest):
            raise RuleVersionNotFoundError(f"Version {target.version} of the rule does not exist")
        return replace(rule, created_at=target.created_at, updated_at=now)

    async def set_status(
        self, space_id: str, identifier: str, status: RuleStatus, version: str | None
    ) -> RuleVersion:
        target = await self.get(space_id, identifier, version)
        now = utcnow()
        if not await self.store.set_rule_status(target.base_id, target.version, status, now):
            raise RuleVersionNotFoundError(f"Version {target.version} of the rule does not exist")
        return replace(target, status=status, updated_at=now)

    async def new_version(self, space_id: str, identifier: str, body: Any) -> RuleVersion:
        """The next version: a copy of the highest one with the body laid over it,
        pending unless the body says published. The name and alias stay."""
        latest = (await self._versions(space_id, identifier))[-1]
        self._require_managed(latest)
        change = apply_rule_json(body, latest.document, rename=False)
        await self._validate(space_id, change, alias=latest.alias)
        rule = self._version_of(
            latest.base_id,
            space_id,
            latest.alias,
            0,  # numbered by the store, under the rule's lock
            change.status or RuleStatus.PENDING,
            change.document,
        )
        now = utcnow()
        number = await self.store.insert_next_version(rule, now)
        if number is None:
            raise RuleNotFoundError(f"No rule with id or alias {identifier[:100]!r} in this space")
        return replace(rule, version=number, created_at=now, updated_at=now)

    async def delete(self, space_id: str, identifier: str, version: str | None) -> None:
        """Delete one version, or every version when ``version`` is None; the
        rule goes with its last version. Refused while jobs still need them."""
        versions = await self._versions(space_id, identifier)
        targets = versions if version is None else [pick_version(versions, version)]
        numbers = [v.version for v in targets]
        in_use, deleted = await self.store.delete_rule_versions(targets[0].base_id, numbers)
        if in_use:
            named = ", ".join(str(n) for n in numbers)
            raise RuleVersionInUseError(
                f"{in_use} waiting or running job(s) use version {named} of the rule; "
                "cancel them (POST /job/cancelAll/rule/...) or let them end first"
            )
        if not deleted:
            raise RuleVersionNotFoundError("The rule version was deleted meanwhile")

    # ---- import and export --------------------------------------------------------

    async def import_rules(self, space_id: str, exported: Any) -> list[RuleVersion]:
        """Import a rule, a rule flow with its rules, or a folder export. A rule
        whose alias exists here gets a new version; others are created. Every
        rule is checked before any is written; a rule flow's references are
        rewritten to the ids its rules have here."""
        try:
            documents = exported_rules(exported)
        except ExportFormatError as exc:
            raise InvalidRuleError([str(exc)]) from exc
        prepared = _distinct_aliases([_imported(document) for document in documents])
        problems: list[str] = []
        arriving = frozenset(alias_of(document) for document, _ in prepared)
        for document, _ in prepared:
            for problem in await self._import_problems(space_id, document, arriving):
                problems.append(f"{str(document.get('name'))[:100]!r}: {problem}")
        if problems:
            raise InvalidRuleError(problems)
        ids: dict[str, str] = {}
        imported = []
        for (document, status), original in zip(prepared, documents, strict=True):
            if document.get("type") == RULE_TYPE_COMPOSITION:
                document = remap_rule_flow(document, ids)
            rule = await self._store_imported(space_id, document, status)
            old_id = exported_id(original)
            if old_id is not None:
                ids[old_id] = rule.base_id
            imported.append(rule)
        return imported

    async def export(self, space_id: str, identifier: str, version: str | None) -> Any:
        """A rule as DecisionRules exports it; a rule flow with the rules it uses."""
        rule = await self.get(space_id, identifier, version)
        if rule.type != RULE_TYPE_COMPOSITION:
            return export_document(rule)
        used = []
        for base_id in referenced_ids(rule.document):
            versions = await self.store.find_rule_versions(space_id, base_id)
            if versions:
                used.append(versions[-1])
        return export_with_rules(rule, used)

    async def export_space(self, space_id: str, name: str) -> dict[str, Any]:
        """The highest version of every rule of the space, as a folder export."""
        latest: dict[str, RuleVersion] = {}
        for rule in await self.store.list_rule_versions(space_id):
            latest[rule.base_id] = rule  # oldest first: the last one stays
        return folder_export(name, list(latest.values()))

    async def _import_problems(
        self, space_id: str, document: dict[str, Any], arriving: frozenset[str]
    ) -> list[str]:
        problems = await self.catalog.problems(space_id, document, arriving)
        existing = await self.store.find_rule_versions(space_id, alias_of(document))
        kind = document.get("type", RULE_TYPE_FLOW)
        if existing and existing[-1].type != kind:
            problems.append(f"type: {existing[-1].alias!r} is a {existing[-1].type} here")
        return problems

    async def _store_imported(
        self, space_id: str, document: dict[str, Any], status: RuleStatus
    ) -> RuleVersion:
        alias = alias_of(document)
        document = {**document, alias_key(document): alias}
        now = utcnow()
        versions = await self.store.find_rule_versions(space_id, alias)
        if versions:
            rule = self._version_of(versions[-1].base_id, space_id, alias, 0, status, document)
            number = await self.store.insert_next_version(rule, now)
            if number is None:
                raise RuleNotFoundError(f"The rule {alias!r} was deleted meanwhile")
            return replace(rule, version=number, created_at=now, updated_at=now)
        rule = self._version_of(str(uuid.uuid4()), space_id, alias, 1, status, document)
        try:
            await self.store.insert_rule_version(rule, now, new_rule=True)
        except AlreadyExistsError as exc:
            raise self._exists(alias) from exc
        return replace(rule, created_at=now, updated_at=now)

    # ---- helpers ----------------------------------------------------------------

    async def _versions(self, space_id: str, identifier: str) -> list[RuleVersion]:
        versions = await self.store.find_rule_versions(space_id, identifier)
        if not versions:
            raise RuleNotFoundError(f"No rule with id or alias {identifier[:100]!r} in this space")
        return versions

    async def _validate(
        self, space_id: str, change: RuleChange, *, alias: str | None = None
    ) -> None:
        """Every problem of the body's fields and of the flow, or nothing."""
        # Judged under the rule's alias, so that calls back to it are cycles.
        document = change.document
        if alias is not None:
            document = {**document, alias_key(document): alias}
        problems = change.problems + await self.catalog.problems(space_id, document)
        if problems:
            raise InvalidRuleError(problems)

    @staticmethod
    def _require_managed(rule: RuleVersion) -> None:
        """Integration flows and DecisionRules' decision tables and rule flows
        can be changed here; other types (imported as they are) cannot."""
        if rule.type != RULE_TYPE_FLOW and not is_dr_rule(rule.document):
            kind = f"type: rule {rule.alias!r} is a {rule.type}"
            raise InvalidRuleError([f"{kind}, which cannot be changed here"])

    @staticmethod
    def _exists(alias: str) -> RuleExistsError:
        return RuleExistsError(
            f"A rule with the alias {alias!r} already exists in this space; "
            "add a version with POST /api/rule/{idOrAlias}/new-version"
        )

    @staticmethod
    def _version_of(
        base_id: str,
        space_id: str,
        alias: str,
        number: int,
        status: RuleStatus,
        document: dict[str, Any],
    ) -> RuleVersion:
        description = document.get("description")
        return RuleVersion(
            base_id=base_id,
            space_id=space_id,
            alias=alias,
            name=str(document.get("name", "")),
            description=description if isinstance(description, str) else None,
            type=str(document.get("type", RULE_TYPE_FLOW)),
            version=number,
            status=status,
            document=document,
        )


def _distinct_aliases(
    prepared: list[tuple[dict[str, Any], RuleStatus]],
) -> list[tuple[dict[str, Any], RuleStatus]]:
    """Rules of one export without an alias of their own get their name as a
    slug; when two come out the same (a rule flow named as its table), the
    later one gets its type appended, the same way every time, so that a
    second import finds the rules of the first."""
    taken: set[str] = set()
    distinct = []
    for document, status in prepared:
        alias = alias_of(document)
        if alias in taken and not document.get(alias_key(document)):
            alias = f"{alias}-{document.get('type', RULE_TYPE_FLOW)}"
            document = {**document, alias_key(document): alias}
        taken.add(alias)
        distinct.append((document, status))
    return distinct


def _imported(exported: dict[str, Any]) -> tuple[dict[str, Any], RuleStatus]:
    """An exported rule as it is stored here, and its status (as exported:
    DecisionRules' own rules default to published, flows to pending)."""
    flow = exported.get("type", RULE_TYPE_FLOW) == RULE_TYPE_FLOW
    document = apply_rule_json(exported, set_alias=True).document if flow else dr_document(exported)
    status = exported.get("status")
    if status in STATUSES:
        return document, RuleStatus(status)
    return document, RuleStatus.PENDING if flow else RuleStatus.PUBLISHED
