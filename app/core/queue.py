"""Enqueueing background work: only after the unit of work that wrote it has committed.

PostgreSQL is the source of truth for every piece of work (a job row); arq on Redis only
wakes a worker. So an enqueue is registered with the unit of work (`enqueue_after_commit`)
and sent once the rows are committed — never for a rollback, and never before the worker
could see the row. A lost message (Redis flushed, a worker killed) costs time, not work:
the sweeper (`app.worker.sweep`) enqueues again whatever is due.

arq's `_job_id` makes an enqueue idempotent while the same job waits in the queue, so the
sweeper and the commit may both enqueue one piece of work.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from arq.connections import ArqRedis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import after_commit

logger = logging.getLogger(__name__)

_QUEUE: Final = "tessera.queue"
# Work due later than this is not put in Redis at all: PostgreSQL holds it, the sweeper
# enqueues it once due (Redis holds only what is about to run).
ENQUEUE_HORIZON: Final = timedelta(minutes=1)


def bind_queue(session: AsyncSession, queue: ArqRedis | None) -> None:
    """Let `enqueue_after_commit()` in this unit of work enqueue to `queue`."""
    session.info[_QUEUE] = queue


def enqueue_after_commit(
    session: AsyncSession,
    function: str,
    *args: Any,
    job_id: str,
    defer_until: datetime | None = None,
) -> None:
    """Enqueue `function(*args)` once this unit of work has committed. Without a bound
    queue (a script, a test) nothing is sent: the sweeper finds the work when it is due."""
    queue: ArqRedis | None = session.info.get(_QUEUE)
    if queue is None:
        return
    now = datetime.now(UTC)
    if defer_until is not None and defer_until <= now:
        defer_until = None  # due already: at once
    elif defer_until is not None and defer_until - now > ENQUEUE_HORIZON:
        return  # far ahead: the sweeper enqueues it when it is due

    async def send() -> None:
        await queue.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until)

    after_commit(session, send)
