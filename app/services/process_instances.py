"""Process instances: start (C1–C6), query, delete, suspend, variables, activity tree.

Starting decides two things, in this order and only here:

* which definition — by id, or by key through `definitions.resolve_effective` (DESIGN §3);
* which tenant the instance belongs to — the definition's tenant when it has one; for a
  shared definition the explicit tenant (path `tenant-id/{t}`) or the caller's only tenant
  (C6: an instance is never shared). A caller of several tenants must name one (C3); an
  explicit tenant the caller is not a member of is 403.

`withoutTenantId` (Tessera extension of the start body, C4) starts the latest *shared*
version even when the tenant has its own; the instance still belongs to the tenant.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, Conflict, NotFound
from app.core.filters import (
    TenantSelector,
    refuse_both,
    uuid_equals,
    uuid_in,
    uuid_or_none,
    where_equal,
    where_like,
)
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import runtime_tenant
from app.models.repository import ProcessDefinition
from app.models.runtime import ExternalTask, ProcessInstance, Task, Variable
from app.services import engine, execution, runtime_events, workflow_views
from app.services.definitions import get_definition, resolve_effective
from app.services.variables import TypedValue


@dataclass(frozen=True, slots=True)
class Started:
    instance_id: uuid.UUID
    definition_id: str
    business_key: str | None
    tenant_id: str
    ended: bool
    variables: Mapping[str, TypedValue]


async def start_by_id(
    session: AsyncSession,
    definition_id: str,
    *,
    business_key: str | None,
    variables: Mapping[str, TypedValue],
    tenant_selector_given: bool,
) -> Started:
    if tenant_selector_given:  # C5, as Camunda's "Cannot specify a tenant-id ..."
        raise BadRequest("A start by definition id takes no tenantId or withoutTenantId.")
    definition = await get_definition(session, ProcessDefinition, definition_id)
    assert isinstance(definition, ProcessDefinition)
    tenant = definition.tenant_id or runtime_tenant(session, None)
    return await _start(session, definition, tenant, business_key, variables)


async def start_by_key(
    session: AsyncSession,
    key: str,
    *,
    tenant_id: str | None,
    without_tenant: bool,
    business_key: str | None,
    variables: Mapping[str, TypedValue],
) -> Started:
    if without_tenant:
        tenant = runtime_tenant(session, tenant_id)
        definition = await resolve_effective(session, ProcessDefinition, key, without_tenant=True)
    else:
        definition = await resolve_effective(session, ProcessDefinition, key, tenant_id=tenant_id)
        tenant = definition.tenant_id or runtime_tenant(session, tenant_id)
    assert isinstance(definition, ProcessDefinition)
    return await _start(session, definition, tenant, business_key, variables)


async def _start(
    session: AsyncSession,
    definition: ProcessDefinition,
    tenant_id: str,
    business_key: str | None,
    variables: Mapping[str, TypedValue],
) -> Started:
    if definition.suspended:
        raise BadRequest(f"Process definition {definition.id} is suspended.")
    tree = await execution.start_tree(
        session, definition, tenant_id=tenant_id, business_key=business_key, variables=variables
    )
    view = await execution.store(session, tree)
    root = view.instances[0]
    return Started(
        instance_id=root.id,
        definition_id=definition.id,
        business_key=business_key,
        tenant_id=tenant_id,
        ended=root.completed,
        variables=execution.typed_variables(tree, root),
    )


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class InstanceFilter:
    ids: Sequence[str] | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    definition_id: str | None = None
    definition_key: str | None = None
    super_instance: str | None = None
    sub_instance: str | None = None
    active: bool = False
    suspended: bool = False
    definition_without_tenant: bool = False  # instances of shared definitions only
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        model = ProcessInstance
        refuse_both(self.active, self.suspended, "active and suspended")
        if self.ids is not None:
            statement = statement.where(uuid_in(model.id, self.ids))
        statement = where_equal(
            statement,
            {
                model.business_key: self.business_key,
                model.process_definition_id: self.definition_id,
                model.process_definition_key: self.definition_key,
            },
        )
        statement = where_like(statement, {model.business_key: self.business_key_like})
        if self.super_instance is not None:
            statement = statement.where(
                uuid_equals(model.super_process_instance_id, self.super_instance)
            )
        if self.sub_instance is not None:
            sub = select(ProcessInstance.super_process_instance_id).where(
                ProcessInstance.id == uuid_or_none(self.sub_instance)
            )
            statement = statement.where(model.id.in_(sub.scalar_subquery()))
        if self.definition_without_tenant:
            shared = select(ProcessDefinition.id).where(ProcessDefinition.tenant_id.is_(None))
            statement = statement.where(model.process_definition_id.in_(shared.scalar_subquery()))
        if self.active:
            statement = statement.where(model.suspended.is_(False))
        if self.suspended:
            statement = statement.where(model.suspended.is_(True))
        return self.tenants.apply(statement, model.tenant_id)


_SORT_COLUMNS = {
    "instanceId": ProcessInstance.id,
    "definitionKey": ProcessInstance.process_definition_key,
    "definitionId": ProcessInstance.process_definition_id,
    "businessKey": ProcessInstance.business_key,
    "tenantId": ProcessInstance.tenant_id,
}


async def list_instances(
    session: AsyncSession, *, filters: InstanceFilter, sorting: Sorting, page: Page
) -> Sequence[ProcessInstance]:
    statement = sorting.apply(
        filters.apply(select(ProcessInstance)), _SORT_COLUMNS, tiebreak=ProcessInstance.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_instances(session: AsyncSession, *, filters: InstanceFilter) -> int:
    return await count_rows(session, filters.apply(select(ProcessInstance)))


async def get_instance(session: AsyncSession, instance_id: str) -> ProcessInstance:
    """404 alike for an unknown id and another tenant's instance (C9)."""
    found = await _visible(session, instance_id)
    if found is None:
        raise NotFound("Process instance not found.")
    return found


async def _visible(session: AsyncSession, instance_id: str) -> ProcessInstance | None:
    parsed = uuid_or_none(instance_id)
    return None if parsed is None else await session.get(ProcessInstance, parsed)


# --------------------------------------------------------------------------- commands


async def _locked(session: AsyncSession, instance_id: str) -> tuple[execution.Tree, uuid.UUID]:
    parsed = uuid_or_none(instance_id)
    if parsed is None:
        raise NotFound("Process instance not found.")
    return await execution.load_tree(session, parsed), parsed


async def delete_instance(session: AsyncSession, instance_id: str, *, reason: str | None) -> None:
    """Delete the instance's whole call tree (from its root); history stays, marked
    EXTERNALLY_TERMINATED, with open tasks and activities ended."""
    tree, _ = await _locked(session, instance_id)
    root = tree.root
    instances = await execution.tree_instance_ids(session, tree)
    await execution.terminate_history(session, instances, reason=reason)
    runtime_events.instances_deleted(session, tree, instances, reason=reason)
    await session.delete(root)


async def set_suspended(session: AsyncSession, instance_id: str, *, suspended: bool) -> None:
    _, target = await _locked(session, instance_id)
    instance = await get_instance(session, instance_id)
    instance.suspended = suspended
    for model in (Task, ExternalTask):
        await session.execute(
            update(model).where(model.process_instance_id == target).values(suspended=suspended)
        )


def require_active(instance: ProcessInstance) -> None:
    if instance.suspended:
        raise Conflict(f"Process instance {instance.id} is suspended.")


# --------------------------------------------------------------------------- variables


async def instance_variables(
    session: AsyncSession, instance_id: uuid.UUID
) -> dict[str, TypedValue]:
    rows = await session.scalars(
        select(Variable).where(Variable.process_instance_id == instance_id).order_by(Variable.name)
    )
    return {row.name: TypedValue(row.type, row.value) for row in rows}


async def get_variables(session: AsyncSession, instance_id: str) -> dict[str, TypedValue]:
    instance = await get_instance(session, instance_id)
    return await instance_variables(session, instance.id)


async def get_variable(session: AsyncSession, instance_id: str, name: str) -> TypedValue:
    variables = await get_variables(session, instance_id)
    if name not in variables:
        raise NotFound(f"Variable {name!r} not found.")
    return variables[name]


async def modify_variables(
    session: AsyncSession,
    instance_id: str,
    *,
    modifications: Mapping[str, TypedValue],
    deletions: Sequence[str] = (),
) -> None:
    """Set and delete variables of one instance, in one command (all or nothing)."""
    tree, target = await _locked(session, instance_id)
    await change_variables(session, tree, target, modifications, deletions)


async def change_variables(
    session: AsyncSession,
    tree: execution.Tree,
    instance_id: uuid.UUID,
    modifications: Mapping[str, TypedValue],
    deletions: Sequence[str],
) -> None:
    tasks = workflow_views.frontier_tasks(tree.workflow, instance_id, tree.root.id)
    for task in tasks:
        for name in deletions:
            task.data.pop(name, None)
        task.data.update({name: typed.value for name, typed in modifications.items()})
    for name, typed in modifications.items():
        tree.declared[(instance_id, name)] = typed.type
    await execution.store(session, tree)


# --------------------------------------------------------------------------- activity tree


async def activity_tree(session: AsyncSession, instance_id: str) -> dict[str, Any]:
    """Camunda's activity instance tree of a running instance (read, no lock)."""
    instance = await get_instance(session, instance_id)
    root = await session.get(ProcessInstance, instance.root_process_instance_id)
    if root is None or root.state is None:
        raise NotFound("Process instance not found.")
    definition = await session.get(ProcessDefinition, root.process_definition_id)
    if definition is None:
        raise NotFound("Process instance not found.")
    model = await execution.process_model(session, definition)
    script_engine, specs = await execution.engine_for(
        session, root, definition, model, root.called_definitions or {}
    )
    workflow = engine.restore(root.state, model, specs, script_engine)
    children = workflow_views.activity_children(workflow, instance.id, root.id)
    own = await session.get(ProcessDefinition, instance.process_definition_id)
    return _activity_json(
        str(instance.id),
        None,
        instance.process_definition_id,
        "processDefinition",
        own.name if own else None,
        children,
        instance,
    )


def _activity_json(
    node_id: str,
    parent: str | None,
    activity_id: str,
    activity_type: str,
    name: str | None,
    children: list[workflow_views.ActivityNode],
    instance: ProcessInstance,
) -> dict[str, Any]:
    """One node of Camunda's activity instance tree: the instance itself, or an activity."""
    return {
        "id": node_id,
        "parentActivityInstanceId": parent,
        "activityId": activity_id,
        "activityType": activity_type,
        "activityName": name,
        "name": name,
        "processInstanceId": str(instance.id),
        "processDefinitionId": instance.process_definition_id,
        "childActivityInstances": [
            _activity_json(
                f"{c.activity_id}:{c.id}",
                c.parent,
                c.activity_id,
                c.activity_type,
                c.name,
                c.children,
                instance,
            )
            for c in children
        ],
        "childTransitionInstances": [],
        # Tessera's executions are its instances (the executionId of its tasks, external
        # tasks and correlations, and what `/signal` takes as executionId).
        "executionIds": [str(instance.id)],
        "incidentIds": [],
        "incidents": [],
    }
