"""Process and decision definitions: queries, and the one resolution "effective by key".

`resolve_effective()` is the single place that decides which definition a key means for a
caller (DESIGN §3 "Inheritance and override", "Resolution by key"); starting instances,
evaluating decisions, call activities and everything else resolved by key must use it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.errors import BadRequest, NotFound
from app.core.filters import TenantSelector, uuid_or_none
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import resolution_tenant
from app.models.repository import DecisionDefinition, DeploymentResource, ProcessDefinition

Definition = ProcessDefinition | DecisionDefinition
# The two kinds a router serves, named here so that routers import their service only.
PROCESS_DEFINITIONS: type[ProcessDefinition] = ProcessDefinition
DECISION_DEFINITIONS: type[DecisionDefinition] = DecisionDefinition


@dataclass(frozen=True, slots=True)
class DefinitionFilter:
    """Camunda's definition query parameters (shared by process and decision queries)."""

    id: str | None = None
    id_in: Sequence[str] | None = None
    key: str | None = None
    key_like: str | None = None
    name: str | None = None
    name_like: str | None = None
    version: int | None = None
    version_tag: str | None = None
    latest_version: bool = False
    deployment_id: str | None = None
    resource_name: str | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any], model: type[Definition]) -> Select[Any]:
        equals = {
            model.id: self.id,
            model.key: self.key,
            model.name: self.name,
            model.version: self.version,
            model.version_tag: self.version_tag,
            model.resource_name: self.resource_name,
        }
        for column, value in equals.items():
            if value is not None:
                statement = statement.where(column == value)
        if self.id_in is not None:
            statement = statement.where(model.id.in_(self.id_in))
        if self.key_like is not None:
            statement = statement.where(model.key.like(self.key_like))
        if self.name_like is not None:
            statement = statement.where(model.name.like(self.name_like))
        if self.deployment_id is not None:
            # A malformed id matches nothing, like an unknown one.
            statement = statement.where(model.deployment_id == uuid_or_none(self.deployment_id))
        statement = self.tenants.apply(statement, model.tenant_id)
        if self.latest_version:
            statement = statement.where(_is_latest(model))
        return statement


def _is_latest(model: type[Definition]) -> Any:
    """No newer version of the same key in the same tenant (or shared): one row per
    (tenant-or-shared, key) (A13). The inner queries see what the caller sees, and since
    each compares within one scope, visibility cannot change the answer.

    One guarded NOT EXISTS per scope, with `=` and `IS NULL` rather than COALESCE, so that
    each can walk its partial unique index (tenant_id, key, version) or (key, version):
    an admin's query would otherwise scan every tenant's definitions.
    """
    in_tenant, shared = aliased(model), aliased(model)
    newer_in_tenant = (
        select(in_tenant.id)
        .where(
            in_tenant.tenant_id == model.tenant_id,
            in_tenant.key == model.key,
            in_tenant.version > model.version,
        )
        .exists()
    )
    newer_shared = (
        select(shared.id)
        .where(
            shared.tenant_id.is_(None),
            shared.key == model.key,
            shared.version > model.version,
        )
        .exists()
    )
    return and_(
        or_(model.tenant_id.is_(None), ~newer_in_tenant),
        or_(model.tenant_id.isnot(None), ~newer_shared),
    )


def _sort_columns(model: type[Definition]) -> dict[str, Any]:
    columns = {
        "id": model.id,
        "key": model.key,
        "name": model.name,
        "version": model.version,
        "versionTag": model.version_tag,
        "deploymentId": model.deployment_id,
        "tenantId": model.tenant_id,
        "category": model.category,
    }
    if model is ProcessDefinition:
        columns["processDefinitionId"] = columns["id"]
    return columns


async def list_definitions(
    session: AsyncSession,
    model: type[Definition],
    *,
    filters: DefinitionFilter,
    sorting: Sorting,
    page: Page,
) -> Sequence[Definition]:
    statement = sorting.apply(
        filters.apply(select(model), model), _sort_columns(model), tiebreak=model.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_definitions(
    session: AsyncSession, model: type[Definition], *, filters: DefinitionFilter
) -> int:
    return await count_rows(session, filters.apply(select(model), model))


async def get_definition(
    session: AsyncSession, model: type[Definition], definition_id: str
) -> Definition:
    """404 alike for an unknown id and another tenant's definition (B6)."""
    definition = await session.get(model, definition_id)
    if not isinstance(definition, ProcessDefinition | DecisionDefinition):
        raise NotFound(f"{_label(model)} not found.")
    return definition


async def resolve_effective(
    session: AsyncSession,
    model: type[Definition],
    key: str,
    *,
    tenant_id: str | None = None,
    without_tenant: bool = False,
) -> Definition:
    """The definition `key` means for the caller (B7).

    * `without_tenant`: the latest shared version.
    * Else the target tenant: explicit `tenant_id` (403 unless the caller is a member),
      else the caller's only tenant; a caller of several tenants gets 400 (tenant
      required); a caller of none (e.g. an admin without memberships) gets the shared one.
    * For a target tenant: its own latest version if it has one, else the latest shared.
    """
    if tenant_id is not None and without_tenant:
        raise BadRequest("tenantId and withoutTenantId cannot be combined.")
    target = None if without_tenant else resolution_tenant(session, tenant_id)
    found = await resolve_reference(session, model, key, scope=target)
    if found is None:
        raise NotFound(f"{_label(model)} not found.")
    return found


BINDINGS = ("latest", "deployment", "version", "versionTag")


async def resolve_reference(
    session: AsyncSession,
    model: type[Definition],
    key: str,
    *,
    scope: str | None,
    binding: str = "latest",
    version: int | None = None,
    version_tag: str | None = None,
    deployment_id: uuid.UUID | None = None,
) -> Definition | None:
    """`key` inside one scope: `scope` None = shared definitions only; a tenant = that
    tenant's own definitions first, then the shared ones (the effective definition).

    Camunda's bindings of a reference from a model (call activity, business rule task):
    `latest`; `deployment` (the one in the referencing definition's deployment);
    `version` (that version number, counted within its tenant or shared); `versionTag`
    (the latest version carrying that tag). None when nothing matches.
    """
    candidates = select(model).where(model.key == key)
    if binding == "deployment":
        candidates = candidates.where(model.deployment_id == deployment_id)
    elif binding == "version":
        candidates = candidates.where(model.version == version)
    elif binding == "versionTag":
        candidates = candidates.where(model.version_tag == version_tag)
    elif binding != "latest":
        raise BadRequest(f"binding must be one of: {', '.join(BINDINGS)}, not {binding!r}.")
    if scope is None:
        candidates = candidates.where(model.tenant_id.is_(None))
    else:
        candidates = candidates.where((model.tenant_id == scope) | model.tenant_id.is_(None))
    # Own tenant first (NULL sorts last ascending), then the newest version.
    statement = candidates.order_by(model.tenant_id.asc().nulls_last(), model.version.desc())
    found = (await session.scalars(statement.limit(1))).first()
    return found if isinstance(found, ProcessDefinition | DecisionDefinition) else None


async def event_start_definitions(
    session: AsyncSession,
    names: Any,
    name: str,
    *,
    tenants: Sequence[str] | None,
    shared_only: bool = False,
) -> list[tuple[ProcessDefinition, str]]:
    """The definitions a message or signal `name` starts, each with the tenant the new
    instance belongs to: for each tenant of `tenants`, its effective definitions (its own
    latest version of a key, else the latest shared one) whose start events wait for
    `name`. `names` is the column (`ProcessDefinition.start_messages` / `start_signals`).

    `tenants` None: every tenant whose own latest definition waits for it (an admin without
    memberships; a shared definition needs a tenant to run for, so none is started).
    `shared_only`: only shared definitions, for each tenant (`withoutTenantId`).
    """
    candidates = select(ProcessDefinition).where(
        names.contains([name]),
        _is_latest(ProcessDefinition),
        ProcessDefinition.suspended.is_(False),
    )
    if shared_only:
        candidates = candidates.where(ProcessDefinition.tenant_id.is_(None))
    elif tenants is not None:
        candidates = candidates.where(
            ProcessDefinition.tenant_id.in_(tenants) | ProcessDefinition.tenant_id.is_(None)
        )
    else:
        candidates = candidates.where(ProcessDefinition.tenant_id.isnot(None))
    rows = list((await session.scalars(candidates.order_by(ProcessDefinition.id))).all())
    if tenants is None:
        return [(row, row.tenant_id) for row in rows if row.tenant_id is not None]
    shared = [row for row in rows if row.tenant_id is None]
    # A tenant with a version of its own of a key never runs the shared one (B7).
    overridden: set[tuple[str, str]] = set()
    if shared and not shared_only and tenants:
        overridden = {
            (str(tenant), key)
            for tenant, key in await session.execute(
                select(ProcessDefinition.tenant_id, ProcessDefinition.key)
                .where(
                    ProcessDefinition.tenant_id.in_(tenants),
                    ProcessDefinition.key.in_({row.key for row in shared}),
                )
                .distinct()
            )
        }
    found = []
    for tenant in tenants:
        found += [(row, tenant) for row in rows if row.tenant_id == tenant]
        found += [(row, tenant) for row in shared if (tenant, row.key) not in overridden]
    return found


async def definition_xml(session: AsyncSession, definition: Definition) -> str:
    resource = await session.scalar(
        select(DeploymentResource).where(
            and_(
                DeploymentResource.deployment_id == definition.deployment_id,
                DeploymentResource.name == definition.resource_name,
            )
        )
    )
    if resource is None:
        raise NotFound("The definition's resource is missing.")
    return resource.content.decode("utf-8")


def _label(model: type[Definition]) -> str:
    return "Process definition" if model is ProcessDefinition else "Decision definition"
