"""Job runs: one run of a job definition for one tenant — acquisition, execution, retries.

**Acquisition is fair (G4).** Runs are not queued in Redis one by one: each tenant with due
runs has one slice job (`app.core.queue`, "tenant slices"); `run_slice` does up to
`JOB_SLICE_SIZE` of that tenant's due runs, oldest first, and asks for the next slice at the
back of the queue if some are left. A tenant with 100,000 runs waiting therefore delays a
lone run of another tenant by at most one slice, not by its backlog.

**A run is one unit of work**, in the run's tenant context as its acting user (G1: exactly
that tenant's visibility; G2: the user's current memberships are checked first). The oldest
due row is locked `FOR UPDATE SKIP LOCKED` (two workers never run one run), the handler
runs, and the outcome is written in the same transaction as the handler's own writes: a
worker killed half-way rolls everything back, the run stays pending, and the sweeper wakes
its tenant again, so every run takes effect exactly once. A failing handler's unit of work
is rolled back and the attempt recorded in one of its own: due again after a backoff
(doubling from `JOB_RETRY_BACKOFF_SECONDS`, capped at an hour), and after the last attempt
the run fails for good with an incident (`failedJobRun`, `/incident`) that
`POST /jobs/{key}/runs/{id}/retry` resolves. One tenant's failing run never touches
another's (G3).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Work
from app.core.errors import BadRequest, NotFound
from app.core.filters import TenantSelector, uuid_or_none, where_equal
from app.core.pagination import Page, Sorting, count_rows
from app.core.queue import enqueue_slices_after_commit
from app.core.tenancy import TenancyContext, act_as
from app.models.background import FAILED, PENDING, SUCCEEDED, JobRun
from app.services import incidents, job_handlers
from app.services.incidents import FAILED_JOB_RUN
from app.services.principal import may_act_in_tenant

logger = logging.getLogger(__name__)

SLICE_FUNCTION: Final = "run_job_runs"  # the worker's arq function of a tenant's slice
MAX_BACKOFF: Final = timedelta(hours=1)
MAX_ERROR_CHARS: Final = 4000


def wake_tenants(session: AsyncSession, tenant_ids: Sequence[str]) -> None:
    """After this unit of work commits, wake the slice of each tenant that got runs."""
    enqueue_slices_after_commit(session, SLICE_FUNCTION, tenant_ids)


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class RunFilter:
    job_key: str | None = None
    status: str | None = None
    trigger: str | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        statement = where_equal(
            statement,
            {
                JobRun.job_key: self.job_key,
                JobRun.status: self.status,
                JobRun.trigger: self.trigger,
            },
        )
        return self.tenants.apply(statement, JobRun.tenant_id)


_SORT_COLUMNS = {
    "createdAt": JobRun.created_at,
    "scheduledFor": JobRun.scheduled_for,
    "dueAt": JobRun.due_at,
    "status": JobRun.status,
    "tenantId": JobRun.tenant_id,
}


async def list_runs(
    session: AsyncSession, *, filters: RunFilter, sorting: Sorting, page: Page
) -> Sequence[JobRun]:
    if sorting.sort_by is None:  # newest first unless asked otherwise
        sorting = Sorting("createdAt", "desc")
    statement = sorting.apply(filters.apply(select(JobRun)), _SORT_COLUMNS, tiebreak=JobRun.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_runs(session: AsyncSession, *, filters: RunFilter) -> int:
    return await count_rows(session, filters.apply(select(JobRun)))


async def get_run(session: AsyncSession, job_key: str, run_id: str) -> JobRun:
    """404 alike for an unknown id, another key's run and another tenant's run."""
    parsed = uuid_or_none(run_id)
    run = await session.get(JobRun, parsed) if parsed is not None else None
    if run is None or run.job_key != job_key:
        raise NotFound("Job run not found.")
    return run


async def retry(session: AsyncSession, run: JobRun) -> None:
    """An operator's retry of a run that failed for good: all its attempts again, due now;
    its incident is resolved."""
    if run.status != FAILED:
        raise BadRequest(f"Only a failed run can be retried; this one is {run.status}.")
    run.status = PENDING
    run.attempts = 0
    run.due_at = datetime.now(UTC)
    run.finished_at = None
    await incidents.resolve_incidents(session, FAILED_JOB_RUN, [run.id])
    wake_tenants(session, [run.tenant_id])


# --------------------------------------------------------------------------- running


@dataclass(slots=True)
class SliceOutcome:
    succeeded: int = 0
    failed: int = 0
    more: bool = False  # due runs may be left: the next slice is wanted now
    retry_at: datetime | None = None  # the earliest retry of a run that failed here

    def count(self, run: JobRun) -> None:
        if run.status == SUCCEEDED:
            self.succeeded += 1
            return
        self.failed += 1
        if run.status == PENDING and (self.retry_at is None or run.due_at < self.retry_at):
            self.retry_at = run.due_at


class _HandlerFailed(Exception):
    """A handler raised: its unit of work is rolled back, the attempt is recorded apart."""

    def __init__(self, run_id: uuid.UUID, acting_user: str | None, error: str) -> None:
        super().__init__(error)
        self.run_id, self.acting_user, self.error = run_id, acting_user, error


async def run_slice(
    work: Work,
    tenant_id: str,
    *,
    size: int,
    admin_groups: Sequence[str],
    backoff_seconds: float,
    time_budget_seconds: float,
) -> SliceOutcome:
    """Up to `size` due runs of one tenant, oldest first, each in its own unit of work;
    past `time_budget_seconds` the rest waits for the next slice (slow handlers must not
    run into the arq job's timeout)."""
    deadline = time.monotonic() + time_budget_seconds
    outcome = SliceOutcome()
    allowed: dict[str, bool] = {}  # one membership read per user and slice
    attempted: list[uuid.UUID] = []  # a run failed here waits for its retry, not this slice
    for _ in range(size):
        if time.monotonic() > deadline:
            outcome.more = True
            return outcome
        try:
            run = await _run_next(work, tenant_id, allowed, admin_groups, attempted)
        except _HandlerFailed as failure:
            run = await _record_handler_failure(work, tenant_id, failure, backoff_seconds)
        except Exception:  # the database went away mid-run: rolled back, still pending
            logger.exception("a job run of tenant %s could not be recorded", tenant_id)
            outcome.more = True
            return outcome
        if run is None:
            return outcome  # nothing due any more
        attempted.append(run.id)
        outcome.count(run)
    outcome.more = True
    return outcome


async def _run_next(
    work: Work,
    tenant_id: str,
    allowed: dict[str, bool],
    admin_groups: Sequence[str],
    attempted: Sequence[uuid.UUID],
) -> JobRun | None:
    """Lock the tenant's oldest due run and run it, in one unit of work; None when none is
    due. The unit of work starts as the tenant and continues as the run's acting user."""
    async with work(TenancyContext.for_tenant(tenant_id, user_id=None)) as session:
        run = await session.scalar(
            select(JobRun)
            .where(JobRun.status == PENDING, JobRun.due_at <= func.now())
            .where(JobRun.id.notin_(attempted))
            .order_by(JobRun.due_at, JobRun.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if run is None:
            return None
        act_as(session, run.acting_user)
        user = run.acting_user
        if user is not None and user not in allowed:
            allowed[user] = await may_act_in_tenant(
                session, user, tenant_id, admin_groups=admin_groups
            )
        run.started_at = run.started_at or datetime.now(UTC)
        if user is not None and not allowed[user]:  # G2: retrying cannot make them a member
            refusal = f"user '{user}' may no longer act in tenant '{tenant_id}'"
            await _record_failure(session, run, refusal, final=True, backoff_seconds=0)
            return run
        try:
            handler = job_handlers.get_handler(run.handler)
            result = await handler.run(
                session, run, job_handlers.parse_parameters(handler, run.parameters)
            )
            await session.flush()  # the handler's own writes fail here, inside the attempt
        except Exception as exc:
            raise _HandlerFailed(run.id, user, _describe(exc)) from exc
        run.status = SUCCEEDED
        run.attempts += 1
        run.result = result
        run.error = None
        run.finished_at = datetime.now(UTC)
        return run


async def _record_handler_failure(
    work: Work, tenant_id: str, failure: _HandlerFailed, backoff_seconds: float
) -> JobRun | None:
    """The failed attempt, in a unit of work of its own (the handler's writes are gone)."""
    context = TenancyContext.for_tenant(tenant_id, user_id=failure.acting_user)
    async with work(context) as session:
        run = await session.scalar(
            select(JobRun).where(JobRun.id == failure.run_id).with_for_update()
        )
        if run is None or run.status != PENDING:
            return run
        run.started_at = run.started_at or datetime.now(UTC)
        await _record_failure(
            session, run, failure.error, final=False, backoff_seconds=backoff_seconds
        )
        return run


def _describe(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return f"{type(exc).__name__}: {detail or exc}"[:MAX_ERROR_CHARS]


async def _record_failure(
    session: AsyncSession, run: JobRun, error: str, *, final: bool, backoff_seconds: float
) -> None:
    run.attempts += 1
    run.error = error
    if final or run.attempts >= run.max_attempts:
        run.status = FAILED
        run.finished_at = datetime.now(UTC)
        await incidents.open_incident(session, run, FAILED_JOB_RUN, error)
        return
    delay = min(timedelta(seconds=backoff_seconds * 2 ** (run.attempts - 1)), MAX_BACKOFF)
    run.due_at = datetime.now(UTC) + delay


# --------------------------------------------------------------------------- sweeping


async def tenants_with_due_runs(session: AsyncSession, *, limit: int) -> list[str]:
    """System context: every tenant with a due pending run (the sweeper wakes each)."""
    rows = await session.scalars(
        select(JobRun.tenant_id)
        .where(JobRun.status == PENDING, JobRun.due_at <= func.now())
        .group_by(JobRun.tenant_id)
        .order_by(func.min(JobRun.due_at))
        .limit(limit)
    )
    return list(rows.all())
