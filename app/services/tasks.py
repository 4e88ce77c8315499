"""User tasks: query, read, update, claim, assign, complete, variables (C9, C10).

A task is visible when its tenant is (the tenancy core filters every query); another
tenant's task is 404 like a random id. Commands that change the process (complete) go
through `execution` under the instance tree's lock; commands that only change the task row
(claim, assignee, update) write the row and its history row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, func, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, Conflict, NotFound
from app.core.filters import (
    TenantSelector,
    refuse_both,
    uuid_in,
    uuid_or_none,
    where_equal,
    where_like,
)
from app.core.pagination import Page, Sorting, count_rows
from app.models.history import HistoricTask
from app.models.repository import ProcessDefinition
from app.models.runtime import Task
from app.services import engine, execution, workflow_views
from app.services.groups import groups_of_user
from app.services.process_instances import change_variables, instance_variables, require_active
from app.services.variables import TypedValue, infer


@dataclass(frozen=True, slots=True)
class TaskFilter:
    ids: Sequence[str] | None = None
    process_instance_ids: Sequence[str] | None = None
    definition_id: str | None = None
    definition_key: str | None = None
    task_definition_key: str | None = None
    name: str | None = None
    name_like: str | None = None
    assignee: str | None = None
    assigned: bool = False
    unassigned: bool = False
    candidate_groups: Sequence[str] | None = None
    candidate_user: str | None = None
    include_assigned: bool = False
    active: bool = False
    suspended: bool = False
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        refuse_both(self.assigned, self.unassigned, "assigned and unassigned")
        refuse_both(self.active, self.suspended, "active and suspended")
        if self.ids is not None:
            statement = statement.where(uuid_in(Task.id, self.ids))
        if self.process_instance_ids is not None:
            statement = statement.where(
                uuid_in(Task.process_instance_id, self.process_instance_ids)
            )
        statement = where_equal(
            statement,
            {
                Task.process_definition_id: self.definition_id,
                Task.task_definition_key: self.task_definition_key,
                Task.name: self.name,
                Task.assignee: self.assignee,
            },
        )
        if self.definition_key is not None:
            keys = select(ProcessDefinition.id).where(ProcessDefinition.key == self.definition_key)
            statement = statement.where(Task.process_definition_id.in_(keys.scalar_subquery()))
        statement = where_like(statement, {Task.name: self.name_like})
        if self.assigned:
            statement = statement.where(Task.assignee.isnot(None))
        if self.unassigned:
            statement = statement.where(Task.assignee.is_(None))
        statement = self._candidates(statement)
        if self.active:
            statement = statement.where(Task.suspended.is_(False))
        if self.suspended:
            statement = statement.where(Task.suspended.is_(True))
        return self.tenants.apply(statement, Task.tenant_id)

    def _candidates(self, statement: Select[Any]) -> Select[Any]:
        """Camunda: a candidate filter matches unassigned tasks unless includeAssignedTasks."""
        conditions = []
        if self.candidate_groups is not None:
            conditions.append(Task.candidate_groups.overlap(list(self.candidate_groups)))
        if self.candidate_user is not None:
            # Camunda: offered to the user, or to one of the user's groups.
            groups = func.array(
                groups_of_user(self.candidate_user).scalar_subquery(), type_=ARRAY(String)
            )
            conditions.append(
                or_(
                    Task.candidate_users.contains([self.candidate_user]),
                    Task.candidate_groups.overlap(groups),
                )
            )
        if not conditions:
            return statement
        for condition in conditions:
            statement = statement.where(condition)
        if not self.include_assigned:
            statement = statement.where(Task.assignee.is_(None))
        return statement


_SORT_COLUMNS = {
    "id": Task.id,
    "name": Task.name,
    "nameCaseInsensitive": Task.name,
    "assignee": Task.assignee,
    "created": Task.created_at,
    "priority": Task.priority,
    "dueDate": Task.due,
    "followUpDate": Task.follow_up,
    "processInstanceId": Task.process_instance_id,
    "taskDefinitionKey": Task.task_definition_key,
    "tenantId": Task.tenant_id,
}


async def list_tasks(
    session: AsyncSession, *, filters: TaskFilter, sorting: Sorting, page: Page
) -> Sequence[Task]:
    statement = sorting.apply(filters.apply(select(Task)), _SORT_COLUMNS, tiebreak=Task.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_tasks(session: AsyncSession, *, filters: TaskFilter) -> int:
    return await count_rows(session, filters.apply(select(Task)))


async def get_task(session: AsyncSession, task_id: str) -> Task:
    """404 alike for an unknown id and another tenant's task (C9)."""
    parsed = uuid_or_none(task_id)
    task = None if parsed is None else await session.get(Task, parsed)
    if task is None:
        raise NotFound("Task not found.")
    return task


async def _locked_task(session: AsyncSession, task_id: str) -> Task:
    """The task row locked for this transaction, for the commands that change only the row
    (claim, assign, update, identity links): two claims serialize (the second sees the
    first's assignee: 409), and one racing a completion finds the task gone (404)."""
    parsed = uuid_or_none(task_id)
    task = None
    if parsed is not None:
        task = await session.scalar(
            select(Task)
            .where(Task.id == parsed)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    if task is None:
        raise NotFound("Task not found.")
    return task


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True, slots=True)
class TaskChanges:
    """`PUT /task/{id}`: Camunda sends the whole task; `tenant_id` may only repeat the
    task's own (C10)."""

    name: str | None
    description: str | None
    assignee: str | None
    owner: str | None
    priority: int
    due: datetime | None
    follow_up: datetime | None
    tenant_id: str | None = None


async def update_task(session: AsyncSession, task_id: str, changes: TaskChanges) -> None:
    task = await _locked_task(session, task_id)
    if changes.tenant_id is not None:
        # Camunda sends the task's tenant back; another one is refused by the tenancy core
        # (TenantImmutable at flush, C10), not by a rule of this service.
        task.tenant_id = changes.tenant_id
    task.name = changes.name
    task.description = changes.description
    task.assignee = changes.assignee
    task.owner = changes.owner
    task.priority = changes.priority
    task.due = changes.due
    task.follow_up = changes.follow_up
    await _sync_history(session, task)
    await session.flush()


async def claim(session: AsyncSession, task_id: str, *, user_id: str) -> None:
    task = await _locked_task(session, task_id)
    if task.assignee is not None and task.assignee != user_id:
        raise Conflict(f"Task {task.id} is already claimed by someone else.")
    await set_assignee(session, task_id, user_id=user_id)


async def set_assignee(session: AsyncSession, task_id: str, *, user_id: str | None) -> None:
    task = await _locked_task(session, task_id)
    task.assignee = user_id
    await _sync_history(session, task)


async def _sync_history(session: AsyncSession, task: Task) -> None:
    historic = await session.get(HistoricTask, task.id)
    if historic is not None:
        historic.name = task.name
        historic.assignee = task.assignee
        historic.owner = task.owner
        historic.priority = task.priority


async def complete(
    session: AsyncSession,
    task_id: str,
    *,
    variables: Mapping[str, TypedValue],
    with_variables: bool = False,
) -> dict[str, TypedValue]:
    """Complete a task and run the process on; returns the instance's variables after it
    when asked (`withVariablesInReturn`). Two parallel completions complete it once: the
    second waits for the lock and then finds no task (404)."""
    task = await get_task(session, task_id)
    tree = await execution.lock_task(session, task)
    instance = await session.get(type(tree.root), task.process_instance_id)
    if instance is None:
        raise NotFound("Task not found.")
    require_active(instance)
    for name, typed in variables.items():
        tree.declared[(task.process_instance_id, name)] = typed.type
    engine.complete_task(tree.workflow, task.id, {n: t.value for n, t in variables.items()})
    view = await execution.store(session, tree)
    if not with_variables:
        return {}
    [after] = [i for i in view.instances if i.id == task.process_instance_id]
    # Still running: the rows just stored (with their kept types); ended: the last values.
    if after.completed:
        return execution.typed_variables(tree, after)
    return await instance_variables(session, after.id)


async def task_variables(session: AsyncSession, task_id: str) -> dict[str, TypedValue]:
    """Tessera keeps variables on the process instance; a task shows its instance's."""
    task = await get_task(session, task_id)
    return await instance_variables(session, task.process_instance_id)


async def set_task_variables(
    session: AsyncSession,
    task_id: str,
    *,
    modifications: Mapping[str, TypedValue],
    deletions: Sequence[str] = (),
) -> None:
    task = await get_task(session, task_id)
    tree = await execution.lock_task(session, task)
    await change_variables(session, tree, task.process_instance_id, modifications, deletions)


async def form_variables(session: AsyncSession, task_id: str) -> dict[str, TypedValue]:
    """The task form's fields (camunda:formData) with their current or default values;
    without a form, every variable of the instance (as Camunda)."""
    task = await get_task(session, task_id)
    variables = await instance_variables(session, task.process_instance_id)
    definition = await session.get(ProcessDefinition, task.process_definition_id)
    if definition is None:
        return variables
    model = await execution.process_model(session, definition)
    fields = workflow_views.form_fields(model, task.task_definition_key)
    if not fields:
        return variables
    return {name: variables.get(name) or infer(default or None) for name, default in fields.items()}


async def task_variable(session: AsyncSession, task_id: str, name: str) -> TypedValue:
    variables = await task_variables(session, task_id)
    if name not in variables:
        raise NotFound(f"Variable {name!r} not found.")
    return variables[name]


# --------------------------------------------------------------------------- identity links

IDENTITY_LINK_TYPES = ("candidate", "assignee", "owner")


@dataclass(frozen=True, slots=True)
class IdentityLink:
    user_id: str | None
    group_id: str | None
    type: str


async def identity_links(session: AsyncSession, task_id: str) -> list[IdentityLink]:
    """Camunda's identity links of a task: its assignee, owner and candidates."""
    task = await get_task(session, task_id)
    links = [IdentityLink(task.assignee, None, "assignee")] if task.assignee else []
    links += [IdentityLink(task.owner, None, "owner")] if task.owner else []
    links += [IdentityLink(user, None, "candidate") for user in task.candidate_users]
    links += [IdentityLink(None, group, "candidate") for group in task.candidate_groups]
    return links


async def change_identity_link(
    session: AsyncSession, task_id: str, link: IdentityLink, *, add: bool
) -> None:
    """Add or delete one link; a group may only be a candidate (Camunda's rule)."""
    if (link.user_id is None) == (link.group_id is None):
        raise BadRequest("An identity link names exactly one of userId and groupId.")
    if link.type not in IDENTITY_LINK_TYPES:
        raise BadRequest(f"type must be one of: {', '.join(IDENTITY_LINK_TYPES)}.")
    if link.group_id is not None and link.type != "candidate":
        raise BadRequest("A group can only be a candidate of a task.")
    task = await _locked_task(session, task_id)
    if link.type == "candidate":
        column = "candidate_users" if link.user_id is not None else "candidate_groups"
        current: list[str] = list(getattr(task, column))
        identity = link.user_id or link.group_id or ""
        changed = [*current, identity] if add and identity not in current else current
        setattr(task, column, changed if add else [i for i in current if i != identity])
    elif link.type == "assignee":
        task.assignee = link.user_id if add else None
    else:
        task.owner = link.user_id if add else None
    await _sync_history(session, task)
