"""The arq worker: `arq app.worker.WorkerSettings`.

`on_startup` builds what jobs need (settings, engine, session factory, a publisher of work
notifications) into `ctx`; nothing is built at import time. Every run opens its own unit of
work in an explicit tenancy context: a process job runs in its instance's tenant as the user
who started it (`run_process_job`); the sweeper is platform maintenance (system context).

PostgreSQL decides what is due; Redis only wakes workers. `sweep` enqueues every due job
again every few seconds (arq's job id keeps one enqueue per job and due date), so a lost
message, a flushed Redis or a killed worker delays work and never loses it.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager
from typing import Any, Final

from arq import cron
from arq.connections import RedisSettings

from app.core.config import get_settings
from app.core.db import create_engine, create_session_factory, refuse_privileged_role, unit_of_work
from app.core.heartbeat import record_heartbeat
from app.core.logging import configure_logging
from app.core.notifications import WorkNotifier, bind_notifier
from app.core.queue import bind_queue
from app.core.tenancy import TenancyContext
from app.models.runtime import Job
from app.services import execution, process_jobs

logger = logging.getLogger(__name__)
SWEEP_BATCH: Final = 1000


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)
    engine = create_engine(settings)
    await refuse_privileged_role(engine)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["session_factory"] = create_session_factory(engine)
    ctx["notifier"] = WorkNotifier(ctx["redis"])  # publishes only: workers do not long-poll
    await heartbeat(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Records that a worker is alive (see app.core.heartbeat)."""
    await record_heartbeat(ctx["redis"])


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


async def sweep(ctx: dict[str, Any]) -> int:
    """Enqueue every due process job again (platform maintenance, system context)."""
    async with _work(ctx, TenancyContext.system()) as session:
        due = await process_jobs.due_jobs(session, limit=SWEEP_BATCH)
        for job_id, due_date in due:
            execution.announce_job(session, job_id, due_date)
    return len(due)


class WorkerSettings:
    functions: list[Any] = [run_process_job]
    cron_jobs = [
        cron(heartbeat, second=0, run_at_startup=False),
        cron(sweep, second=set(range(0, 60, 5)), run_at_startup=True),
    ]
    on_startup = startup
    on_shutdown = shutdown
    # PostgreSQL keeps the outcome; no result in Redis, so a job id is free again at once.
    keep_result = 0
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
