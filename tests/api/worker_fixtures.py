"""A real arq worker of the app's WorkerSettings, for tests: burst mode on the suite's Redis."""

from __future__ import annotations

import warnings
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

from app import worker as worker_module
from app.core.config import Settings


async def run_worker(settings: Settings, *, max_burst_jobs: int = -1) -> int:
    """Run what is queued (and what those jobs queue), then stop; the jobs completed."""
    worker = Worker(
        functions=worker_module.WorkerSettings.functions,
        on_startup=worker_module.startup,
        on_shutdown=worker_module.shutdown,
        after_job_end=worker_module.WorkerSettings.after_job_end,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        burst=True,
        max_burst_jobs=max_burst_jobs,
        poll_delay=0.05,
        keep_result=0,
        handle_signals=False,
        ctx={"settings": settings},
    )
    try:
        await worker.main()  # burst: returns once the queue is empty
    finally:
        with warnings.catch_warnings():  # arq 0.26 closes its pool with redis' old close()
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
    return worker.jobs_complete


async def drain(settings: Settings) -> int:
    """Run workers until one finds nothing to do. (A burst worker may stop between a
    slice's end and the next slice it queues; a real worker keeps polling.)"""
    total = 0
    while done := await run_worker(settings):
        total += done
    return total


async def sweep_once(settings: Settings) -> int:
    """What the worker's cron sweeper does every few seconds, once."""
    ctx: dict[str, Any] = {
        "redis": await create_pool(RedisSettings.from_dsn(settings.redis_url)),
        "settings": settings,
    }
    await worker_module.startup(ctx)
    try:
        return await worker_module.sweep(ctx)
    finally:
        await worker_module.shutdown(ctx)
        await ctx["redis"].aclose()
