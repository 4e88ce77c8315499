"""`/history/...`: Camunda 7's read-only history queries — process instances, activity
instances, tasks, variable instances and decision instances — with `/count` twins and reads by
id.

Every history row belongs to a tenant; the caller sees the rows of its tenants (admins: all).
`tenantIdIn` narrows that. `withoutTenantId=true` is accepted, as Camunda clients send it, but
matches nothing: there are no shared history rows.
"""

from typing import Annotated

from fastapi import APIRouter, Depends

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import comma_list
from app.api.responses import AUTHENTICATED, READ_ONE
from app.core.filters import TenantSelector
from app.schemas.base import CountResult
from app.schemas.history import (
    HistoricActivityInstanceRead,
    HistoricDecisionInstanceRead,
    HistoricProcessInstanceRead,
    HistoricTaskRead,
    HistoricVariableInstanceRead,
)
from app.services import history
from app.services.history import (
    ActivityInstanceFilter,
    DecisionInstanceFilter,
    HistoryItem,
    ProcessInstanceFilter,
    TaskFilter,
    VariableFilter,
)

router = APIRouter(prefix="/history")

PROCESS_INSTANCE = "Historic Process Instance"
ACTIVITY_INSTANCE = "Historic Activity Instance"
TASK = "Historic Task Instance"
VARIABLE_INSTANCE = "Historic Variable Instance"
DECISION_INSTANCE = "Historic Decision Instance"


def _tenants(tenant_id_in: str | None, without_tenant_id: bool) -> TenantSelector:
    """History rows always have a tenant: `withoutTenantId=true` matches nothing."""
    return TenantSelector(comma_list(tenant_id_in), without_tenant_id)


# --------------------------------------------------------------------------- process instances


async def process_instance_filter(
    processInstanceId: str | None = None,
    processInstanceIds: str | None = None,
    processDefinitionId: str | None = None,
    processDefinitionKey: str | None = None,
    processDefinitionKeyIn: str | None = None,
    processDefinitionKeyNotIn: str | None = None,
    processDefinitionName: str | None = None,
    processDefinitionNameLike: str | None = None,
    processInstanceBusinessKey: str | None = None,
    processInstanceBusinessKeyLike: str | None = None,
    rootProcessInstances: bool = False,
    finished: bool = False,
    unfinished: bool = False,
    startedBy: str | None = None,
    superProcessInstanceId: str | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> ProcessInstanceFilter:
    return ProcessInstanceFilter(
        process_instance_id=processInstanceId,
        process_instance_ids=comma_list(processInstanceIds),
        process_definition_id=processDefinitionId,
        process_definition_key=processDefinitionKey,
        process_definition_key_in=comma_list(processDefinitionKeyIn),
        process_definition_key_not_in=comma_list(processDefinitionKeyNotIn),
        process_definition_name=processDefinitionName,
        process_definition_name_like=processDefinitionNameLike,
        business_key=processInstanceBusinessKey,
        business_key_like=processInstanceBusinessKeyLike,
        root_process_instances=rootProcessInstances,
        finished=finished,
        unfinished=unfinished,
        started_by=startedBy,
        super_process_instance_id=superProcessInstanceId,
        tenants=_tenants(tenantIdIn, withoutTenantId),
    )


ProcessInstanceFilterDep = Annotated[ProcessInstanceFilter, Depends(process_instance_filter)]


def _process_instance(item: HistoryItem) -> HistoricProcessInstanceRead:
    return HistoricProcessInstanceRead.of(item.row, item.extra)


@router.get(
    "/process-instance",
    response_model=list[HistoricProcessInstanceRead],
    responses=AUTHENTICATED,
    tags=[PROCESS_INSTANCE],
)
async def list_process_instances(
    session: SessionDep, filters: ProcessInstanceFilterDep, sorting: SortingDep, page: PageDep
) -> list[HistoricProcessInstanceRead]:
    items = await history.list_process_instances(
        session, filters=filters, sorting=sorting, page=page
    )
    return [_process_instance(item) for item in items]


@router.get(
    "/process-instance/count",
    response_model=CountResult,
    responses=AUTHENTICATED,
    tags=[PROCESS_INSTANCE],
)
async def count_process_instances(
    session: SessionDep, filters: ProcessInstanceFilterDep
) -> CountResult:
    return CountResult(count=await history.count_process_instances(session, filters=filters))


@router.get(
    "/process-instance/{id}",
    response_model=HistoricProcessInstanceRead,
    responses=READ_ONE,
    tags=[PROCESS_INSTANCE],
)
async def get_process_instance(id: str, session: SessionDep) -> HistoricProcessInstanceRead:
    return _process_instance(await history.get_process_instance(session, id))


# --------------------------------------------------------------------------- activity instances


async def activity_instance_filter(
    activityInstanceId: str | None = None,
    processInstanceId: str | None = None,
    processDefinitionId: str | None = None,
    activityId: str | None = None,
    activityName: str | None = None,
    activityNameLike: str | None = None,
    activityType: str | None = None,
    taskAssignee: str | None = None,
    finished: bool = False,
    unfinished: bool = False,
    canceled: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> ActivityInstanceFilter:
    return ActivityInstanceFilter(
        activity_instance_id=activityInstanceId,
        process_instance_id=processInstanceId,
        process_definition_id=processDefinitionId,
        activity_id=activityId,
        activity_name=activityName,
        activity_name_like=activityNameLike,
        activity_type=activityType,
        task_assignee=taskAssignee,
        finished=finished,
        unfinished=unfinished,
        canceled=canceled,
        tenants=_tenants(tenantIdIn, withoutTenantId),
    )


ActivityInstanceFilterDep = Annotated[ActivityInstanceFilter, Depends(activity_instance_filter)]


def _activity_instance(item: HistoryItem) -> HistoricActivityInstanceRead:
    return HistoricActivityInstanceRead.of(item.row, item.extra)


@router.get(
    "/activity-instance",
    response_model=list[HistoricActivityInstanceRead],
    responses=AUTHENTICATED,
    tags=[ACTIVITY_INSTANCE],
)
async def list_activity_instances(
    session: SessionDep, filters: ActivityInstanceFilterDep, sorting: SortingDep, page: PageDep
) -> list[HistoricActivityInstanceRead]:
    items = await history.list_activity_instances(
        session, filters=filters, sorting=sorting, page=page
    )
    return [_activity_instance(item) for item in items]


@router.get(
    "/activity-instance/count",
    response_model=CountResult,
    responses=AUTHENTICATED,
    tags=[ACTIVITY_INSTANCE],
)
async def count_activity_instances(
    session: SessionDep, filters: ActivityInstanceFilterDep
) -> CountResult:
    return CountResult(count=await history.count_activity_instances(session, filters=filters))


@router.get(
    "/activity-instance/{id}",
    response_model=HistoricActivityInstanceRead,
    responses=READ_ONE,
    tags=[ACTIVITY_INSTANCE],
)
async def get_activity_instance(id: str, session: SessionDep) -> HistoricActivityInstanceRead:
    return _activity_instance(await history.get_activity_instance(session, id))


# --------------------------------------------------------------------------- tasks


async def task_filter(
    taskId: str | None = None,
    processInstanceId: str | None = None,
    processDefinitionId: str | None = None,
    processDefinitionKey: str | None = None,
    taskName: str | None = None,
    taskNameLike: str | None = None,
    taskDefinitionKey: str | None = None,
    taskDefinitionKeyIn: str | None = None,
    taskDeleteReason: str | None = None,
    taskAssignee: str | None = None,
    taskAssigneeLike: str | None = None,
    taskOwner: str | None = None,
    taskPriority: int | None = None,
    assigned: bool = False,
    unassigned: bool = False,
    finished: bool = False,
    unfinished: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> TaskFilter:
    return TaskFilter(
        task_id=taskId,
        process_instance_id=processInstanceId,
        process_definition_id=processDefinitionId,
        process_definition_key=processDefinitionKey,
        task_name=taskName,
        task_name_like=taskNameLike,
        task_definition_key=taskDefinitionKey,
        task_definition_key_in=comma_list(taskDefinitionKeyIn),
        task_delete_reason=taskDeleteReason,
        task_assignee=taskAssignee,
        task_assignee_like=taskAssigneeLike,
        task_owner=taskOwner,
        task_priority=taskPriority,
        assigned=assigned,
        unassigned=unassigned,
        finished=finished,
        unfinished=unfinished,
        tenants=_tenants(tenantIdIn, withoutTenantId),
    )


TaskFilterDep = Annotated[TaskFilter, Depends(task_filter)]


@router.get(
    "/task",
    response_model=list[HistoricTaskRead],
    responses=AUTHENTICATED,
    tags=[TASK],
)
async def list_tasks(
    session: SessionDep, filters: TaskFilterDep, sorting: SortingDep, page: PageDep
) -> list[HistoricTaskRead]:
    items = await history.list_tasks(session, filters=filters, sorting=sorting, page=page)
    return [HistoricTaskRead.of(item.row, item.extra) for item in items]


@router.get("/task/count", response_model=CountResult, responses=AUTHENTICATED, tags=[TASK])
async def count_tasks(session: SessionDep, filters: TaskFilterDep) -> CountResult:
    return CountResult(count=await history.count_tasks(session, filters=filters))


# --------------------------------------------------------------------------- variables


async def variable_filter(
    variableName: str | None = None,
    variableNameLike: str | None = None,
    variableNameIn: str | None = None,
    variableTypeIn: str | None = None,
    processInstanceId: str | None = None,
    processInstanceIdIn: str | None = None,
    processDefinitionKey: str | None = None,
    includeDeleted: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> VariableFilter:
    return VariableFilter(
        variable_name=variableName,
        variable_name_like=variableNameLike,
        variable_name_in=comma_list(variableNameIn),
        variable_type_in=comma_list(variableTypeIn),
        process_instance_id=processInstanceId,
        process_instance_id_in=comma_list(processInstanceIdIn),
        process_definition_key=processDefinitionKey,
        include_deleted=includeDeleted,
        tenants=_tenants(tenantIdIn, withoutTenantId),
    )


VariableFilterDep = Annotated[VariableFilter, Depends(variable_filter)]


def _variable(item: HistoryItem) -> HistoricVariableInstanceRead:
    return HistoricVariableInstanceRead.of(item.row, item.extra)


@router.get(
    "/variable-instance",
    response_model=list[HistoricVariableInstanceRead],
    responses=AUTHENTICATED,
    tags=[VARIABLE_INSTANCE],
)
async def list_variables(
    session: SessionDep, filters: VariableFilterDep, sorting: SortingDep, page: PageDep
) -> list[HistoricVariableInstanceRead]:
    items = await history.list_variables(session, filters=filters, sorting=sorting, page=page)
    return [_variable(item) for item in items]


@router.get(
    "/variable-instance/count",
    response_model=CountResult,
    responses=AUTHENTICATED,
    tags=[VARIABLE_INSTANCE],
)
async def count_variables(session: SessionDep, filters: VariableFilterDep) -> CountResult:
    return CountResult(count=await history.count_variables(session, filters=filters))


@router.get(
    "/variable-instance/{id}",
    response_model=HistoricVariableInstanceRead,
    responses=READ_ONE,
    tags=[VARIABLE_INSTANCE],
)
async def get_variable(id: str, session: SessionDep) -> HistoricVariableInstanceRead:
    return _variable(await history.get_variable(session, id))


# --------------------------------------------------------------------------- decisions


async def decision_instance_filter(
    decisionInstanceId: str | None = None,
    decisionInstanceIdIn: str | None = None,
    decisionDefinitionId: str | None = None,
    decisionDefinitionIdIn: str | None = None,
    decisionDefinitionKey: str | None = None,
    decisionDefinitionKeyIn: str | None = None,
    decisionDefinitionName: str | None = None,
    decisionDefinitionNameLike: str | None = None,
    processDefinitionId: str | None = None,
    processDefinitionKey: str | None = None,
    processInstanceId: str | None = None,
    activityIdIn: str | None = None,
    userId: str | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> DecisionInstanceFilter:
    return DecisionInstanceFilter(
        decision_instance_id=decisionInstanceId,
        decision_instance_id_in=comma_list(decisionInstanceIdIn),
        decision_definition_id=decisionDefinitionId,
        decision_definition_id_in=comma_list(decisionDefinitionIdIn),
        decision_definition_key=decisionDefinitionKey,
        decision_definition_key_in=comma_list(decisionDefinitionKeyIn),
        decision_definition_name=decisionDefinitionName,
        decision_definition_name_like=decisionDefinitionNameLike,
        process_definition_id=processDefinitionId,
        process_definition_key=processDefinitionKey,
        process_instance_id=processInstanceId,
        activity_id_in=comma_list(activityIdIn),
        user_id=userId,
        tenants=_tenants(tenantIdIn, withoutTenantId),
    )


DecisionInstanceFilterDep = Annotated[DecisionInstanceFilter, Depends(decision_instance_filter)]


def _decision(item: HistoryItem) -> HistoricDecisionInstanceRead:
    return HistoricDecisionInstanceRead.of(item.row, item.extra)


@router.get(
    "/decision-instance",
    response_model=list[HistoricDecisionInstanceRead],
    responses=AUTHENTICATED,
    tags=[DECISION_INSTANCE],
)
async def list_decision_instances(
    session: SessionDep,
    filters: DecisionInstanceFilterDep,
    sorting: SortingDep,
    page: PageDep,
    includeInputs: bool = False,
    includeOutputs: bool = False,
) -> list[HistoricDecisionInstanceRead]:
    items = await history.list_decision_instances(
        session,
        filters=filters,
        sorting=sorting,
        page=page,
        include_inputs=includeInputs,
        include_outputs=includeOutputs,
    )
    return [_decision(item) for item in items]


@router.get(
    "/decision-instance/count",
    response_model=CountResult,
    responses=AUTHENTICATED,
    tags=[DECISION_INSTANCE],
)
async def count_decision_instances(
    session: SessionDep, filters: DecisionInstanceFilterDep
) -> CountResult:
    return CountResult(count=await history.count_decision_instances(session, filters=filters))


@router.get(
    "/decision-instance/{id}",
    response_model=HistoricDecisionInstanceRead,
    responses=READ_ONE,
    tags=[DECISION_INSTANCE],
)
async def get_decision_instance(
    id: str, session: SessionDep, includeInputs: bool = False, includeOutputs: bool = False
) -> HistoricDecisionInstanceRead:
    item = await history.get_decision_instance(
        session, id, include_inputs=includeInputs, include_outputs=includeOutputs
    )
    return _decision(item)
