"""Starting instances (`/process-definition/.../start`) and `/process-instance`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from app.api.deps import PageDep, SessionDep, SortingDep, VariableLimitsDep
from app.api.paths import IdentifierPath, comma_list
from app.api.responses import AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.core.pagination import Sorting
from app.schemas.base import CountResult
from app.schemas.runtime import (
    InstanceQuery,
    ProcessInstanceRead,
    ProcessInstanceWithVariables,
    StartInstance,
    Suspension,
    VariableModifications,
)
from app.services import process_instances
from app.services.process_instances import InstanceFilter, Started
from app.services.variables import variables_to_camunda

router = APIRouter(tags=["Process Instance"])
START = problems(400, 401, 403, 404)
COMMAND = problems(400, 401, 404, 409)


def _started(started: Started, body: StartInstance) -> ProcessInstanceWithVariables:
    return ProcessInstanceWithVariables(
        id=started.instance_id,
        definition_id=started.definition_id,
        business_key=started.business_key,
        ended=started.ended,
        tenant_id=started.tenant_id,
        variables=(
            variables_to_camunda(started.variables) if body.with_variables_in_return else None
        ),
    )


@router.post(
    "/process-definition/{id}/start", response_model=ProcessInstanceWithVariables, responses=START
)
async def start_by_id(
    id: str, body: StartInstance, session: SessionDep, limits: VariableLimitsDep
) -> Any:
    started = await process_instances.start_by_id(
        session,
        id,
        business_key=body.business_key,
        variables=limits.parse(body.variables),
        tenant_selector_given=body.tenant_id is not None or body.without_tenant_id,
    )
    return _started(started, body)


@router.post(
    "/process-definition/key/{key}/start",
    response_model=ProcessInstanceWithVariables,
    responses=START,
)
async def start_by_key(
    key: str, body: StartInstance, session: SessionDep, limits: VariableLimitsDep
) -> Any:
    started = await process_instances.start_by_key(
        session,
        key,
        tenant_id=body.tenant_id,
        without_tenant=body.without_tenant_id,
        business_key=body.business_key,
        variables=limits.parse(body.variables),
    )
    return _started(started, body)


@router.post(
    "/process-definition/key/{key}/tenant-id/{tenantId}/start",
    response_model=ProcessInstanceWithVariables,
    responses=START,
)
async def start_by_key_and_tenant(
    key: str,
    tenantId: IdentifierPath,
    body: StartInstance,
    session: SessionDep,
    limits: VariableLimitsDep,
) -> Any:
    started = await process_instances.start_by_key(
        session,
        key,
        tenant_id=tenantId,
        without_tenant=body.without_tenant_id,
        business_key=body.business_key,
        variables=limits.parse(body.variables),
    )
    return _started(started, body)


def _query_filter(
    processInstanceIds: str | None = None,
    businessKey: str | None = None,
    businessKeyLike: str | None = None,
    processDefinitionId: str | None = None,
    processDefinitionKey: str | None = None,
    superProcessInstance: str | None = None,
    subProcessInstance: str | None = None,
    active: bool = False,
    suspended: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
    processDefinitionWithoutTenantId: bool = False,
) -> InstanceFilter:
    return InstanceFilter(
        ids=comma_list(processInstanceIds),
        business_key=businessKey,
        business_key_like=businessKeyLike,
        definition_id=processDefinitionId,
        definition_key=processDefinitionKey,
        super_instance=superProcessInstance,
        sub_instance=subProcessInstance,
        active=active,
        suspended=suspended,
        definition_without_tenant=processDefinitionWithoutTenantId,
        tenants=TenantSelector(comma_list(tenantIdIn), withoutTenantId),
    )


FilterDep = Annotated[InstanceFilter, Depends(_query_filter)]


def _body_filter(body: InstanceQuery) -> tuple[InstanceFilter, Sorting]:
    filters = InstanceFilter(
        ids=body.process_instance_ids,
        business_key=body.business_key,
        business_key_like=body.business_key_like,
        definition_id=body.process_definition_id,
        definition_key=body.process_definition_key,
        super_instance=body.super_process_instance,
        sub_instance=body.sub_process_instance,
        active=body.active,
        suspended=body.suspended,
        definition_without_tenant=body.process_definition_without_tenant_id,
        tenants=TenantSelector(body.tenant_id_in, body.without_tenant_id),
    )
    first = body.sorting[0] if body.sorting else None
    return filters, Sorting(first.sort_by if first else None, first.sort_order if first else None)


def _read(rows: Any) -> list[ProcessInstanceRead]:
    return [
        ProcessInstanceRead(
            id=row.id,
            definition_id=row.process_definition_id,
            definition_key=row.process_definition_key,
            business_key=row.business_key,
            suspended=row.suspended,
            tenant_id=row.tenant_id,
        )
        for row in rows
    ]


@router.get("/process-instance", response_model=list[ProcessInstanceRead], responses=AUTHENTICATED)
async def list_instances(
    session: SessionDep, filters: FilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await process_instances.list_instances(
        session, filters=filters, sorting=sorting, page=page
    )
    return _read(rows)


@router.post("/process-instance", response_model=list[ProcessInstanceRead], responses=AUTHENTICATED)
async def query_instances(body: InstanceQuery, session: SessionDep, page: PageDep) -> Any:
    filters, sorting = _body_filter(body)
    rows = await process_instances.list_instances(
        session, filters=filters, sorting=sorting, page=page
    )
    return _read(rows)


@router.get("/process-instance/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_instances(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await process_instances.count_instances(session, filters=filters))


@router.post("/process-instance/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_instances_by_body(body: InstanceQuery, session: SessionDep) -> CountResult:
    filters, _ = _body_filter(body)
    return CountResult(count=await process_instances.count_instances(session, filters=filters))


@router.get("/process-instance/{id}", response_model=ProcessInstanceRead, responses=READ_ONE)
async def get_instance(id: str, session: SessionDep) -> Any:
    return _read([await process_instances.get_instance(session, id)])[0]


@router.delete("/process-instance/{id}", status_code=204, responses=COMMAND)
async def delete_instance(
    id: str, session: SessionDep, deleteReason: str | None = None
) -> Response:
    await process_instances.delete_instance(session, id, reason=deleteReason)
    return Response(status_code=204)


@router.put("/process-instance/{id}/suspended", status_code=204, responses=COMMAND)
async def suspend_instance(id: str, body: Suspension, session: SessionDep) -> Response:
    await process_instances.set_suspended(session, id, suspended=body.suspended)
    return Response(status_code=204)


@router.get("/process-instance/{id}/activity-instances", responses=READ_ONE)
async def activity_instances(id: str, session: SessionDep) -> dict[str, Any]:
    return await process_instances.activity_tree(session, id)


@router.get("/process-instance/{id}/variables", responses=READ_ONE)
async def get_variables(id: str, session: SessionDep) -> dict[str, Any]:
    return variables_to_camunda(await process_instances.get_variables(session, id))


@router.post("/process-instance/{id}/variables", status_code=204, responses=COMMAND)
async def modify_variables(
    id: str, body: VariableModifications, session: SessionDep, limits: VariableLimitsDep
) -> Response:
    await process_instances.modify_variables(
        session,
        id,
        modifications=limits.parse(body.modifications),
        deletions=body.deletions or [],
    )
    return Response(status_code=204)


@router.get("/process-instance/{id}/variables/{name}", responses=READ_ONE)
async def get_variable(id: str, name: str, session: SessionDep) -> dict[str, Any]:
    typed = await process_instances.get_variable(session, id, name)
    return variables_to_camunda({name: typed})[name]


@router.put("/process-instance/{id}/variables/{name}", status_code=204, responses=COMMAND)
async def put_variable(
    id: str, name: str, body: dict[str, Any], session: SessionDep, limits: VariableLimitsDep
) -> Response:
    await process_instances.modify_variables(
        session, id, modifications={name: limits.parse_one(name, body)}
    )
    return Response(status_code=204)


@router.delete("/process-instance/{id}/variables/{name}", status_code=204, responses=COMMAND)
async def delete_variable(id: str, name: str, session: SessionDep) -> Response:
    await process_instances.get_variable(session, id, name)
    await process_instances.modify_variables(session, id, modifications={}, deletions=[name])
    return Response(status_code=204)
