"""Incidents: work that failed for good and waits for an operator (Camunda's incident
resource). Read here; created and resolved by the work that fails (`external_tasks`, and
the background jobs). Tenant-checked like every runtime row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.filters import TenantSelector, uuid_in, uuid_or_none, where_equal
from app.core.pagination import Page, Sorting, count_rows
from app.models.runtime import Incident


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    id: str | None = None
    incident_type: str | None = None
    incident_message: str | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    activity_id: str | None = None
    configuration: str | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.id is not None:
            statement = statement.where(uuid_in(Incident.id, [self.id]))
        if self.process_instance_id is not None:
            statement = statement.where(
                Incident.process_instance_id == uuid_or_none(self.process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                Incident.incident_type: self.incident_type,
                Incident.message: self.incident_message,
                Incident.process_definition_id: self.process_definition_id,
                Incident.activity_id: self.activity_id,
                Incident.configuration: self.configuration,
            },
        )
        return self.tenants.apply(statement, Incident.tenant_id)


_SORT_COLUMNS = {
    "incidentId": Incident.id,
    "incidentTimestamp": Incident.created_at,
    "incidentType": Incident.incident_type,
    "activityId": Incident.activity_id,
    "processInstanceId": Incident.process_instance_id,
    "processDefinitionId": Incident.process_definition_id,
    "configuration": Incident.configuration,
    "tenantId": Incident.tenant_id,
}


async def list_incidents(
    session: AsyncSession, *, filters: IncidentFilter, sorting: Sorting, page: Page
) -> Sequence[Incident]:
    statement = sorting.apply(filters.apply(select(Incident)), _SORT_COLUMNS, tiebreak=Incident.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_incidents(session: AsyncSession, *, filters: IncidentFilter) -> int:
    return await count_rows(session, filters.apply(select(Incident)))


# --------------------------------------------------------------------------- raise, resolve

FAILED_JOB: Final = "failedJob"  # Camunda's incident types
FAILED_EXTERNAL_TASK: Final = "failedExternalTask"
FAILED_JOB_RUN: Final = "failedJobRun"  # Tessera's: a run of a job definition (`/jobs`)


class FailedWork(Protocol):
    """What an incident records of the work that failed (a process job, an external task,
    a job run, which belongs to no instance)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> str: ...
    @property
    def process_instance_id(self) -> uuid.UUID | None: ...
    @property
    def process_definition_id(self) -> str | None: ...
    @property
    def activity_id(self) -> str | None: ...


async def open_incident(
    session: AsyncSession, work: FailedWork, incident_type: str, message: str | None
) -> None:
    """An incident for failed `work`, in its tenant, unless one is open for it already (its
    id is the configuration)."""
    found = await session.scalar(
        select(Incident.id).where(
            Incident.incident_type == incident_type, Incident.configuration == str(work.id)
        )
    )
    if found is not None:
        return
    session.add(
        Incident(
            tenant_id=work.tenant_id,
            process_instance_id=work.process_instance_id,
            process_definition_id=work.process_definition_id,
            incident_type=incident_type,
            activity_id=work.activity_id,
            configuration=str(work.id),
            message=message,
        )
    )


async def resolve_incidents(
    session: AsyncSession, incident_type: str, work_ids: Sequence[uuid.UUID]
) -> None:
    """The incidents of that work are resolved (retries set again, or the work is gone)."""
    await session.execute(
        delete(Incident).where(
            Incident.incident_type == incident_type,
            Incident.configuration.in_([str(i) for i in work_ids]),
        )
    )
