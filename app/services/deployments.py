"""Deployments: store BPMN/DMN resources and register the definitions in them.

Camunda 7 semantics with DESIGN §3's tenancy: the deployment's tenant (explicit, or shared
when none is given) propagates to every resource and definition in it (B1, B2). Deploying
for a tenant the caller is not a member of is 403, deploying shared needs an admin (B5).
Versions count per (tenant-or-shared, key) (B3); duplicate filtering compares only with
deployments of the same tenant (B4). Every resource is checked and every model parsed
before anything is stored: a bad file is a 400 naming it and the deployment is not created.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import advisory_xact_lock
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.filters import TenantSelector, uuid_or_none
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import can_write_shared, require_member
from app.models.history import HistoricDecisionInstance, HistoricProcessInstance
from app.models.identity import Tenant
from app.models.repository import (
    DecisionDefinition,
    Deployment,
    DeploymentResource,
    ProcessDefinition,
)
from app.models.runtime import ProcessInstance
from app.services import outbox
from app.services.definitions_parser import ParsedDefinition, is_definition_resource, parse_resource


@dataclass(frozen=True, slots=True)
class UploadedResource:
    name: str
    content: bytes

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class DeploymentResult:
    deployment: Deployment
    process_definitions: list[ProcessDefinition] = field(default_factory=list)
    decision_definitions: list[DecisionDefinition] = field(default_factory=list)


async def create_deployment(
    session: AsyncSession,
    *,
    name: str | None,
    source: str | None,
    tenant_id: str | None,
    resources: Sequence[UploadedResource],
    duplicate_filtering: bool = False,
    deploy_changed_only: bool = False,
) -> DeploymentResult:
    """Create a deployment, or return the previous one when duplicate filtering finds no
    change (its `*_definitions` lists are then empty, as Camunda answers null)."""
    await _check_target(session, tenant_id)
    _check_resources(resources)
    parsed = _parse_all(resources)
    if duplicate_filtering or deploy_changed_only:
        previous = await _latest_deployment(session, name=name, tenant_id=tenant_id)
        if previous is not None:
            changed = await _changed_resources(session, previous, resources)
            if not changed:
                return DeploymentResult(previous)
            if deploy_changed_only:
                names = {r.name for r in changed}
                resources = changed
                parsed = [p for p in parsed if p.resource_name in names]
    deployment = Deployment(name=name, source=source, tenant_id=tenant_id)
    session.add(deployment)
    await session.flush()
    session.add_all(
        DeploymentResource(
            deployment_id=deployment.id,
            tenant_id=tenant_id,
            name=r.name,
            content=r.content,
            checksum=r.checksum,
        )
        for r in resources
    )
    result = DeploymentResult(deployment)
    for definition in parsed:
        row = await _register(session, deployment, definition)
        if isinstance(row, ProcessDefinition):
            result.process_definitions.append(row)
        else:
            result.decision_definitions.append(row)
    await session.flush()
    _emit_created(session, result)
    return result


def _emit_created(session: AsyncSession, result: DeploymentResult) -> None:
    """In the deployment's tenant, or the system space for a shared one."""
    deployment = result.deployment
    payload = {
        "deploymentId": str(deployment.id),
        "name": deployment.name,
        "source": deployment.source,
        "processDefinitionIds": [d.id for d in result.process_definitions],
        "decisionDefinitionIds": [d.id for d in result.decision_definitions],
    }
    outbox.emit(session, "deployment.created", tenant_id=deployment.tenant_id, payload=payload)


async def _check_target(session: AsyncSession, tenant_id: str | None) -> None:
    """403 before any parsing for a tenant the caller is not in, or shared as a non-admin;
    400 when an admin names a tenant that does not exist (Tessera's tenants are real rows)."""
    if tenant_id is None:
        if not can_write_shared(session):
            raise Forbidden("Only administrators deploy to the shared space; give tenant-id.")
        return
    require_member(session, tenant_id)
    if await session.get(Tenant, tenant_id) is None:
        raise BadRequest(f"Tenant '{tenant_id}' does not exist.")


def _check_resources(resources: Sequence[UploadedResource]) -> None:
    if not resources:
        raise BadRequest("A deployment needs at least one resource.")
    names = [r.name for r in resources]
    if len(set(names)) != len(names):
        raise BadRequest("Resource names in a deployment must be unique.")
    for name in names:
        if not name or len(name) > 255:
            raise BadRequest("Resource names must be 1-255 characters.")


def _parse_all(resources: Sequence[UploadedResource]) -> list[ParsedDefinition]:
    parsed = [
        definition
        for r in resources
        if is_definition_resource(r.name)
        for definition in parse_resource(r.name, r.content)
    ]
    seen: set[tuple[str, str]] = set()
    for definition in parsed:
        if (definition.kind, definition.key) in seen:
            raise BadRequest(
                f"{definition.resource_name}: the {definition.kind} key "
                f"'{definition.key}' appears twice in this deployment."
            )
        seen.add((definition.kind, definition.key))
    return parsed


async def _latest_deployment(
    session: AsyncSession, *, name: str | None, tenant_id: str | None
) -> Deployment | None:
    """The newest deployment with this name in the same tenant (or shared): B4."""
    statement = (
        select(Deployment)
        .where(Deployment.name == name if name is not None else Deployment.name.is_(None))
        .where(_same_scope(Deployment.tenant_id, tenant_id))
        .order_by(Deployment.deployment_time.desc(), Deployment.id.desc())
        .limit(1)
    )
    return (await session.scalars(statement)).first()


async def _changed_resources(
    session: AsyncSession, previous: Deployment, resources: Sequence[UploadedResource]
) -> list[UploadedResource]:
    rows = await session.execute(
        select(DeploymentResource.name, DeploymentResource.checksum).where(
            DeploymentResource.deployment_id == previous.id
        )
    )
    before = {row.name: row.checksum for row in rows}
    return [r for r in resources if before.get(r.name) != r.checksum]


def _same_scope(column: Any, tenant_id: str | None) -> Any:
    return column.is_(None) if tenant_id is None else column == tenant_id


async def _register(
    session: AsyncSession, deployment: Deployment, parsed: ParsedDefinition
) -> ProcessDefinition | DecisionDefinition:
    """Next version of the key in the deployment's scope, under a transaction lock so that
    two concurrent deployments of one key cannot take the same number."""
    model: type[ProcessDefinition | DecisionDefinition] = (
        ProcessDefinition if parsed.kind == "process" else DecisionDefinition
    )
    scope = deployment.tenant_id or ""
    await advisory_xact_lock(session, f"{model.__tablename__}:{scope}:{parsed.key}")
    latest = await session.scalar(
        select(func.max(model.version)).where(
            model.key == parsed.key, _same_scope(model.tenant_id, deployment.tenant_id)
        )
    )
    version = (latest or 0) + 1
    values: dict[str, Any] = {
        "id": f"{parsed.key}:{version}:{uuid.uuid4()}",
        "tenant_id": deployment.tenant_id,
        "deployment_id": deployment.id,
        "key": parsed.key,
        "name": parsed.name,
        "version": version,
        "version_tag": parsed.version_tag,
        "category": parsed.category,
        "resource_name": parsed.resource_name,
        "history_time_to_live": parsed.history_time_to_live,
    }
    if model is ProcessDefinition:
        values["startable"] = parsed.startable
        values["start_messages"] = list(parsed.start_messages)
        values["start_signals"] = list(parsed.start_signals)
    row = model(**values)
    session.add(row)
    return row


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class DeploymentFilter:
    id: str | None = None
    name: str | None = None
    name_like: str | None = None
    source: str | None = None
    without_source: bool = False
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.id is not None:
            statement = statement.where(Deployment.id == uuid_or_none(self.id))
        if self.name is not None:
            statement = statement.where(Deployment.name == self.name)
        if self.name_like is not None:
            statement = statement.where(Deployment.name.like(self.name_like))
        if self.source is not None:
            statement = statement.where(Deployment.source == self.source)
        if self.without_source:
            statement = statement.where(Deployment.source.is_(None))
        return self.tenants.apply(statement, Deployment.tenant_id)


_DEPLOYMENT_SORT = {
    "id": Deployment.id,
    "name": Deployment.name,
    "deploymentTime": Deployment.deployment_time,
    "tenantId": Deployment.tenant_id,
}


async def list_deployments(
    session: AsyncSession, *, filters: DeploymentFilter, sorting: Sorting, page: Page
) -> Sequence[Deployment]:
    statement = sorting.apply(
        filters.apply(select(Deployment)), _DEPLOYMENT_SORT, tiebreak=Deployment.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_deployments(session: AsyncSession, *, filters: DeploymentFilter) -> int:
    return await count_rows(session, filters.apply(select(Deployment)))


async def get_deployment(session: AsyncSession, deployment_id: str) -> Deployment:
    """404 alike for an unknown id, a malformed one and another tenant's deployment (B6)."""
    key = uuid_or_none(deployment_id)
    deployment = await session.get(Deployment, key) if key is not None else None
    if deployment is None:
        raise NotFound("Deployment not found.")
    return deployment


async def list_resources(session: AsyncSession, deployment_id: str) -> Sequence[DeploymentResource]:
    deployment = await get_deployment(session, deployment_id)
    statement = (
        select(DeploymentResource)
        .where(DeploymentResource.deployment_id == deployment.id)
        .order_by(DeploymentResource.name)
    )
    return (await session.scalars(statement)).all()


async def get_resource(
    session: AsyncSession, deployment_id: str, resource_id: str
) -> DeploymentResource:
    deployment = await get_deployment(session, deployment_id)
    key = uuid_or_none(resource_id)
    resource = await session.get(DeploymentResource, key) if key is not None else None
    if resource is None or resource.deployment_id != deployment.id:
        raise NotFound("Deployment resource not found.")
    return resource


async def delete_deployment(
    session: AsyncSession, deployment_id: str, *, cascade: bool = False
) -> None:
    """Its resources and definitions go with it (ON DELETE CASCADE). Shared deployments
    are deleted only by admins (403 from the tenancy guard).

    Camunda's rule for runtime data: with running instances of its definitions the delete is
    a 409 unless `cascade`; `cascade` also deletes those instances and all history of the
    definitions. Without it, the history of finished instances stays (its definition
    reference becomes NULL).
    """
    deployment = await get_deployment(session, deployment_id)
    processes = select(ProcessDefinition.id).where(ProcessDefinition.deployment_id == deployment.id)
    decisions = select(DecisionDefinition.id).where(
        DecisionDefinition.deployment_id == deployment.id
    )
    if cascade:
        # The instances themselves go by ON DELETE CASCADE with their definitions.
        await session.execute(
            delete(HistoricProcessInstance).where(
                HistoricProcessInstance.process_definition_id.in_(processes.scalar_subquery())
            )
        )
        await session.execute(
            delete(HistoricDecisionInstance).where(
                HistoricDecisionInstance.decision_definition_id.in_(decisions.scalar_subquery())
            )
        )
    else:
        running = select(ProcessInstance.id).where(
            ProcessInstance.process_definition_id.in_(processes.scalar_subquery())
        )
        if await session.scalar(running.limit(1)) is not None:
            raise Conflict(
                "The deployment has running process instances: delete them first, or "
                "delete the deployment with cascade=true."
            )
    await session.delete(deployment)
    await session.flush()


async def redeploy(
    session: AsyncSession,
    deployment_id: str,
    *,
    resource_ids: Sequence[str] | None,
    resource_names: Sequence[str] | None,
    source: str | None,
) -> DeploymentResult:
    """A new deployment of (some of) the resources of an existing one, same name and tenant."""
    original = await get_deployment(session, deployment_id)
    chosen = [
        r
        for r in await list_resources(session, deployment_id)
        if (resource_ids is None and resource_names is None)
        or (resource_ids is not None and str(r.id) in resource_ids)
        or (resource_names is not None and r.name in resource_names)
    ]
    if not chosen:
        raise BadRequest("None of the given resources belongs to the deployment.")
    return await create_deployment(
        session,
        name=original.name,
        source=source,
        tenant_id=original.tenant_id,
        resources=[UploadedResource(r.name, r.content) for r in chosen],
    )
