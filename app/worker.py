"""The arq worker: `arq app.worker.WorkerSettings`.

`on_startup` builds what jobs need (settings, engine, session factory, a publisher of work
notifications) into `ctx`; nothing is built at import time. Every run opens its own unit of
work in an explicit tenancy context: a process job runs in its instance's tenant as the user
who started it (`run_process_job`); a slice of job runs runs each run in its tenant as its
acting user (`run_job_runs`); the sweeper is platform maintenance (system context).

PostgreSQL decides what is due; Redis only wakes workers. `sweep` fans out the job
definitions whose tick has come and enqueues every due piece of work again every few
seconds (arq's job ids keep one enqueue per piece), so a lost message, a flushed Redis or a
killed worker delays work and never loses it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import asynccontextmanager
from typing import Any, Final

from arq import cron
from arq.connections import RedisSettings

from app.core.config import get_settings
from app.core.db import (
    Work,
    create_engine,
    create_session_factory,
    refuse_privileged_role,
    unit_of_work,
)
from app.core.heartbeat import record_heartbeat
from app.core.logging import configure_logging
from app.core.notifications import WorkNotifier, bind_notifier
from app.core.queue import bind_queue, continue_slice, enqueue_continuations, enqueue_slices
from app.core.tenancy import TenancyContext
from app.models.runtime import Job
from app.services import deliveries, execution, job_definitions, job_runs, outbox, process_jobs

logger = logging.getLogger(__name__)
SWEEP_BATCH: Final = 1000
HEARTBEAT_INTERVAL_SECONDS: Final = 30


async def startup(ctx: dict[str, Any]) -> None:
    settings = ctx.get("settings") or get_settings()  # a test may hand its own in
    configure_logging(settings.log_level, json_output=settings.log_json)
    # arq's CLI gives its logger a handler of its own at INFO; ours formats every line, at
    # LOG_LEVEL, once.
    logging.getLogger("arq").handlers.clear()
    logging.getLogger("arq").setLevel(settings.log_level)
    engine = create_engine(settings)
    await refuse_privileged_role(engine)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["session_factory"] = create_session_factory(engine)
    ctx["notifier"] = WorkNotifier(ctx["redis"])  # publishes only: workers do not long-poll
    await heartbeat(ctx)
    # Not an arq cron job: those queue behind every job due before them, and a worker busy
    # with a long backlog is alive all the same.
    ctx["heartbeat"] = asyncio.create_task(_beat_forever(ctx))


async def shutdown(ctx: dict[str, Any]) -> None:
    ctx["heartbeat"].cancel()
    await ctx["engine"].dispose()


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Records that a worker is alive (see app.core.heartbeat)."""
    await record_heartbeat(ctx["redis"])


async def _beat_forever(ctx: dict[str, Any]) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)
        try:
            await heartbeat(ctx)
        except Exception:  # Redis is away for a moment: the next beat tries again
            logger.warning("worker heartbeat failed", exc_info=True)


def _works(ctx: dict[str, Any]) -> Work:
    """Units of work in any context, for services that open one per run or delivery."""
    return lambda context: _work(ctx, context)


@asynccontextmanager
async def _work(ctx: dict[str, Any], context: TenancyContext) -> Any:
    """A unit of work of the worker: what it commits wakes workers and long polls."""
    async with unit_of_work(ctx["session_factory"], context, settings=ctx["settings"]) as session:
        bind_queue(session, ctx["redis"])
        bind_notifier(session, ctx["notifier"])
        yield session


async def run_process_job(ctx: dict[str, Any], job_id: str) -> str:
    """Run one process job (timer, asyncBefore continuation) if it is still due, in its
    tenant as its acting user (G2); a failure is recorded with retries and backoff."""
    parsed = uuid.UUID(job_id)
    # Which tenant and user: read as the system (maintenance), then act in that context.
    async with _work(ctx, TenancyContext.system()) as session:
        job = await session.get(Job, parsed)
        if job is None:
            return "gone"
        tenant_id, user_id = job.tenant_id, job.acting_user
        allowed = await process_jobs.acting_user_may_run(
            session, job, admin_groups=ctx["settings"].admin_groups
        )
    context = TenancyContext.for_tenant(tenant_id, user_id=user_id)
    if not allowed:
        refusal = f"user {user_id!r} is no longer a member of tenant {tenant_id!r}"
        await _fail(ctx, context, parsed, refusal, final=True)  # retrying cannot help
        return "refused"
    try:
        async with _work(ctx, context) as session:
            ran = await process_jobs.run_job(session, parsed)
    except Exception as exc:  # the run rolled back; record why, in a unit of work of its own
        logger.warning("process job %s failed: %s", job_id, exc)
        await _fail(ctx, context, parsed, str(exc) or type(exc).__name__)
        return "failed"
    return "ran" if ran else "not due"


async def _fail(
    ctx: dict[str, Any],
    context: TenancyContext,
    job_id: uuid.UUID,
    message: str,
    *,
    final: bool = False,
) -> None:
    async with _work(ctx, context) as session:
        await process_jobs.record_failure(session, job_id, message, final=final)


async def run_job_runs(ctx: dict[str, Any], tenant_id: str) -> str:
    """One slice of a tenant's due job runs (fair acquisition, `app.services.job_runs`)."""
    settings = ctx["settings"]
    outcome = await job_runs.run_slice(
        _works(ctx),
        tenant_id,
        size=settings.job_slice_size,
        admin_groups=settings.admin_groups,
        backoff_seconds=settings.job_retry_backoff_seconds,
        time_budget_seconds=settings.worker_job_timeout_seconds / 2,
    )
    if outcome.more:
        continue_slice(ctx, job_runs.SLICE_FUNCTION, tenant_id)
    elif outcome.retry_at is not None:
        continue_slice(ctx, job_runs.SLICE_FUNCTION, tenant_id, at=outcome.retry_at)
    return f"{outcome.succeeded} succeeded, {outcome.failed} failed"


async def dispatch_events(ctx: dict[str, Any]) -> int:
    """Hand the outbox's new events to the listeners that hear them (`app.services.outbox`)."""
    return await outbox.dispatch(_works(ctx))


async def deliver_events(ctx: dict[str, Any], tenant_key: str) -> None:
    """One slice of a tenant's listener deliveries (`app.services.deliveries`)."""
    if await deliveries.deliver_slice(_works(ctx), tenant_key, settings=ctx["settings"]):
        continue_slice(ctx, outbox.DELIVER, tenant_key)


async def sweep(ctx: dict[str, Any]) -> int:
    """Platform maintenance (system context): fan out the job definitions whose tick has
    come, and enqueue again every due process job and every tenant with due job runs."""
    async with _work(ctx, TenancyContext.system()) as session:
        fired = await job_definitions.fire_due(session, limit=SWEEP_BATCH)
        job_runs.wake_tenants(session, sorted(fired))
        due = await process_jobs.due_jobs(session, limit=SWEEP_BATCH)
        for job_id, due_date in due:
            execution.announce_job(session, job_id, due_date)
        waiting = await job_runs.tenants_with_due_runs(session, limit=SWEEP_BATCH * 10)
        await outbox.sweep(session)  # undispatched events, tenants with due deliveries
    await enqueue_slices(ctx["redis"], job_runs.SLICE_FUNCTION, waiting)
    return len(due) + len(waiting)


class WorkerSettings:
    functions: list[Any] = [run_process_job, run_job_runs, dispatch_events, deliver_events]
    cron_jobs = [cron(sweep, second=set(range(0, 60, 5)), run_at_startup=True)]
    on_startup = startup
    on_shutdown = shutdown
    after_job_end = enqueue_continuations  # a slice that left work queues the next one
    job_timeout = get_settings().worker_job_timeout_seconds
    # arq's default (0.5 s) idles a worker between polls: a slice's continuation and a
    # lone tenant's run would wait for it.
    poll_delay = get_settings().worker_poll_delay_seconds
    # PostgreSQL keeps the outcome; no result in Redis, so a job id is free again at once.
    keep_result = 0
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
