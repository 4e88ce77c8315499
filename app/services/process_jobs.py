"""Process jobs: the timers and asyncBefore continuations of instances (Camunda's `/job`).

A job row is written by `app.services.execution` in the same transaction as the wait it
stands for, and a worker is woken once that commits (`announce_job`). Running one
(`run_job`) happens in the **tenant context** of the instance, as the user who started it
(G2): that user's current memberships are checked first, so a user who left the tenant no
longer has work done in their name. A run is one unit of work: the job row is locked
(`FOR UPDATE SKIP LOCKED`, so two workers never run one job), the instance tree is loaded
under its lock, the timer fires or the activity runs, and the new state is stored; the job
row disappears with its wait. A duplicate run finds no due row and does nothing, so a job's
effect happens exactly once however often it is enqueued.

A failing run is rolled back and recorded in a unit of work of its own (`record_failure`):
retries go down, the job is due again after the retry delay (`camunda:failedJobRetryTimeCycle`
`R<n>/<duration>`, else 3 retries, 10 s then doubling), and at 0 retries it becomes an
incident (`failedJob`) that an operator resolves by setting retries again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, Conflict, NotFound
from app.core.filters import TenantSelector, refuse_both, uuid_in, uuid_or_none, where_equal
from app.core.pagination import Page, Sorting, count_rows
from app.models.repository import ProcessDefinition
from app.models.runtime import Job
from app.services import engine, execution, incidents
from app.services.incidents import FAILED_JOB
from app.services.principal import may_act_in_tenant

# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class JobFilter:
    id: str | None = None
    ids: Sequence[str] | None = None
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    activity_id: str | None = None
    with_retries_left: bool = False
    no_retries_left: bool = False
    executable: bool = False  # retries left and due
    timers: bool = False
    messages: bool = False  # async continuations (Camunda calls them message jobs)
    with_exception: bool = False
    active: bool = False
    suspended: bool = False
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any], now: datetime) -> Select[Any]:
        refuse_both(
            self.with_retries_left, self.no_retries_left, "withRetriesLeft and noRetriesLeft"
        )
        refuse_both(self.timers, self.messages, "timers and messages")
        refuse_both(self.active, self.suspended, "active and suspended")
        if self.id is not None or self.ids is not None:
            statement = statement.where(
                uuid_in(Job.id, [*(self.ids or []), *([self.id] if self.id else [])])
            )
        if self.process_instance_id is not None:
            statement = statement.where(
                Job.process_instance_id == uuid_or_none(self.process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                Job.process_definition_id: self.process_definition_id,
                Job.process_definition_key: self.process_definition_key,
                Job.activity_id: self.activity_id,
            },
        )
        if self.with_retries_left or self.executable:
            statement = statement.where(Job.retries > 0)
        if self.no_retries_left:
            statement = statement.where(Job.retries <= 0)
        if self.executable:
            statement = statement.where(_due(now))
        if self.timers:
            statement = statement.where(Job.job_type == "timer")
        if self.messages:
            statement = statement.where(Job.job_type == "async-continuation")
        if self.with_exception:
            statement = statement.where(Job.exception_message.isnot(None))
        if self.active or self.suspended:
            statement = statement.where(Job.suspended.is_(self.suspended))
        return self.tenants.apply(statement, Job.tenant_id)


def _due(now: datetime) -> Any:
    return or_(Job.due_date.is_(None), Job.due_date <= now)


_SORT_COLUMNS = {
    "jobId": Job.id,
    "jobDueDate": Job.due_date,
    "jobRetries": Job.retries,
    "processInstanceId": Job.process_instance_id,
    "processDefinitionId": Job.process_definition_id,
    "processDefinitionKey": Job.process_definition_key,
    "tenantId": Job.tenant_id,
}


async def list_jobs(
    session: AsyncSession, *, filters: JobFilter, sorting: Sorting, page: Page
) -> Sequence[Job]:
    statement = sorting.apply(
        filters.apply(select(Job), datetime.now(UTC)), _SORT_COLUMNS, tiebreak=Job.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_jobs(session: AsyncSession, *, filters: JobFilter) -> int:
    return await count_rows(session, filters.apply(select(Job), datetime.now(UTC)))


async def get_job(session: AsyncSession, job_id: str) -> Job:
    """404 alike for an unknown id and another tenant's job."""
    parsed = uuid_or_none(job_id)
    job = await session.get(Job, parsed) if parsed is not None else None
    if job is None:
        raise NotFound("Job not found.")
    return job


# --------------------------------------------------------------------------- running


async def execute(session: AsyncSession, job_id: str) -> None:
    """`POST /job/{id}/execute`: run the job now, due or not (a failure is the caller's 400
    and changes nothing)."""
    job = await get_job(session, job_id)
    if job.suspended:
        raise Conflict("The job's process instance is suspended.")
    await _run_locked(session, job.id, due_only=False)


async def run_job(session: AsyncSession, job_id: uuid.UUID) -> bool:
    """The worker's run of a due job, in the job's tenant context; False when there was
    nothing to do (not due any more, already done, running elsewhere, suspended)."""
    return await _run_locked(session, job_id, due_only=True)


async def _run_locked(session: AsyncSession, job_id: uuid.UUID, *, due_only: bool) -> bool:
    statement = select(Job).where(Job.id == job_id, Job.suspended.is_(False))
    if due_only:
        statement = statement.where(Job.retries > 0, _due(datetime.now(UTC)))
    job = await session.scalar(
        statement.with_for_update(skip_locked=True).execution_options(populate_existing=True)
    )
    if job is None:
        return False
    tree = await execution.load_tree(session, job.process_instance_id)
    waits = tree.before_view.waits if tree.before_view else []
    if all(wait.id != job.id for wait in waits):  # the wait went (e.g. its activity ended)
        await session.delete(job)
        return False
    kind = "timer" if job.job_type == "timer" else "async"
    engine.continue_job(tree.workflow, job.id, kind)
    await execution.store(session, tree)
    return True


async def acting_user_may_run(
    session: AsyncSession, job: Job, *, admin_groups: Sequence[str]
) -> bool:
    """G2: the user on whose behalf the job runs may still act in its tenant. A job without
    an acting user runs as the tenant."""
    if job.acting_user is None:
        return True
    return await may_act_in_tenant(
        session, job.acting_user, job.tenant_id, admin_groups=admin_groups
    )


async def record_failure(
    session: AsyncSession, job_id: uuid.UUID, message: str, *, final: bool = False
) -> Job | None:
    """After a failed run (rolled back): one retry less, due again after the delay; at 0 (or
    at once when `final`: retrying cannot help) an incident of the instance. Returns the job
    (None if it is gone)."""
    job = await session.scalar(select(Job).where(Job.id == job_id).with_for_update())
    if job is None:
        return None
    cycle = await _retry_cycle(session, job)
    total, _ = engine.retry_policy(cycle, 1)
    job.retries = 0 if final else max(job.retries - 1, 0)
    job.exception_message = message[:4000]
    _, delay = engine.retry_policy(cycle, total - job.retries)
    job.due_date = datetime.now(UTC) + delay
    if job.retries == 0:
        await incidents.open_incident(session, job, FAILED_JOB, job.exception_message)
    else:
        execution.announce_job(session, job.id, job.due_date)
    return job


async def _retry_cycle(session: AsyncSession, job: Job) -> str | None:
    if job.process_definition_id is None:
        return None
    definition = await session.get(ProcessDefinition, job.process_definition_id)
    if definition is None:
        return None
    model = await execution.process_model(session, definition)
    attributes = model.attributes.get(job.activity_id)
    return attributes.retry_cycle if attributes else None


# --------------------------------------------------------------------------- operator commands


async def set_retries(session: AsyncSession, job_id: str, retries: int) -> None:
    """Retries > 0 resolve the job's incident and wake a worker (Camunda's rule)."""
    if retries < 0:
        raise BadRequest("retries must not be negative.")
    job = await get_job(session, job_id)
    job.retries = retries
    if retries > 0:
        await incidents.resolve_incidents(session, FAILED_JOB, [job.id])
        execution.announce_job(session, job.id, job.due_date)


async def set_due_date(session: AsyncSession, job_id: str, due: datetime | None) -> None:
    job = await get_job(session, job_id)
    job.due_date = due if due is None or due.tzinfo else due.replace(tzinfo=UTC)
    execution.announce_job(session, job.id, job.due_date)


async def due_jobs(session: AsyncSession, *, limit: int) -> list[tuple[uuid.UUID, datetime | None]]:
    """(job id, due date) of due jobs with retries left, oldest due first: what the sweeper
    enqueues again (system context)."""
    rows = await session.execute(
        select(Job.id, Job.due_date)
        .where(Job.retries > 0, Job.suspended.is_(False), _due(datetime.now(UTC)))
        .order_by(Job.due_date.asc().nulls_first(), Job.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]
