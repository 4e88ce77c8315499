"""`/external-task`: the work of `camunda:type="external"` tasks, fetched and completed by
workers (Camunda 7's external task resource); `/history/external-task-log` its log.

Who may see which task is the service's rule (`app.services.external_tasks`): a tenant's
worker its tenants' tasks, a system worker every tenant's, each done in its own tenant.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import PlainTextResponse

from app.api.deps import PageDep, SessionDep, SettingsDep, SortingDep, VariableLimitsDep
from app.api.paths import comma_list
from app.api.responses import AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.core.pagination import Sorting
from app.schemas.base import CountResult
from app.schemas.events import (
    CompleteExternalTask,
    ExtendLock,
    ExternalTaskBpmnError,
    ExternalTaskFailure,
    ExternalTaskLogRead,
    ExternalTaskQuery,
    ExternalTaskRead,
    FetchAndLock,
    LockedExternalTaskRead,
    PriorityBody,
    RetriesBody,
)
from app.services import external_tasks
from app.services.external_tasks import (
    ExternalTaskFilter,
    FetchRequest,
    LogFilter,
    TopicRequest,
    Worker,
)
from app.services.variables import variables_to_camunda

router = APIRouter(prefix="/external-task", tags=["External Task"])
log_router = APIRouter(prefix="/history/external-task-log", tags=["History"])
COMMAND = problems(400, 401, 404)
NO_CONTENT: dict[str, Any] = {"status_code": 204, "response_class": Response, "responses": COMMAND}


async def get_worker(session: SessionDep, settings: SettingsDep) -> Worker:
    return external_tasks.worker_of(session, settings.system_worker_groups)


WorkerDep = Annotated[Worker, Depends(get_worker)]


def _query_filter(
    externalTaskId: str | None = None,
    externalTaskIdIn: str | None = None,
    topicName: str | None = None,
    workerId: str | None = None,
    locked: bool = False,
    notLocked: bool = False,
    withRetriesLeft: bool = False,
    noRetriesLeft: bool = False,
    processInstanceId: str | None = None,
    processDefinitionId: str | None = None,
    activityId: str | None = None,
    active: bool = False,
    suspended: bool = False,
    priorityHigherThanOrEquals: int | None = None,
    priorityLowerThanOrEquals: int | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> ExternalTaskFilter:
    return _filter(
        ExternalTaskQuery(
            external_task_id=externalTaskId,
            external_task_id_in=comma_list(externalTaskIdIn),
            topic_name=topicName,
            worker_id=workerId,
            locked=locked,
            not_locked=notLocked,
            with_retries_left=withRetriesLeft,
            no_retries_left=noRetriesLeft,
            process_instance_id=processInstanceId,
            process_definition_id=processDefinitionId,
            activity_id=activityId,
            active=active,
            suspended=suspended,
            priority_higher_than_or_equals=priorityHigherThanOrEquals,
            priority_lower_than_or_equals=priorityLowerThanOrEquals,
            tenant_id_in=comma_list(tenantIdIn),
            without_tenant_id=withoutTenantId,
        )
    )


def _filter(query: ExternalTaskQuery) -> ExternalTaskFilter:
    return ExternalTaskFilter(
        id=query.external_task_id,
        ids=query.external_task_id_in,
        topic_name=query.topic_name,
        worker_id=query.worker_id,
        locked=query.locked,
        not_locked=query.not_locked,
        with_retries_left=query.with_retries_left,
        no_retries_left=query.no_retries_left,
        process_instance_id=query.process_instance_id,
        process_definition_id=query.process_definition_id,
        activity_id=query.activity_id,
        active=query.active,
        suspended=query.suspended,
        priority_at_least=query.priority_higher_than_or_equals,
        priority_at_most=query.priority_lower_than_or_equals,
        tenants=TenantSelector(query.tenant_id_in, query.without_tenant_id),
    )


FilterDep = Annotated[ExternalTaskFilter, Depends(_query_filter)]


@router.post(
    "/fetchAndLock",
    response_model=list[LockedExternalTaskRead],
    responses=problems(400, 401, 403),
)
async def fetch_and_lock(
    body: FetchAndLock,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    worker: WorkerDep,
) -> Any:
    fetch = FetchRequest(
        worker_id=body.worker_id or "",
        max_tasks=body.max_tasks,
        use_priority=body.use_priority,
        async_response_timeout_ms=body.async_response_timeout,
        topics=[
            TopicRequest(
                topic_name=topic.topic_name,
                lock_duration_ms=topic.lock_duration or 0,
                variables=topic.variables,
                business_key=topic.business_key,
                process_definition_ids=_one_or_many(
                    topic.process_definition_id, topic.process_definition_id_in
                ),
                process_definition_keys=_one_or_many(
                    topic.process_definition_key, topic.process_definition_key_in
                ),
                process_definition_version_tag=topic.process_definition_version_tag,
                process_variables=topic.process_variables,
                tenants=TenantSelector(topic.tenant_id_in, topic.without_tenant_id),
            )
            for topic in body.topics or []
        ],
        newest_first=any(item.sort_order == "desc" for item in body.sorting or []),
    )
    external_tasks.check_fetch(
        fetch,
        max_fetch=settings.external_task_max_fetch,
        long_poll_max_ms=settings.long_poll_max_ms,
    )
    locked = await external_tasks.fetch_and_lock(
        session, worker, fetch, notifier=getattr(request.app.state, "notifier", None)
    )
    return [
        LockedExternalTaskRead.model_validate(
            {
                **ExternalTaskRead.model_validate(task.row).model_dump(),
                "error_details": task.row.error_details,
                "variables": variables_to_camunda(task.variables),
            }
        )
        for task in locked
    ]


def _one_or_many(one: str | None, many: list[str] | None) -> list[str] | None:
    """Camunda's `x` and `xIn` of a topic, together (None: no filter)."""
    if one is None and many is None:
        return None
    return [*(many or []), *([one] if one is not None else [])]


@router.get("", response_model=list[ExternalTaskRead], responses=AUTHENTICATED)
async def list_external_tasks(
    session: SessionDep, worker: WorkerDep, filters: FilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await external_tasks.list_external_tasks(
        session, worker, filters=filters, sorting=sorting, page=page
    )
    return [ExternalTaskRead.model_validate(row) for row in rows]


@router.post("", response_model=list[ExternalTaskRead], responses=AUTHENTICATED)
async def query_external_tasks(
    body: ExternalTaskQuery, session: SessionDep, worker: WorkerDep, page: PageDep
) -> Any:
    rows = await external_tasks.list_external_tasks(
        session, worker, filters=_filter(body), sorting=Sorting(None, None), page=page
    )
    return [ExternalTaskRead.model_validate(row) for row in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_external_tasks(
    session: SessionDep, worker: WorkerDep, filters: FilterDep
) -> CountResult:
    return CountResult(
        count=await external_tasks.count_external_tasks(session, worker, filters=filters)
    )


@router.post("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_external_tasks_by_body(
    body: ExternalTaskQuery, session: SessionDep, worker: WorkerDep
) -> CountResult:
    return CountResult(
        count=await external_tasks.count_external_tasks(session, worker, filters=_filter(body))
    )


@router.get("/{id}", response_model=ExternalTaskRead, responses=READ_ONE)
async def get_external_task(id: str, session: SessionDep, worker: WorkerDep) -> Any:
    return ExternalTaskRead.model_validate(
        await external_tasks.get_external_task(session, worker, id)
    )


@router.get(
    "/{id}/errorDetails",
    response_class=PlainTextResponse,
    responses={**READ_ONE, 200: {"content": {"text/plain": {}}}},
)
async def get_error_details(id: str, session: SessionDep, worker: WorkerDep) -> str:
    """The full `errorDetails` of the task's last failure, as text (empty when none)."""
    row = await external_tasks.get_external_task(session, worker, id)
    return row.error_details or ""


@router.post("/{id}/complete", **NO_CONTENT)
async def complete(
    id: str,
    body: CompleteExternalTask,
    session: SessionDep,
    worker: WorkerDep,
    limits: VariableLimitsDep,
) -> None:
    variables = {**limits.parse(body.variables), **limits.parse(body.local_variables)}
    await external_tasks.complete(
        session, worker, id, worker_id=body.worker_id, variables=variables
    )


@router.post("/{id}/failure", **NO_CONTENT)
async def handle_failure(
    id: str, body: ExternalTaskFailure, session: SessionDep, worker: WorkerDep
) -> None:
    await external_tasks.failure(
        session,
        worker,
        id,
        worker_id=body.worker_id,
        error_message=body.error_message,
        error_details=body.error_details,
        retries=body.retries,
        retry_timeout_ms=body.retry_timeout,
    )


@router.post("/{id}/bpmnError", **NO_CONTENT)
async def handle_bpmn_error(
    id: str,
    body: ExternalTaskBpmnError,
    session: SessionDep,
    worker: WorkerDep,
    limits: VariableLimitsDep,
) -> None:
    await external_tasks.bpmn_error(
        session,
        worker,
        id,
        worker_id=body.worker_id,
        error_code=body.error_code,
        error_message=body.error_message,
        variables=limits.parse(body.variables),
    )


@router.post("/{id}/extendLock", **NO_CONTENT)
async def extend_lock(id: str, body: ExtendLock, session: SessionDep, worker: WorkerDep) -> None:
    await external_tasks.extend_lock(
        session, worker, id, worker_id=body.worker_id, new_duration_ms=body.new_duration
    )


@router.post("/{id}/unlock", **NO_CONTENT)
async def unlock(id: str, session: SessionDep, worker: WorkerDep) -> None:
    await external_tasks.unlock(session, worker, id)


@router.put("/{id}/retries", **NO_CONTENT)
async def set_retries(id: str, body: RetriesBody, session: SessionDep, worker: WorkerDep) -> None:
    await external_tasks.set_retries(session, worker, id, body.retries)


@router.put("/{id}/priority", **NO_CONTENT)
async def set_priority(id: str, body: PriorityBody, session: SessionDep, worker: WorkerDep) -> None:
    await external_tasks.set_priority(session, worker, id, body.priority)


def _log_filter(
    externalTaskId: str | None = None,
    processInstanceId: str | None = None,
    topicName: str | None = None,
    workerId: str | None = None,
    creationLog: bool = False,
    failureLog: bool = False,
    successLog: bool = False,
    deletionLog: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> LogFilter:
    states = [
        state
        for state, asked in (
            ("created", creationLog),
            ("failed", failureLog),
            ("successful", successLog),
            ("deleted", deletionLog),
        )
        if asked
    ]
    return LogFilter(
        external_task_id=externalTaskId,
        process_instance_id=processInstanceId,
        topic_name=topicName,
        worker_id=workerId,
        state=states[0] if len(states) == 1 else ("" if states else None),
        tenants=TenantSelector(comma_list(tenantIdIn), withoutTenantId),
    )


LogFilterDep = Annotated[LogFilter, Depends(_log_filter)]


@log_router.get("", response_model=list[ExternalTaskLogRead], responses=AUTHENTICATED)
async def list_logs(
    session: SessionDep, filters: LogFilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await external_tasks.list_logs(session, filters=filters, sorting=sorting, page=page)
    return [ExternalTaskLogRead.model_validate(row) for row in rows]


@log_router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_logs(session: SessionDep, filters: LogFilterDep) -> CountResult:
    return CountResult(count=await external_tasks.count_logs(session, filters=filters))
