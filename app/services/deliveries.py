"""Delivering events to listeners: per-tenant slices, the actions, retries (G2, G4, G5).

`deliver_slice(tenant_key)` (the worker's `deliver_events`) is a tenant *slice*
(`app.core.queue`): up to `SLICE_SIZE` due deliveries of one tenant ("" = the system
space), oldest first, each in a unit of work of its own with its row locked `FOR UPDATE
SKIP LOCKED`. If due work is left, the next slice queues behind every other tenant's
(round-robin, G4). Retries wait for the sweeper to wake their tenant once due.

An action runs in the event's tenant as the event's actor, who must still be able to act
there when it runs (G2, `may_act_in_tenant`); otherwise the delivery fails for good with
that reason. A failed attempt is due again after a backoff (10 s, doubling, at most an
hour); after the listener's `max_attempts` the delivery is FAILED — the dead letter, which
an operator retries through `/listeners/{id}/deliveries/{deliveryId}/retry`.

At least once: an attempt commits its outcome after the action. `start-process` and
`correlate-message` write in that same transaction, so they happen once in effect. A
webhook is outside the database: a crash between the call and the commit repeats the
call, which carries the event id (`Tessera-Event-Id`) for the receiver to drop.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import outbound
from app.core.config import Settings
from app.core.db import Work
from app.core.tenancy import TenancyContext, acting_for
from app.models.background import (
    FAILED,
    PENDING,
    SUCCEEDED,
    Listener,
    ListenerDelivery,
    OutboxEvent,
)
from app.schemas.base import InputSchema
from app.services import messages, outbox, process_instances
from app.services.principal import may_act_in_tenant
from app.services.variables import TypedValue

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- actions


class WebhookTarget(InputSchema):
    url: str = Field(min_length=1, max_length=2000)


class StartProcessTarget(InputSchema):
    process_definition_key: str = Field(min_length=1, max_length=255)


class CorrelateMessageTarget(InputSchema):
    message_name: str = Field(min_length=1, max_length=255)
    # A top-level field of the event's payload whose value is the business key to match.
    business_key_from: str | None = Field(default=None, min_length=1, max_length=255)
    all: bool = False


class FinalFailure(Exception):
    """An attempt that retrying cannot help (G2 refusal, no tenant to act in)."""


class WebhookRejected(Exception):
    """The receiver answered, but not with 2xx (3xx included: redirects are not followed)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the receiver answered HTTP {status}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Attempt:
    """What an action gets: the event, its listener, the listener's checked target."""

    session: AsyncSession
    listener: Listener
    event: OutboxEvent
    target: Any
    settings: Settings


@dataclass(frozen=True, slots=True)
class ActionSpec:
    target: type[BaseModel]
    run: Callable[[Attempt], Awaitable[int | None]]  # returns the HTTP status, if any
    acts_in_tenant: bool  # writes as the event's actor: G2 applies


def event_body(event: OutboxEvent) -> dict[str, Any]:
    """What a webhook receives."""
    return {
        "id": str(event.id),
        "type": event.event_type,
        "tenantId": event.tenant_id,
        "actor": event.actor,
        "createdAt": event.created_at.isoformat(),
        "payload": event.payload,
    }


def _event_variables(event: OutboxEvent) -> dict[str, TypedValue]:
    return {
        "eventId": TypedValue("String", str(event.id)),
        "eventType": TypedValue("String", event.event_type),
        "event": TypedValue("Json", event.payload),
    }


async def _webhook(attempt: Attempt) -> int:
    """Not an act in the tenant (no G2 check): it reports a change that already happened,
    e.g. the removal of the very user who made it."""
    listener = attempt.listener
    response = await outbound.post_json(
        attempt.target.url,
        event_body(attempt.event),
        timeout_seconds=attempt.settings.webhook_timeout_seconds,
        allow_private_network=listener.allow_private_network,
        secret=listener.secret,
        event_id=str(attempt.event.id),
    )
    if not response.ok:
        raise WebhookRejected(response.status)
    return response.status


async def _start_process(attempt: Attempt) -> None:
    """Business key = event id: an instance shows which event started it."""
    event = attempt.event
    await process_instances.start_by_key(
        attempt.session,
        attempt.target.process_definition_key,
        tenant_id=event.tenant_id,
        without_tenant=False,
        business_key=str(event.id),
        variables=_event_variables(event),
    )
    return None


async def _correlate_message(attempt: Attempt) -> None:
    event, target = attempt.event, attempt.target
    business_key = None
    if target.business_key_from is not None:
        value = event.payload.get(target.business_key_from)
        if value is None:
            raise ValueError(f"the event's payload has no {target.business_key_from!r}")
        business_key = str(value)
    await messages.correlate(
        attempt.session,
        messages.Correlation(
            message_name=target.message_name,
            business_key=business_key,
            tenant_id=event.tenant_id,
            variables=_event_variables(event),
            all=target.all,
        ),
    )
    return None


# The actions a listener may name, with the target each one needs (checked on save).
ACTIONS: Final[dict[str, ActionSpec]] = {
    outbox.WEBHOOK: ActionSpec(WebhookTarget, _webhook, acts_in_tenant=False),
    "start-process": ActionSpec(StartProcessTarget, _start_process, acts_in_tenant=True),
    "correlate-message": ActionSpec(
        CorrelateMessageTarget, _correlate_message, acts_in_tenant=True
    ),
}


# --------------------------------------------------------------------------- slices

SLICE_SIZE: Final = 20
BACKOFF_FIRST: Final = timedelta(seconds=10)
BACKOFF_MAX: Final = timedelta(hours=1)
_ERROR_LENGTH: Final = 2000


async def deliver_slice(work: Work, tenant_key: str, *, settings: Settings) -> bool:
    """The worker's `deliver_events`: one slice of a tenant's due deliveries ("" = the
    system space). True if due work is left (the worker then queues the next slice)."""
    tenant_id = tenant_key or None
    async with work(TenancyContext.system()) as session:
        due = await due_deliveries(session, tenant_id, limit=SLICE_SIZE)
    for delivery_id in due:
        await _attempt(work, delivery_id, settings)
    async with work(TenancyContext.system()) as session:
        return bool(await due_deliveries(session, tenant_id, limit=1))


async def due_deliveries(
    session: AsyncSession, tenant_id: str | None, *, limit: int
) -> list[uuid.UUID]:
    """Ids of a tenant's due deliveries, oldest first; rows another worker is attempting
    right now (locked) are skipped, so a slice never waits for, or spins on, them."""
    scope = (
        ListenerDelivery.tenant_id.is_(None)
        if tenant_id is None
        else ListenerDelivery.tenant_id == tenant_id
    )
    statement = (
        outbox.due_statement(datetime.now(UTC))
        .where(scope)
        .order_by(ListenerDelivery.due_at, ListenerDelivery.id)
        .limit(limit)
        .with_for_update(of=ListenerDelivery, skip_locked=True)
    )
    return list((await session.scalars(statement)).all())


async def _attempt(work: Work, delivery_id: uuid.UUID, settings: Settings) -> None:
    """One attempt, its outcome committed with it (module docstring: at least once)."""
    async with work(TenancyContext.system()) as session:
        delivery = await session.scalar(
            select(ListenerDelivery)
            .where(
                ListenerDelivery.id == delivery_id,
                ListenerDelivery.status == PENDING,
                ListenerDelivery.due_at <= datetime.now(UTC),
            )
            .with_for_update(skip_locked=True)
        )
        if delivery is None:
            return  # done meanwhile, or another worker holds it
        listener = await session.get(Listener, delivery.listener_id)
        event = await session.get(OutboxEvent, delivery.event_id)
        assert listener is not None and event is not None  # ON DELETE CASCADE
        try:
            status = await _act(Attempt(session, listener, event, None, settings))
        except FinalFailure as exc:
            _failed(delivery, listener, str(exc), final=True)
        except WebhookRejected as exc:
            _failed(delivery, listener, str(exc))
            delivery.response_status = exc.status
        except Exception as exc:  # any failure of the action is this attempt's outcome
            logger.info("delivery %s failed: %s", delivery_id, exc)
            _failed(delivery, listener, str(exc) or type(exc).__name__)
        else:
            delivery.status, delivery.delivered_at = SUCCEEDED, datetime.now(UTC)
            delivery.attempts += 1
            delivery.response_status, delivery.error = status, None


async def _act(attempt: Attempt) -> int | None:
    """Run the listener's action for the event: in the event's tenant as its actor."""
    session, event = attempt.session, attempt.event
    spec = ACTIONS[attempt.listener.action]
    attempt = replace(attempt, target=spec.target.model_validate(attempt.listener.target))
    if not spec.acts_in_tenant:
        return await spec.run(attempt)
    if event.tenant_id is None:
        raise FinalFailure("a system-space event has no tenant to act in")
    if event.actor is not None and not await may_act_in_tenant(
        session, event.actor, event.tenant_id, admin_groups=attempt.settings.admin_groups
    ):
        raise FinalFailure(f"user {event.actor!r} may no longer act in tenant {event.tenant_id!r}")
    # A savepoint inside the tenant context: a failing action leaves nothing behind but
    # its recorded failure (and the savepoint is gone before the context is restored).
    async with acting_for(session, event.tenant_id, user_id=event.actor), session.begin_nested():
        with outbox.caused_by(session, event):
            return await spec.run(attempt)


def _failed(
    delivery: ListenerDelivery, listener: Listener, error: str, *, final: bool = False
) -> None:
    delivery.attempts += 1
    delivery.error = error[:_ERROR_LENGTH]
    if final or delivery.attempts >= listener.max_attempts:
        delivery.status = FAILED
        return
    delay = min(BACKOFF_FIRST * 2 ** (delivery.attempts - 1), BACKOFF_MAX)
    delivery.due_at = datetime.now(UTC) + delay
