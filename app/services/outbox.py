"""Events for listeners: the outbox and its dispatcher (CONFORMANCE G5, DESIGN §5).

1. `emit()` adds an `OutboxEvent` to the caller's unit of work, so an event exists exactly
   when the change that caused it committed, and wakes the dispatcher after the commit.
   The event's actor is the unit of work's user. The hot path pays one INSERT per event
   (batched with the change's own rows); whether anyone listens is the dispatcher's job.
2. The dispatcher (`dispatch`, the worker's `dispatch_events`) claims undispatched
   events (`FOR UPDATE SKIP LOCKED`, so workers never claim one twice), inserts one
   `ListenerDelivery` per (listener, event) for every enabled listener that hears it —
   the event's tenant's own listeners and the system listeners; a system-space event
   only the system listeners — and marks the events dispatched. A delivery is unique per
   (listener, event) (`ON CONFLICT DO NOTHING`), so dispatching an event again never
   delivers it twice. Then it wakes the delivery slice of each tenant concerned
   (`app.services.deliveries`).
3. `sweep()` re-wakes what Redis lost: the dispatcher while an event waits, and the slice
   of every tenant with due deliveries.

The registry of event types (`EVENT_TYPES`) is here too: `emit()` refuses any other type
and listeners are checked against it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import Select, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import Work
from app.core.queue import enqueue_after_commit, enqueue_slice_after_commit
from app.core.tenancy import TenancyContext, current_context
from app.models.background import PENDING, Listener, ListenerDelivery, OutboxEvent

# --------------------------------------------------------------------------- event types

# Every event the platform emits: the one registry listeners are checked against.
EVENT_TYPES: Final[tuple[str, ...]] = (
    "process-instance.started",
    "process-instance.ended",
    "task.created",
    "task.completed",
    "task.deleted",
    "deployment.created",
    "tenant-membership.created",
    "tenant-membership.deleted",
    "user.created",
    "user.deleted",
)
FAMILIES: Final = frozenset(t.split(".", 1)[0] for t in EVENT_TYPES)
ALL_EVENTS: Final = "*"


def is_known_pattern(pattern: str) -> bool:
    """An event type, a family (`task.*`) or `*`."""
    if pattern == ALL_EVENTS or pattern in EVENT_TYPES:
        return True
    return pattern.endswith(".*") and pattern[:-2] in FAMILIES


def pattern_matches(pattern: str, event_type: str) -> bool:
    if pattern in (ALL_EVENTS, event_type):
        return True
    return pattern.endswith(".*") and event_type.startswith(pattern[:-1])


def hears(listener: Listener, event: OutboxEvent) -> bool:
    """G5: a tenant's listener hears its tenant's events; a system listener every event.
    An event that a chain of `MAX_CHAIN` listener actions caused reaches webhooks only
    (a listener starting the process whose start it hears would otherwise never stop)."""
    if listener.tenant_id is not None and listener.tenant_id != event.tenant_id:
        return False
    if event.chain >= MAX_CHAIN and listener.action != WEBHOOK:
        return False
    return any(pattern_matches(p, event.event_type) for p in listener.event_types)


@contextmanager
def caused_by(session: AsyncSession, event: OutboxEvent) -> Iterator[None]:
    """Events emitted inside the block are one link further down `event`'s chain."""
    previous = session.info.get(_CHAIN, 0)
    session.info[_CHAIN] = event.chain + 1
    try:
        yield
    finally:
        session.info[_CHAIN] = previous


# --------------------------------------------------------------------------- emitting

DISPATCH: Final = "dispatch_events"
WEBHOOK: Final = "webhook"  # the action that reports, and so causes no further event
MAX_CHAIN: Final = 3
_CHAIN: Final = "tessera.event_chain"
DELIVER: Final = "deliver_events"
_WOKEN: Final = "tessera.outbox_woken"


def emit(
    session: AsyncSession, event_type: str, *, tenant_id: str | None, payload: dict[str, Any]
) -> OutboxEvent:
    """Write an event in the caller's unit of work (tenant None = the system space)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unregistered event type {event_type!r}")  # a bug, not input
    event = OutboxEvent(
        id=uuid.uuid4(),
        event_type=event_type,
        tenant_id=tenant_id,
        actor=current_context(session).user_id,
        chain=session.info.get(_CHAIN, 0),
        payload=payload,
    )
    session.add(event)
    _wake_dispatcher(session)
    return event


def _wake_dispatcher(session: AsyncSession) -> None:
    """One wake per transaction, however many events it emits (the job id coalesces the
    rest in Redis anyway; this saves the round trips)."""
    transaction = session.get_transaction()
    if session.info.get(_WOKEN) is transaction and transaction is not None:
        return
    session.info[_WOKEN] = transaction
    enqueue_after_commit(session, DISPATCH, job_id=DISPATCH)


# --------------------------------------------------------------------------- dispatching

DISPATCH_BATCH: Final = 500
_INSERT_CHUNK: Final = 1000  # delivery rows per INSERT (bound parameters stay well below 32k)


async def dispatch_batch(session: AsyncSession, *, limit: int = DISPATCH_BATCH) -> int:
    """Claim up to `limit` undispatched events, create their deliveries, mark them
    dispatched; wakes the delivery slices after commit. System context (every tenant)."""
    events = (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not events:
        return 0
    listeners = await _listeners_for(session, {e.tenant_id for e in events})
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    woken: set[str | None] = set()
    for event in events:
        for listener in listeners:
            if hears(listener, event):
                rows.append(_delivery_row(listener, event, now))
                woken.add(event.tenant_id)
    for start in range(0, len(rows), _INSERT_CHUNK):
        await session.execute(
            insert(ListenerDelivery)
            .values(rows[start : start + _INSERT_CHUNK])
            .on_conflict_do_nothing(index_elements=["listener_id", "event_id"])
        )
    await session.execute(
        update(OutboxEvent)
        .where(OutboxEvent.id.in_([e.id for e in events]))
        .values(dispatched_at=now)
    )
    for tenant_id in woken:
        enqueue_slice_after_commit(session, DELIVER, tenant_id or "")
    return len(events)


def _delivery_row(listener: Listener, event: OutboxEvent, now: datetime) -> dict[str, Any]:
    """A delivery belongs to the event's tenant (a system listener's too), so that it is
    in that tenant's slice and visible to that tenant."""
    return {
        "id": uuid.uuid4(),
        "listener_id": listener.id,
        "event_id": event.id,
        "tenant_id": event.tenant_id,
        "status": PENDING,
        "attempts": 0,
        "due_at": now,
    }


async def _listeners_for(session: AsyncSession, tenant_ids: set[str | None]) -> Sequence[Listener]:
    """The enabled listeners of these tenants, and the system listeners."""
    tenants = [t for t in tenant_ids if t is not None]
    return (
        await session.scalars(
            select(Listener).where(
                Listener.enabled.is_(True),
                or_(Listener.tenant_id.is_(None), Listener.tenant_id.in_(tenants)),
            )
        )
    ).all()


# --------------------------------------------------------------------------- worker entry

# A unit of work in a tenancy context, opened by the worker (`app.worker._work`).


async def dispatch(work: Work) -> int:
    """The worker's `dispatch_events`: batches until one is not full. An event committed
    after the last batch while the job still runs finds its wake refused (the job id is
    taken); the next sweep dispatches it."""
    total = 0
    while True:
        async with work(TenancyContext.system()) as session:
            claimed = await dispatch_batch(session)
        total += claimed
        if claimed < DISPATCH_BATCH:
            return total


def due_statement(now: datetime) -> Select[Any]:
    """Pending, due, of an enabled listener (a disabled one's deliveries wait for it)."""
    return (
        select(ListenerDelivery.id)
        .join(Listener, Listener.id == ListenerDelivery.listener_id)
        .where(
            ListenerDelivery.status == PENDING,
            ListenerDelivery.due_at <= now,
            Listener.enabled.is_(True),
        )
    )


# --------------------------------------------------------------------------- sweeping

SWEEP_TENANTS: Final = 1000


async def sweep(session: AsyncSession) -> int:
    """Wake the dispatcher if any event waits, and the slice of every tenant with due
    deliveries (system context). Returns how many wakes it sent."""
    woken = 0
    waiting = await session.scalar(
        select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None)).limit(1)
    )
    if waiting is not None:
        enqueue_after_commit(session, DISPATCH, job_id=DISPATCH)
        woken += 1
    due = due_statement(datetime.now(UTC)).with_only_columns(ListenerDelivery.tenant_id).distinct()
    for tenant_id in await session.scalars(due.limit(SWEEP_TENANTS)):
        enqueue_slice_after_commit(session, DELIVER, tenant_id or "")
        woken += 1
    return woken
