"""`/incident`: failed work waiting for an operator (Camunda's incident resource)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import comma_list
from app.api.responses import AUTHENTICATED
from app.core.filters import TenantSelector
from app.schemas.base import CountResult
from app.schemas.events import IncidentRead
from app.services import incidents
from app.services.incidents import IncidentFilter

router = APIRouter(prefix="/incident", tags=["Incident"])


def _query_filter(
    incidentId: str | None = None,
    incidentType: str | None = None,
    incidentMessage: str | None = None,
    processInstanceId: str | None = None,
    processDefinitionId: str | None = None,
    activityId: str | None = None,
    configuration: str | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> IncidentFilter:
    return IncidentFilter(
        id=incidentId,
        incident_type=incidentType,
        incident_message=incidentMessage,
        process_instance_id=processInstanceId,
        process_definition_id=processDefinitionId,
        activity_id=activityId,
        configuration=configuration,
        tenants=TenantSelector(comma_list(tenantIdIn), withoutTenantId),
    )


FilterDep = Annotated[IncidentFilter, Depends(_query_filter)]


@router.get("", response_model=list[IncidentRead], responses=AUTHENTICATED)
async def list_incidents(
    session: SessionDep, filters: FilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await incidents.list_incidents(session, filters=filters, sorting=sorting, page=page)
    return [IncidentRead.model_validate(row) for row in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_incidents(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await incidents.count_incidents(session, filters=filters))
