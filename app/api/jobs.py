"""`/jobs`: job definitions (shareable, resolved by key like artifacts), their runs, and the
registry of handlers they may name. The worker runs them (`app.services.job_runs`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import comma_list
from app.api.responses import ADMIN_WRITE, AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.models.background import JobDefinition
from app.schemas.base import CountResult
from app.schemas.jobs import (
    HandlerRead,
    JobCreate,
    JobRead,
    JobRunRead,
    JobSettings,
    TriggerBody,
    TriggerResult,
)
from app.services import job_definitions, job_handlers, job_runs
from app.services.job_definitions import DefinitionFilter, DefinitionInput
from app.services.job_runs import RunFilter

router = APIRouter(prefix="/jobs", tags=["Jobs"])


async def _resolved(
    key: str,
    session: SessionDep,
    tenantId: str | None = None,
    withoutTenantId: bool = False,
) -> JobDefinition:
    """The effective definition of `key` for the caller (or the tenant / shared one asked)."""
    return await job_definitions.resolve(
        session, key, tenant_id=tenantId, without_tenant=withoutTenantId
    )


ResolvedDep = Annotated[JobDefinition, Depends(_resolved)]


def _settings(body: JobSettings) -> DefinitionInput:
    return DefinitionInput(
        handler=body.handler,
        parameters=body.parameters,
        name=body.name,
        cron=body.cron,
        interval_seconds=body.interval_seconds,
        max_attempts=body.max_attempts,
        enabled=body.enabled,
    )


@router.get("/handlers", response_model=list[HandlerRead], responses=AUTHENTICATED)
async def list_handlers() -> Any:
    return [
        HandlerRead(
            name=handler.name,
            description=handler.description,
            parameters=handler.parameters.model_json_schema(by_alias=True),
        )
        for handler in job_handlers.HANDLERS.values()
    ]


def _definition_filter(
    key: str | None = None,
    handler: str | None = None,
    enabled: bool | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
    includeJobsWithoutTenantId: bool = False,
) -> DefinitionFilter:
    return DefinitionFilter(
        key=key,
        handler=handler,
        enabled=enabled,
        tenants=TenantSelector(comma_list(tenantIdIn), withoutTenantId, includeJobsWithoutTenantId),
    )


@router.get("", response_model=list[JobRead], responses=AUTHENTICATED)
async def list_jobs(
    session: SessionDep,
    filters: Annotated[DefinitionFilter, Depends(_definition_filter)],
    sorting: SortingDep,
    page: PageDep,
) -> Any:
    rows = await job_definitions.list_definitions(
        session, filters=filters, sorting=sorting, page=page
    )
    return [JobRead.model_validate(row) for row in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_jobs(
    session: SessionDep, filters: Annotated[DefinitionFilter, Depends(_definition_filter)]
) -> CountResult:
    return CountResult(count=await job_definitions.count_definitions(session, filters=filters))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=JobRead, responses=ADMIN_WRITE)
async def create_job(body: JobCreate, session: SessionDep) -> Any:
    definition = await job_definitions.create_definition(
        session, body.key, body.tenant_id, _settings(body)
    )
    return JobRead.model_validate(definition)


@router.get("/{key}", response_model=JobRead, responses=READ_ONE)
async def get_job(definition: ResolvedDep) -> Any:
    return JobRead.model_validate(definition)


@router.put("/{key}", response_model=JobRead, responses=ADMIN_WRITE)
async def replace_job(body: JobSettings, definition: ResolvedDep, session: SessionDep) -> Any:
    updated = await job_definitions.replace_definition(session, definition, _settings(body))
    return JobRead.model_validate(updated)


@router.delete(
    "/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=ADMIN_WRITE,
)
async def delete_job(definition: ResolvedDep, session: SessionDep) -> None:
    await job_definitions.delete_definition(session, definition)


@router.post(
    "/{key}/trigger",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TriggerResult,
    responses=problems(400, 401, 403, 404),
)
async def trigger_job(
    key: str, body: TriggerBody, definition: ResolvedDep, session: SessionDep
) -> TriggerResult:
    """Run now, as the caller: for the definition's tenant; a shared one for the caller's
    tenant (`tenantId` or the only one), or for every tenant when an admin of none asks."""
    tenants = await job_definitions.trigger(session, definition, tenant_id=body.tenant_id)
    job_runs.wake_tenants(session, tenants)
    return TriggerResult(run_count=len(tenants), tenant_ids=tenants[:1000])


def _run_filter(
    status: str | None = None,
    trigger: str | None = None,
    tenantIdIn: str | None = None,
) -> RunFilter:
    return RunFilter(status=status, trigger=trigger, tenants=TenantSelector(comma_list(tenantIdIn)))


RunFilterDep = Annotated[RunFilter, Depends(_run_filter)]


@router.get("/{key}/runs", response_model=list[JobRunRead], responses=AUTHENTICATED)
async def list_runs(
    key: str, session: SessionDep, filters: RunFilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    """The runs of this key in every tenant the caller sees (the shared definition's runs
    for the caller's tenants included)."""
    filters = RunFilter(
        job_key=key, status=filters.status, trigger=filters.trigger, tenants=filters.tenants
    )
    rows = await job_runs.list_runs(session, filters=filters, sorting=sorting, page=page)
    return [JobRunRead.model_validate(row) for row in rows]


@router.get("/{key}/runs/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_runs(key: str, session: SessionDep, filters: RunFilterDep) -> CountResult:
    filters = RunFilter(
        job_key=key, status=filters.status, trigger=filters.trigger, tenants=filters.tenants
    )
    return CountResult(count=await job_runs.count_runs(session, filters=filters))


@router.get("/{key}/runs/{runId}", response_model=JobRunRead, responses=READ_ONE)
async def get_run(key: str, runId: str, session: SessionDep) -> Any:
    return JobRunRead.model_validate(await job_runs.get_run(session, key, runId))


@router.post(
    "/{key}/runs/{runId}/retry",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problems(400, 401, 404),
)
async def retry_run(key: str, runId: str, session: SessionDep) -> None:
    await job_runs.retry(session, await job_runs.get_run(session, key, runId))
