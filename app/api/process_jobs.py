"""`/job`: the timers and asyncBefore continuations of instances (Camunda's job resource).
The background worker runs them when due; an operator lists them, runs one now, sets its
retries (resolving its incident) or moves its due date."""

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field, field_serializer

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import comma_list
from app.api.responses import AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.schemas.base import CountResult, InputSchema, Schema
from app.schemas.events import RetriesBody
from app.schemas.repository import camunda_datetime
from app.services import process_jobs
from app.services.process_jobs import JobFilter

router = APIRouter(prefix="/job", tags=["Job"])
COMMAND: dict[str, Any] = {
    "status_code": 204,
    "response_class": Response,
    "responses": problems(400, 401, 404, 409),
}


class JobRead(Schema):
    id: uuid.UUID
    job_definition_id: None = None
    process_instance_id: uuid.UUID
    execution_id: uuid.UUID = Field(validation_alias="process_instance_id")
    process_definition_id: str | None
    process_definition_key: str | None
    exception_message: str | None
    failed_activity_id: str | None = Field(validation_alias="activity_id")
    retries: int
    due_date: datetime | None
    suspended: bool
    priority: int = 0
    tenant_id: str
    create_time: datetime = Field(validation_alias="created_at")
    batch_id: None = None

    @field_serializer("due_date", "create_time")
    def _time(self, value: datetime | None) -> str | None:
        return camunda_datetime(value) if value is not None else None


class DueDateBody(InputSchema):
    duedate: datetime | None = None


def _query_filter(
    jobId: str | None = None,
    jobIds: str | None = None,
    processInstanceId: str | None = None,
    executionId: str | None = None,
    processDefinitionId: str | None = None,
    processDefinitionKey: str | None = None,
    activityId: str | None = None,
    withRetriesLeft: bool = False,
    noRetriesLeft: bool = False,
    executable: bool = False,
    timers: bool = False,
    messages: bool = False,
    withException: bool = False,
    active: bool = False,
    suspended: bool = False,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
) -> JobFilter:
    return JobFilter(
        id=jobId,
        ids=comma_list(jobIds),
        process_instance_id=processInstanceId or executionId,
        process_definition_id=processDefinitionId,
        process_definition_key=processDefinitionKey,
        activity_id=activityId,
        with_retries_left=withRetriesLeft,
        no_retries_left=noRetriesLeft,
        executable=executable,
        timers=timers,
        messages=messages,
        with_exception=withException,
        active=active,
        suspended=suspended,
        tenants=TenantSelector(comma_list(tenantIdIn), withoutTenantId),
    )


FilterDep = Annotated[JobFilter, Depends(_query_filter)]


@router.get("", response_model=list[JobRead], responses=AUTHENTICATED)
async def list_jobs(
    session: SessionDep, filters: FilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await process_jobs.list_jobs(session, filters=filters, sorting=sorting, page=page)
    return [JobRead.model_validate(row) for row in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_jobs(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await process_jobs.count_jobs(session, filters=filters))


@router.get("/{id}", response_model=JobRead, responses=READ_ONE)
async def get_job(id: str, session: SessionDep) -> Any:
    return JobRead.model_validate(await process_jobs.get_job(session, id))


@router.post("/{id}/execute", **COMMAND)
async def execute_job(id: str, session: SessionDep) -> None:
    await process_jobs.execute(session, id)


@router.put("/{id}/retries", **COMMAND)
async def set_retries(id: str, body: RetriesBody, session: SessionDep) -> None:
    await process_jobs.set_retries(session, id, body.retries)


@router.put("/{id}/duedate", **COMMAND)
async def set_due_date(id: str, body: DueDateBody, session: SessionDep) -> None:
    await process_jobs.set_due_date(session, id, body.duedate)
