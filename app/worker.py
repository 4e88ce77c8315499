"""The arq worker: `arq app.worker.WorkerSettings`.

`on_startup` builds what jobs need (settings, engine, session factory) into `ctx`; each
job will open its own unit of work (`app.core.db.unit_of_work`) in the explicit tenancy
context it was enqueued with. Today it runs one cron job, the heartbeat that `/ready`
reports; the job kinds of later features register here.
"""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from app.core.config import get_settings
from app.core.db import create_engine, create_session_factory, refuse_privileged_role
from app.core.heartbeat import record_heartbeat
from app.core.logging import configure_logging


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)
    engine = create_engine(settings)
    await refuse_privileged_role(engine)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["session_factory"] = create_session_factory(engine)
    await heartbeat(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await ctx["engine"].dispose()


async def heartbeat(ctx: dict[str, Any]) -> None:
    """Records that a worker is alive (see app.core.heartbeat)."""
    await record_heartbeat(ctx["redis"])


class WorkerSettings:
    functions: list[Any] = []
    cron_jobs = [cron(heartbeat, second=0, run_at_startup=False)]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url)
