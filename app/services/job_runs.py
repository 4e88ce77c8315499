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


@dataclass(slots=True)
class _Slice:
    """What one slice knows while it runs: its tenant, limits and what it has done."""

    tenant_id: str
    admin_groups: Sequence[str]
    backoff_seconds: float
    deadline: float
    allowed: dict[str, bool] = field(default_factory=dict)  # one membership read per user
    attempted: list[uuid.UUID] = field(default_factory=list)  # not again in this slice

    def out_of_time(self) -> bool:
        return time.monotonic() > self.deadline


async def run_slice(
    work: Work,
    tenant_id: str,
    *,
    size: int,
    admin_groups: Sequence[str],
    backoff_seconds: float,
    time_budget_seconds: float,
) -> SliceOutcome:
    """Up to `size` due runs of one tenant, oldest first; past `time_budget_seconds` the
    rest waits for the next slice (slow handlers must not run into the arq job's timeout).

    A run whose handler writes to the database gets a unit of work of its own (its writes
    and its outcome commit together). Runs of handlers that write nothing (`noop`,
    `http.call`) that are due are done together in the unit of work of the first: nothing
    of theirs is rolled back on a failure, so one transaction can record them all."""
    current = _Slice(
        tenant_id, admin_groups, backoff_seconds, time.monotonic() + time_budget_seconds
    )
    outcome = SliceOutcome()
    while len(current.attempted) < size:
        if current.out_of_time():
            outcome.more = True
            return outcome
        try:
            done, last = await _run_next(work, current, size - len(current.attempted))
        except _HandlerFailed as failure:
            done, last = [await _record_handler_failure(work, current, failure)], False
        except Exception:  # the database went away mid-run: rolled back, still pending
            logger.exception("a job run of tenant %s could not be recorded", tenant_id)
            outcome.more = True
            return outcome
        for run in done:
            current.attempted.append(run.id)
            outcome.count(run)
        if last:
            return outcome  # nothing else due (but what other workers hold)
    outcome.more = True
    return outcome


async def _run_next(work: Work, current: _Slice, room: int) -> tuple[list[JobRun], bool]:
    """Lock the tenant's oldest due run and run it in one unit of work — with the next
    due runs of database-free handlers if it is one. Returns the runs done, and whether
    nothing else was due (the claim locks two rows to know it without another query). The
    unit of work starts as the tenant and acts for each run's user in turn."""
    async with work(TenancyContext.for_tenant(current.tenant_id, user_id=None)) as session:
        claimed = await _claim(session, current.attempted, 2)
        if not claimed:
            return [], True
        first, last = claimed[0], len(claimed) < 2
        if first.handler not in job_handlers.DATABASE_FREE:  # (an unknown one fails in _run)
            await _run(session, current, first, in_place=False)
            return [first], last
        more = (
            []
            if last
            else await _claim(session, [*current.attempted, first.id], room - 1, database_free=True)
        )
        done: list[JobRun] = []
        for run in [first, *more]:
            if current.out_of_time():
                return done, False  # the rest stays pending, unlocked at the commit
            await _run(session, current, run, in_place=True)
            done.append(run)
        return done, last


async def _claim(
    session: AsyncSession, skip: Sequence[uuid.UUID], limit: int, *, database_free: bool = False
) -> Sequence[JobRun]:
    statement = (
        select(JobRun)
        .where(JobRun.status == PENDING, JobRun.due_at <= func.now())
        .order_by(JobRun.due_at, JobRun.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if skip:
        statement = statement.where(JobRun.id.notin_(skip))
    if database_free:
        statement = statement.where(JobRun.handler.in_(job_handlers.DATABASE_FREE))
    return (await session.scalars(statement)).all() if limit > 0 else []


async def _run(session: AsyncSession, current: _Slice, run: JobRun, *, in_place: bool) -> None:
    """One run, as its acting user after the G2 check. A handler's failure is recorded
    here (`in_place`: it wrote nothing) or raised to be recorded in a unit of work of its
    own once this one rolled back."""
    act_as(session, run.acting_user)
    user = run.acting_user
    if user is not None and user not in current.allowed:
        current.allowed[user] = await may_act_in_tenant(
            session, user, current.tenant_id, admin_groups=current.admin_groups
        )
    run.started_at = run.started_at or datetime.now(UTC)
    if user is not None and not current.allowed[user]:  # retrying cannot make them a member
        refusal = f"user '{user}' may no longer act in tenant '{current.tenant_id}'"
        await _record_failure(session, run, refusal, final=True, backoff_seconds=0)
        return
    try:
        handler = job_handlers.get_handler(run.handler)
        result = await handler.run(
            session, run, job_handlers.parse_parameters(handler, run.parameters)
        )
        await session.flush()  # the handler's own writes fail here, inside the attempt
    except Exception as exc:
        if not in_place:
            raise _HandlerFailed(run.id, user, _describe(exc)) from exc
        await _record_failure(
            session, run, _describe(exc), final=False, backoff_seconds=current.backoff_seconds
        )
        return
    run.status = SUCCEEDED
    run.attempts += 1
    run.result = result
    run.error = None
    run.finished_at = datetime.now(UTC)


async def _record_handler_failure(work: Work, current: _Slice, failure: _HandlerFailed) -> JobRun:
    """The failed attempt, in a unit of work of its own (the handler's writes are gone)."""
    context = TenancyContext.for_tenant(current.tenant_id, user_id=failure.acting_user)
    async with work(context) as session:
        run = await session.scalar(
            select(JobRun).where(JobRun.id == failure.run_id).with_for_update()
        )
        assert run is not None  # runs are never deleted, only finished or cancelled
        if run.status != PENDING:
            return run
        run.started_at = run.started_at or datetime.now(UTC)
        await _record_failure(
            session, run, failure.error, final=False, backoff_seconds=current.backoff_seconds
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
