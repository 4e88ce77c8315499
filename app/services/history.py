"""History queries: process instances, activity instances, tasks, variables and decisions.

Read-only, Camunda 7's historic queries. Visibility is the tenancy core's business (every
history row is tenant-owned, C7/E2); the filters here only narrow it (A7). Each list query has
a `count_*` twin built from the same filtered statement (A12).

Every row comes back as a `HistoryItem`: the ORM row plus the values Camunda's shape needs that
are not columns of it (durations, typed variable values, decision inputs and outputs, the root
process instance of an activity, task or variable). Their keys are the read schemas' field
names, so the API layer only merges them.

`withoutTenantId` is accepted on every query for client compatibility, but history rows always
belong to a tenant (`tenant_id NOT NULL`), so with it a query matches nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, NotFound
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
from app.models.history import (
    HistoricActivityInstance,
    HistoricDecisionInstance,
    HistoricProcessInstance,
    HistoricTask,
    HistoricVariable,
)
from app.services.variables import VARIABLE_TYPES, TypedValue, infer, to_camunda


@dataclass(frozen=True, slots=True)
class HistoryItem:
    """One history row and its derived Camunda fields (keys = read schema field names)."""

    row: Any
    extra: Mapping[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- predicates


def _finished(
    statement: Select[Any], end_time: Any, *, finished: bool, unfinished: bool
) -> Select[Any]:
    if finished:
        statement = statement.where(end_time.isnot(None))
    if unfinished:
        statement = statement.where(end_time.is_(None))
    return statement


def _duration(model: Any) -> Any:
    """What `sortBy=duration` orders by: NULL while unfinished (sorted like Camunda's NULL)."""
    return model.end_time - model.start_time


def duration_in_millis(start: datetime, end: datetime | None) -> int | None:
    """Camunda's `durationInMillis`: end - start of the millisecond timestamps it renders."""
    if end is None:
        return None

    def millis(moment: datetime) -> int:
        return int(moment.timestamp()) * 1000 + moment.microsecond // 1000

    return millis(end) - millis(start)


async def _page(
    session: AsyncSession,
    statement: Select[Any],
    *,
    sorting: Sorting,
    columns: Mapping[str, Any],
    tiebreak: Any,
    page: Page,
) -> Sequence[Any]:
    ordered = sorting.apply(statement, columns, tiebreak=tiebreak)
    return list((await session.execute(page.apply(ordered))).all())


def _with_root(model: Any, *extra: Any) -> Select[Any]:
    """`model` joined to its historic process instance (same tenant, composite FK, so every
    row has exactly one: the join changes neither the rows nor the count)."""
    return select(model, HistoricProcessInstance.root_process_instance_id, *extra).join(
        HistoricProcessInstance,
        and_(
            HistoricProcessInstance.tenant_id == model.tenant_id,
            HistoricProcessInstance.id == model.process_instance_id,
        ),
    )


# --------------------------------------------------------------------------- process instances


@dataclass(frozen=True, slots=True)
class ProcessInstanceFilter:
    """`GET /history/process-instance` parameters."""

    process_instance_id: str | None = None
    process_instance_ids: Sequence[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_definition_key_in: Sequence[str] | None = None
    process_definition_key_not_in: Sequence[str] | None = None
    process_definition_name: str | None = None
    process_definition_name_like: str | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    root_process_instances: bool = False
    finished: bool = False
    unfinished: bool = False
    started_by: str | None = None
    super_process_instance_id: str | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def __post_init__(self) -> None:
        refuse_both(self.finished, self.unfinished, "finished and unfinished")

    def apply(self, statement: Select[Any]) -> Select[Any]:
        model = HistoricProcessInstance
        if self.process_instance_id is not None:
            statement = statement.where(uuid_equals(model.id, self.process_instance_id))
        if self.process_instance_ids is not None:
            statement = statement.where(uuid_in(model.id, self.process_instance_ids))
        if self.super_process_instance_id is not None:
            statement = statement.where(
                uuid_equals(model.super_process_instance_id, self.super_process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                model.process_definition_id: self.process_definition_id,
                model.process_definition_key: self.process_definition_key,
                model.process_definition_name: self.process_definition_name,
                model.business_key: self.business_key,
                model.start_user_id: self.started_by,
            },
        )
        statement = where_like(
            statement,
            {
                model.process_definition_name: self.process_definition_name_like,
                model.business_key: self.business_key_like,
            },
        )
        if self.process_definition_key_in is not None:
            statement = statement.where(
                model.process_definition_key.in_(self.process_definition_key_in)
            )
        if self.process_definition_key_not_in is not None:
            statement = statement.where(
                model.process_definition_key.not_in(self.process_definition_key_not_in)
            )
        if self.root_process_instances:
            statement = statement.where(model.super_process_instance_id.is_(None))
        statement = _finished(
            statement, model.end_time, finished=self.finished, unfinished=self.unfinished
        )
        return self.tenants.apply(statement, model.tenant_id)


_PROCESS_INSTANCE_SORT: dict[str, Any] = {
    "instanceId": HistoricProcessInstance.id,
    "definitionId": HistoricProcessInstance.process_definition_id,
    "definitionKey": HistoricProcessInstance.process_definition_key,
    "definitionName": HistoricProcessInstance.process_definition_name,
    "definitionVersion": HistoricProcessInstance.process_definition_version,
    "businessKey": HistoricProcessInstance.business_key,
    "startTime": HistoricProcessInstance.start_time,
    "endTime": HistoricProcessInstance.end_time,
    "duration": _duration(HistoricProcessInstance),
    "tenantId": HistoricProcessInstance.tenant_id,
}


def _process_instance_item(instance: HistoricProcessInstance) -> HistoryItem:
    return HistoryItem(
        instance,
        {"duration_in_millis": duration_in_millis(instance.start_time, instance.end_time)},
    )


async def list_process_instances(
    session: AsyncSession, *, filters: ProcessInstanceFilter, sorting: Sorting, page: Page
) -> list[HistoryItem]:
    rows = await _page(
        session,
        filters.apply(select(HistoricProcessInstance)),
        sorting=sorting,
        columns=_PROCESS_INSTANCE_SORT,
        tiebreak=HistoricProcessInstance.id,
        page=page,
    )
    return [_process_instance_item(instance) for (instance,) in rows]


async def count_process_instances(session: AsyncSession, *, filters: ProcessInstanceFilter) -> int:
    return await count_rows(session, filters.apply(select(HistoricProcessInstance)))


async def get_process_instance(session: AsyncSession, instance_id: str) -> HistoryItem:
    """404 alike for an unknown or malformed id and for another tenant's instance."""
    parsed = uuid_or_none(instance_id)
    instance = None if parsed is None else await session.get(HistoricProcessInstance, parsed)
    if instance is None:
        raise NotFound("Historic process instance not found.")
    return _process_instance_item(instance)


# --------------------------------------------------------------------------- activity instances


@dataclass(frozen=True, slots=True)
class ActivityInstanceFilter:
    """`GET /history/activity-instance` parameters."""

    activity_instance_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    activity_id: str | None = None
    activity_name: str | None = None
    activity_name_like: str | None = None
    activity_type: str | None = None
    task_assignee: str | None = None
    finished: bool = False
    unfinished: bool = False
    canceled: bool = False
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def __post_init__(self) -> None:
        refuse_both(self.finished, self.unfinished, "finished and unfinished")

    def apply(self, statement: Select[Any]) -> Select[Any]:
        model = HistoricActivityInstance
        if self.activity_instance_id is not None:
            statement = statement.where(uuid_equals(model.id, self.activity_instance_id))
        if self.process_instance_id is not None:
            statement = statement.where(
                uuid_equals(model.process_instance_id, self.process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                model.process_definition_id: self.process_definition_id,
                model.activity_id: self.activity_id,
                model.activity_name: self.activity_name,
                model.activity_type: self.activity_type,
                model.assignee: self.task_assignee,
            },
        )
        statement = where_like(statement, {model.activity_name: self.activity_name_like})
        statement = _finished(
            statement, model.end_time, finished=self.finished, unfinished=self.unfinished
        )
        if self.canceled:
            statement = statement.where(model.canceled.is_(True))
        return self.tenants.apply(statement, model.tenant_id)


_ACTIVITY_SORT: dict[str, Any] = {
    "activityInstanceId": HistoricActivityInstance.id,
    "instanceId": HistoricActivityInstance.process_instance_id,
    "activityId": HistoricActivityInstance.activity_id,
    "activityName": HistoricActivityInstance.activity_name,
    "activityType": HistoricActivityInstance.activity_type,
    "startTime": HistoricActivityInstance.start_time,
    "endTime": HistoricActivityInstance.end_time,
    "duration": _duration(HistoricActivityInstance),
    "definitionId": HistoricActivityInstance.process_definition_id,
    "tenantId": HistoricActivityInstance.tenant_id,
}


def _activity_item(
    activity: HistoricActivityInstance, root_id: uuid.UUID, definition_key: str
) -> HistoryItem:
    return HistoryItem(
        activity,
        {
            "duration_in_millis": duration_in_millis(activity.start_time, activity.end_time),
            "root_process_instance_id": root_id,
            "process_definition_key": definition_key,
        },
    )


def _activities() -> Select[Any]:
    return _with_root(HistoricActivityInstance, HistoricProcessInstance.process_definition_key)


async def list_activity_instances(
    session: AsyncSession, *, filters: ActivityInstanceFilter, sorting: Sorting, page: Page
) -> list[HistoryItem]:
    rows = await _page(
        session,
        filters.apply(_activities()),
        sorting=sorting,
        columns=_ACTIVITY_SORT,
        tiebreak=HistoricActivityInstance.id,
        page=page,
    )
    return [_activity_item(*row) for row in rows]


async def count_activity_instances(
    session: AsyncSession, *, filters: ActivityInstanceFilter
) -> int:
    return await count_rows(session, filters.apply(select(HistoricActivityInstance)))


async def get_activity_instance(session: AsyncSession, activity_id: str) -> HistoryItem:
    statement = _activities().where(uuid_equals(HistoricActivityInstance.id, activity_id))
    row = (await session.execute(statement)).first()
    if row is None:
        raise NotFound("Historic activity instance not found.")
    return _activity_item(*row)


# --------------------------------------------------------------------------- tasks


@dataclass(frozen=True, slots=True)
class TaskFilter:
    """`GET /history/task` parameters."""

    task_id: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    task_name: str | None = None
    task_name_like: str | None = None
    task_definition_key: str | None = None
    task_definition_key_in: Sequence[str] | None = None
    task_delete_reason: str | None = None
    task_assignee: str | None = None
    task_assignee_like: str | None = None
    task_owner: str | None = None
    task_priority: int | None = None
    assigned: bool = False
    unassigned: bool = False
    finished: bool = False
    unfinished: bool = False
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def __post_init__(self) -> None:
        refuse_both(self.finished, self.unfinished, "finished and unfinished")
        refuse_both(self.assigned, self.unassigned, "assigned and unassigned")

    def apply(self, statement: Select[Any]) -> Select[Any]:
        model = HistoricTask
        if self.task_id is not None:
            statement = statement.where(uuid_equals(model.id, self.task_id))
        if self.process_instance_id is not None:
            statement = statement.where(
                uuid_equals(model.process_instance_id, self.process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                model.process_definition_id: self.process_definition_id,
                model.process_definition_key: self.process_definition_key,
                model.name: self.task_name,
                model.task_definition_key: self.task_definition_key,
                model.delete_reason: self.task_delete_reason,
                model.assignee: self.task_assignee,
                model.owner: self.task_owner,
                model.priority: self.task_priority,
            },
        )
        statement = where_like(
            statement, {model.name: self.task_name_like, model.assignee: self.task_assignee_like}
        )
        if self.task_definition_key_in is not None:
            statement = statement.where(model.task_definition_key.in_(self.task_definition_key_in))
        if self.assigned:
            statement = statement.where(model.assignee.isnot(None))
        if self.unassigned:
            statement = statement.where(model.assignee.is_(None))
        statement = _finished(
            statement, model.end_time, finished=self.finished, unfinished=self.unfinished
        )
        return self.tenants.apply(statement, model.tenant_id)


_TASK_SORT: dict[str, Any] = {
    "taskId": HistoricTask.id,
    "processDefinitionId": HistoricTask.process_definition_id,
    "processInstanceId": HistoricTask.process_instance_id,
    "taskName": HistoricTask.name,
    "taskDefinitionKey": HistoricTask.task_definition_key,
    "assignee": HistoricTask.assignee,
    "owner": HistoricTask.owner,
    "deleteReason": HistoricTask.delete_reason,
    "startTime": HistoricTask.start_time,
    "endTime": HistoricTask.end_time,
    "duration": _duration(HistoricTask),
    "priority": HistoricTask.priority,
    "tenantId": HistoricTask.tenant_id,
}


async def list_tasks(
    session: AsyncSession, *, filters: TaskFilter, sorting: Sorting, page: Page
) -> list[HistoryItem]:
    rows = await _page(
        session,
        filters.apply(_with_root(HistoricTask)),
        sorting=sorting,
        columns=_TASK_SORT,
        tiebreak=HistoricTask.id,
        page=page,
    )
    return [
        HistoryItem(
            task,
            {
                "duration": duration_in_millis(task.start_time, task.end_time),
                "root_process_instance_id": root_id,
            },
        )
        for task, root_id in rows
    ]


async def count_tasks(session: AsyncSession, *, filters: TaskFilter) -> int:
    return await count_rows(session, filters.apply(select(HistoricTask)))


# --------------------------------------------------------------------------- variables


@dataclass(frozen=True, slots=True)
class VariableFilter:
    """`GET /history/variable-instance` parameters. Variables in state DELETED are left out
    unless `include_deleted` (Camunda's `includeDeleted`)."""

    variable_name: str | None = None
    variable_name_like: str | None = None
    variable_name_in: Sequence[str] | None = None
    variable_type_in: Sequence[str] | None = None
    process_instance_id: str | None = None
    process_instance_id_in: Sequence[str] | None = None
    process_definition_key: str | None = None
    include_deleted: bool = False
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        model = HistoricVariable
        if self.process_instance_id is not None:
            statement = statement.where(
                uuid_equals(model.process_instance_id, self.process_instance_id)
            )
        if self.process_instance_id_in is not None:
            statement = statement.where(
                uuid_in(model.process_instance_id, self.process_instance_id_in)
            )
        statement = where_equal(
            statement,
            {
                model.name: self.variable_name,
                model.process_definition_key: self.process_definition_key,
            },
        )
        statement = where_like(statement, {model.name: self.variable_name_like})
        if self.variable_name_in is not None:
            statement = statement.where(model.name.in_(self.variable_name_in))
        if self.variable_type_in is not None:
            # Camunda's type names match case-insensitively ("string" or "String").
            wanted = [name.lower() for name in self.variable_type_in]
            statement = statement.where(func.lower(model.type).in_(wanted))
        if not self.include_deleted:
            statement = statement.where(model.state != "DELETED")
        return self.tenants.apply(statement, model.tenant_id)


_VARIABLE_SORT: dict[str, Any] = {
    "instanceId": HistoricVariable.process_instance_id,
    "variableName": HistoricVariable.name,
    "tenantId": HistoricVariable.tenant_id,
}


def _variables() -> Select[Any]:
    return _with_root(HistoricVariable, HistoricProcessInstance.process_definition_id)


def _variable_item(
    variable: HistoricVariable, root_id: uuid.UUID, definition_id: str
) -> HistoryItem:
    typed = to_camunda(TypedValue(variable.type, variable.value))
    return HistoryItem(
        variable,
        {
            "type": typed["type"],
            "value": typed["value"],
            "value_info": typed["valueInfo"],
            "root_process_instance_id": root_id,
            "process_definition_id": definition_id,
        },
    )


async def list_variables(
    session: AsyncSession, *, filters: VariableFilter, sorting: Sorting, page: Page
) -> list[HistoryItem]:
    rows = await _page(
        session,
        filters.apply(_variables()),
        sorting=sorting,
        columns=_VARIABLE_SORT,
        tiebreak=HistoricVariable.id,
        page=page,
    )
    return [_variable_item(*row) for row in rows]


async def count_variables(session: AsyncSession, *, filters: VariableFilter) -> int:
    return await count_rows(session, filters.apply(select(HistoricVariable)))


async def get_variable(session: AsyncSession, variable_id: str) -> HistoryItem:
    """Like Camunda's by-id query, a DELETED variable is not found."""
    statement = VariableFilter().apply(
        _variables().where(uuid_equals(HistoricVariable.id, variable_id))
    )
    row = (await session.execute(statement)).first()
    if row is None:
        raise NotFound("Historic variable instance not found.")
    return _variable_item(*row)


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class DecisionInstanceFilter:
    """`GET /history/decision-instance` parameters (`includeInputs`/`includeOutputs` choose
    what is rendered, not which rows match: see `list_decision_instances`)."""

    decision_instance_id: str | None = None
    decision_instance_id_in: Sequence[str] | None = None
    decision_definition_id: str | None = None
    decision_definition_id_in: Sequence[str] | None = None
    decision_definition_key: str | None = None
    decision_definition_key_in: Sequence[str] | None = None
    decision_definition_name: str | None = None
    decision_definition_name_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    process_instance_id: str | None = None
    activity_id_in: Sequence[str] | None = None
    user_id: str | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        model = HistoricDecisionInstance
        if self.decision_instance_id is not None:
            statement = statement.where(uuid_equals(model.id, self.decision_instance_id))
        if self.decision_instance_id_in is not None:
            statement = statement.where(uuid_in(model.id, self.decision_instance_id_in))
        if self.process_instance_id is not None:
            statement = statement.where(
                uuid_equals(model.process_instance_id, self.process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                model.decision_definition_id: self.decision_definition_id,
                model.decision_definition_key: self.decision_definition_key,
                model.decision_definition_name: self.decision_definition_name,
                model.process_definition_id: self.process_definition_id,
                model.process_definition_key: self.process_definition_key,
                model.user_id: self.user_id,
            },
        )
        statement = where_like(
            statement, {model.decision_definition_name: self.decision_definition_name_like}
        )
        ins = {
            model.decision_definition_id: self.decision_definition_id_in,
            model.decision_definition_key: self.decision_definition_key_in,
            model.activity_id: self.activity_id_in,
        }
        for column, values in ins.items():
            if values is not None:
                statement = statement.where(column.in_(values))
        return self.tenants.apply(statement, model.tenant_id)


_DECISION_SORT: dict[str, Any] = {
    "evaluationTime": HistoricDecisionInstance.evaluation_time,
    "tenantId": HistoricDecisionInstance.tenant_id,
}


def _typed(value: Any, type_name: Any = None) -> dict[str, Any]:
    """`{type, value, valueInfo}` of a value recorded with a decision (a plain JSON value, or
    one with its recorded type). A value no variable type fits is shown as Json."""
    if isinstance(type_name, str) and type_name in VARIABLE_TYPES:
        return to_camunda(TypedValue(type_name, value))
    try:
        return to_camunda(infer(value))
    except BadRequest:
        return to_camunda(TypedValue("Json", value))


def _value_fields(value: Any, type_name: Any = None) -> dict[str, Any]:
    typed = _typed(value, type_name)
    return {"type": typed["type"], "value": typed["value"], "value_info": typed["valueInfo"]}


def decision_inputs(instance: HistoricDecisionInstance) -> list[dict[str, Any]]:
    """Camunda's historic decision input instances: one per input clause that was evaluated.
    Clause ids are not recorded, so `clauseId` (and the input's own id) are null."""
    inputs: list[dict[str, Any]] = []
    for entry in instance.inputs or []:
        if not isinstance(entry, Mapping):
            continue
        inputs.append(
            {
                "id": None,
                "decision_instance_id": instance.id,
                "clause_id": None,
                "clause_name": entry.get("name"),
                "error_message": None,
                "create_time": instance.evaluation_time,
                "removal_time": None,
                "root_process_instance_id": None,
                **_value_fields(entry.get("value"), entry.get("type")),
            }
        )
    return inputs


def decision_outputs(instance: HistoricDecisionInstance) -> list[dict[str, Any]]:
    """Camunda's historic decision output instances: one per matched rule and output, in rule
    order. The recorded rows are `{"ruleOrder": n, "outputs": {name: value}}`."""
    outputs: list[dict[str, Any]] = []
    for entry in instance.outputs or []:
        if not isinstance(entry, Mapping):
            continue
        rule_order = entry.get("ruleOrder", entry.get("rule"))
        values = entry.get("outputs")
        if not isinstance(values, Mapping):
            continue
        for name, value in values.items():
            outputs.append(
                {
                    "id": None,
                    "decision_instance_id": instance.id,
                    "clause_id": None,
                    "clause_name": name,
                    "rule_id": None,
                    "rule_order": rule_order if isinstance(rule_order, int) else None,
                    "variable_name": name,
                    "error_message": None,
                    "create_time": instance.evaluation_time,
                    "removal_time": None,
                    "root_process_instance_id": None,
                    **_value_fields(value),
                }
            )
    return outputs


def _decision_item(
    instance: HistoricDecisionInstance, *, include_inputs: bool, include_outputs: bool
) -> HistoryItem:
    return HistoryItem(
        instance,
        {
            "input_instances": decision_inputs(instance) if include_inputs else None,
            "output_instances": decision_outputs(instance) if include_outputs else None,
        },
    )


async def list_decision_instances(
    session: AsyncSession,
    *,
    filters: DecisionInstanceFilter,
    sorting: Sorting,
    page: Page,
    include_inputs: bool = False,
    include_outputs: bool = False,
) -> list[HistoryItem]:
    rows = await _page(
        session,
        filters.apply(select(HistoricDecisionInstance)),
        sorting=sorting,
        columns=_DECISION_SORT,
        tiebreak=HistoricDecisionInstance.id,
        page=page,
    )
    return [
        _decision_item(i, include_inputs=include_inputs, include_outputs=include_outputs)
        for (i,) in rows
    ]


async def count_decision_instances(
    session: AsyncSession, *, filters: DecisionInstanceFilter
) -> int:
    return await count_rows(session, filters.apply(select(HistoricDecisionInstance)))


async def get_decision_instance(
    session: AsyncSession,
    decision_instance_id: str,
    *,
    include_inputs: bool = False,
    include_outputs: bool = False,
) -> HistoryItem:
    parsed = uuid_or_none(decision_instance_id)
    instance = None if parsed is None else await session.get(HistoricDecisionInstance, parsed)
    if instance is None:
        raise NotFound("Historic decision instance not found.")
    return _decision_item(instance, include_inputs=include_inputs, include_outputs=include_outputs)
