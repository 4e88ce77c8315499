"""`/task`: the user tasks of running instances (Camunda 7's task resource)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from app.api.deps import CurrentPrincipal, PageDep, SessionDep, SortingDep, VariableLimitsDep
from app.api.paths import comma_list
from app.api.responses import AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.core.pagination import Sorting
from app.schemas.base import CountResult
from app.schemas.runtime import (
    CompleteTask,
    IdentityLinkBody,
    IdentityLinkRead,
    TaskQuery,
    TaskRead,
    TaskUpdate,
    UserIdBody,
    VariableModifications,
)
from app.services import tasks
from app.services.tasks import IdentityLink, TaskChanges, TaskFilter
from app.services.variables import variables_to_camunda

router = APIRouter(prefix="/task", tags=["Task"])
COMMAND = problems(400, 401, 404, 409)


def _query_filter(
    taskId: str | None = None,
    taskIdIn: str | None = None,
    processInstanceId: str | None = None,
    processInstanceIdIn: str | None = None,
    processDefinitionId: str | None = None,
    processDefinitionKey: str | None = None,
    taskDefinitionKey: str | None = None,
    name: str | None = None,
    nameLike: str | None = None,
    assignee: str | None = None,
    assigned: bool = False,
    unassigned: bool = False,
    candidateGroup: str | None = None,
    candidateGroups: str | None = None,
    candidateUser: str | None = None,
    includeAssignedTasks: bool = False,
    active: bool = False,
    suspended: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> TaskFilter:
    return _filter(
        TaskQuery(
            task_id=taskId,
            task_id_in=comma_list(taskIdIn),
            process_instance_id=processInstanceId,
            process_instance_id_in=comma_list(processInstanceIdIn),
            process_definition_id=processDefinitionId,
            process_definition_key=processDefinitionKey,
            task_definition_key=taskDefinitionKey,
            name=name,
            name_like=nameLike,
            assignee=assignee,
            assigned=assigned,
            unassigned=unassigned,
            candidate_group=candidateGroup,
            candidate_groups=comma_list(candidateGroups),
            candidate_user=candidateUser,
            include_assigned_tasks=includeAssignedTasks,
            active=active,
            suspended=suspended,
            tenant_id_in=comma_list(tenantIdIn),
            without_tenant_id=withoutTenantId,
        )
    )


def _filter(query: TaskQuery) -> TaskFilter:
    ids = [*(query.task_id_in or [])] + ([query.task_id] if query.task_id else [])
    instances = [*(query.process_instance_id_in or [])] + (
        [query.process_instance_id] if query.process_instance_id else []
    )
    groups = [*(query.candidate_groups or [])] + (
        [query.candidate_group] if query.candidate_group else []
    )
    return TaskFilter(
        ids=ids if query.task_id or query.task_id_in is not None else None,
        process_instance_ids=(
            instances
            if query.process_instance_id or query.process_instance_id_in is not None
            else None
        ),
        definition_id=query.process_definition_id,
        definition_key=query.process_definition_key,
        task_definition_key=query.task_definition_key,
        name=query.name,
        name_like=query.name_like,
        assignee=query.assignee,
        assigned=query.assigned,
        unassigned=query.unassigned,
        candidate_groups=groups if query.candidate_group or query.candidate_groups else None,
        candidate_user=query.candidate_user,
        include_assigned=query.include_assigned_tasks,
        active=query.active,
        suspended=query.suspended,
        tenants=TenantSelector(query.tenant_id_in, query.without_tenant_id),
    )


FilterDep = Annotated[TaskFilter, Depends(_query_filter)]


@router.get("", response_model=list[TaskRead], responses=AUTHENTICATED)
async def list_tasks(
    session: SessionDep, filters: FilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await tasks.list_tasks(session, filters=filters, sorting=sorting, page=page)
    return [TaskRead.model_validate(row) for row in rows]


@router.post("", response_model=list[TaskRead], responses=AUTHENTICATED)
async def query_tasks(body: TaskQuery, session: SessionDep, page: PageDep) -> Any:
    first = body.sorting[0] if body.sorting else None
    sorting = Sorting(first.sort_by if first else None, first.sort_order if first else None)
    rows = await tasks.list_tasks(session, filters=_filter(body), sorting=sorting, page=page)
    return [TaskRead.model_validate(row) for row in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_tasks(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await tasks.count_tasks(session, filters=filters))


@router.post("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_tasks_by_body(body: TaskQuery, session: SessionDep) -> CountResult:
    return CountResult(count=await tasks.count_tasks(session, filters=_filter(body)))


@router.get("/{id}", response_model=TaskRead, responses=READ_ONE)
async def get_task(id: str, session: SessionDep) -> Any:
    return TaskRead.model_validate(await tasks.get_task(session, id))


@router.put("/{id}", status_code=204, responses=COMMAND)
async def update_task(id: str, body: TaskUpdate, session: SessionDep) -> Response:
    changes = TaskChanges(
        name=body.name,
        description=body.description,
        assignee=body.assignee,
        owner=body.owner,
        priority=body.priority,
        due=body.due,
        follow_up=body.follow_up,
        tenant_id=body.tenant_id,
    )
    await tasks.update_task(session, id, changes)
    return Response(status_code=204)


@router.post("/{id}/claim", status_code=204, responses=COMMAND)
async def claim(
    id: str, body: UserIdBody, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    await tasks.claim(session, id, user_id=body.user_id or principal.user_id)
    return Response(status_code=204)


@router.post("/{id}/unclaim", status_code=204, responses=COMMAND)
async def unclaim(id: str, session: SessionDep) -> Response:
    await tasks.set_assignee(session, id, user_id=None)
    return Response(status_code=204)


@router.post("/{id}/assignee", status_code=204, responses=COMMAND)
async def set_assignee(id: str, body: UserIdBody, session: SessionDep) -> Response:
    await tasks.set_assignee(session, id, user_id=body.user_id)
    return Response(status_code=204)


@router.post("/{id}/complete", responses={**COMMAND, 204: {"description": "Completed"}})
async def complete(
    id: str, body: CompleteTask, session: SessionDep, limits: VariableLimitsDep
) -> Any:
    result = await tasks.complete(
        session,
        id,
        variables=limits.parse(body.variables),
        with_variables=body.with_variables_in_return,
    )
    if body.with_variables_in_return:
        return variables_to_camunda(result)
    return Response(status_code=204)


@router.get("/{id}/variables", responses=READ_ONE)
async def get_variables(id: str, session: SessionDep) -> dict[str, Any]:
    return variables_to_camunda(await tasks.task_variables(session, id))


@router.get("/{id}/form-variables", responses=READ_ONE)
async def get_form_variables(id: str, session: SessionDep) -> dict[str, Any]:
    return variables_to_camunda(await tasks.form_variables(session, id))


@router.post("/{id}/variables", status_code=204, responses=COMMAND)
async def modify_variables(
    id: str, body: VariableModifications, session: SessionDep, limits: VariableLimitsDep
) -> Response:
    """Tessera keeps variables on the process instance: this sets the instance's."""
    await tasks.set_task_variables(
        session, id, modifications=limits.parse(body.modifications), deletions=body.deletions or []
    )
    return Response(status_code=204)


@router.get("/{id}/variables/{name}", responses=READ_ONE)
async def get_variable(id: str, name: str, session: SessionDep) -> dict[str, Any]:
    return variables_to_camunda({name: await tasks.task_variable(session, id, name)})[name]


@router.put("/{id}/variables/{name}", status_code=204, responses=COMMAND)
async def put_variable(
    id: str, name: str, body: dict[str, Any], session: SessionDep, limits: VariableLimitsDep
) -> Response:
    await tasks.set_task_variables(session, id, modifications={name: limits.parse_one(name, body)})
    return Response(status_code=204)


@router.delete("/{id}/variables/{name}", status_code=204, responses=COMMAND)
async def delete_variable(id: str, name: str, session: SessionDep) -> Response:
    await tasks.task_variable(session, id, name)
    await tasks.set_task_variables(session, id, modifications={}, deletions=[name])
    return Response(status_code=204)


@router.get("/{id}/identity-links", response_model=list[IdentityLinkRead], responses=READ_ONE)
async def get_identity_links(id: str, session: SessionDep, type: str | None = None) -> Any:
    links = await tasks.identity_links(session, id)
    return [IdentityLinkRead.model_validate(link) for link in links if type in (None, link.type)]


@router.post("/{id}/identity-links", status_code=204, responses=COMMAND)
async def add_identity_link(id: str, body: IdentityLinkBody, session: SessionDep) -> Response:
    link = IdentityLink(body.user_id, body.group_id, body.type)
    await tasks.change_identity_link(session, id, link, add=True)
    return Response(status_code=204)


@router.post("/{id}/identity-links/delete", status_code=204, responses=COMMAND)
async def delete_identity_link(id: str, body: IdentityLinkBody, session: SessionDep) -> Response:
    link = IdentityLink(body.user_id, body.group_id, body.type)
    await tasks.change_identity_link(session, id, link, add=False)
    return Response(status_code=204)
