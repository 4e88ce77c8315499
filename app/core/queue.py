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

import asyncio
import logging
from collections.abc import Sequence
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


# --------------------------------------------------------------------------- tenant slices
#
# Fair acquisition (G4). Work with a per-tenant backlog (job runs, listener deliveries) is
# not put in Redis item by item, where one tenant's 100,000 items would queue ahead of
# another tenant's one. Instead each tenant with due work has at most one *slice* job in
# the queue (`{function}:{tenant}`, arq refuses a second job with that id). A slice does a
# bounded amount of the tenant's work, oldest first, and if work is left it queues the next
# slice *after* it ended, at the back of the queue (`continue_slice`): round-robin across
# tenants, so a lone tenant's item waits for at most one slice of every busy tenant.

_CONTINUATIONS: Final = "tessera.continuations"
_ENQUEUE_CONCURRENCY: Final = 200


def slice_job_id(function: str, tenant_key: str) -> str:
    return f"{function}:{tenant_key}"


def enqueue_slice_after_commit(session: AsyncSession, function: str, tenant_key: str) -> None:
    """Wake a slice of `function` for `tenant_key` (a tenant id, "" for the system space)
    once this unit of work has committed."""
    enqueue_slices_after_commit(session, function, [tenant_key])


def enqueue_slices_after_commit(
    session: AsyncSession, function: str, tenant_keys: Sequence[str]
) -> None:
    """The same for many tenants at once (a fan-out to every tenant)."""
    queue: ArqRedis | None = session.info.get(_QUEUE)
    if queue is None or not tenant_keys:
        return
    keys = list(tenant_keys)

    async def send() -> None:
        await enqueue_slices(queue, function, keys)

    after_commit(session, send)


async def enqueue_slices(queue: ArqRedis, function: str, tenant_keys: Sequence[str]) -> None:
    """Enqueue the slices concurrently, a bounded number at a time."""
    for start in range(0, len(tenant_keys), _ENQUEUE_CONCURRENCY):
        chunk = tenant_keys[start : start + _ENQUEUE_CONCURRENCY]
        await asyncio.gather(*(enqueue_slice(queue, function, key) for key in chunk))


async def enqueue_slice(
    queue: ArqRedis, function: str, tenant_key: str, *, defer_until: datetime | None = None
) -> None:
    await queue.enqueue_job(
        function,
        tenant_key,
        _job_id=slice_job_id(function, tenant_key),
        _defer_until=defer_until,
    )


def continue_slice(
    ctx: dict[str, Any], function: str, tenant_key: str, *, at: datetime | None = None
) -> None:
    """Ask for the next slice once this arq job has ended (while it runs, arq would refuse
    a job with its id), now or `at` (a retry's due time; beyond the enqueue horizon the
    sweeper wakes it). `enqueue_continuations` is the worker's `after_job_end`."""
    if at is not None and at - datetime.now(UTC) > ENQUEUE_HORIZON:
        return
    ctx.setdefault(_CONTINUATIONS, []).append((function, tenant_key, at))


async def enqueue_continuations(ctx: dict[str, Any]) -> None:
    for function, tenant_key, at in ctx.pop(_CONTINUATIONS, []):
        await enqueue_slice(ctx["redis"], function, tenant_key, defer_until=at)
