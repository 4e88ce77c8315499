"""Listeners: who hears which events and does what (`/listeners`, CONFORMANCE G5).

A listener is shareable. A tenant's listener (`tenantId`, the caller must be a member)
hears that tenant's events; a system listener (no tenant, admins only) hears every
tenant's and the system space's. Visibility is the tenancy core's: a member of T1 sees
T1's and the system listeners, another tenant's reads as 404.

Everything is checked before anything is stored (400 with the reason): the action and
its target (`app.services.deliveries.ACTIONS`), the event types against the registry
(`app.services.outbox.EVENT_TYPES`), `maxAttempts`, and a webhook URL, which must be
http(s) and reach only public addresses (`app.core.outbound`) unless an administrator
allowed private networks for the listener — a setting only administrators make (403).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import outbound
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.filters import TenantSelector, uuid_or_none
from app.core.pagination import Page, Sorting, count_rows
from app.core.queue import enqueue_slice_after_commit
from app.core.tenancy import (
    can_write_shared,
    current_context,
    may_manage_platform,
    require_member,
    sees_everything,
)
from app.models.background import FAILED, PENDING, Listener, ListenerDelivery, OutboxEvent
from app.models.identity import Tenant
from app.services import outbox
from app.services.deliveries import ACTIONS

MAX_ATTEMPTS: Final = 25
MAX_EVENT_TYPES: Final = 50


@dataclass(frozen=True, slots=True)
class ListenerInput:
    """A listener's settings as saved (after a PUT: the old values merged with the new)."""

    name: str | None
    event_types: list[str]
    action: str
    target: dict[str, Any]
    secret: str | None
    enabled: bool
    max_attempts: int
    allow_private_network: bool


# --------------------------------------------------------------------------- writes


async def create_listener(
    session: AsyncSession, tenant_id: str | None, settings: ListenerInput
) -> Listener:
    await _check_owner(session, tenant_id)
    _check_private_network(session, settings.allow_private_network)
    target = await _checked(settings)
    listener = Listener(
        tenant_id=tenant_id,
        acting_user=current_context(session).user_id,
        **_columns(settings, target),
    )
    session.add(listener)
    await session.flush()
    return listener


async def replace_listener(
    session: AsyncSession, listener: Listener, settings: ListenerInput
) -> Listener:
    """Non-admins may not touch what an admin allowed: changing the target (or the flag)
    of a listener that may reach private networks needs an admin too."""
    if not can_write_shared(session) and listener.tenant_id is None:
        raise Forbidden("Only administrators change system listeners.")
    opens_private = settings.allow_private_network and (
        not listener.allow_private_network or settings.target != listener.target
    )
    _check_private_network(session, opens_private)
    target = await _checked(settings)
    for name, value in _columns(settings, target).items():
        setattr(listener, name, value)
    listener.acting_user = current_context(session).user_id
    listener.updated_at = datetime.now(UTC)  # set, not onupdate: the answer reads it
    await session.flush()
    return listener


async def delete_listener(session: AsyncSession, listener: Listener) -> None:
    """Its deliveries go with it (ON DELETE CASCADE); a system listener only by admins
    (403 from the tenancy guard)."""
    await session.delete(listener)
    await session.flush()


async def _check_owner(session: AsyncSession, tenant_id: str | None) -> None:
    """403 for a tenant the caller is not in, or for the system space as a non-admin;
    400 for a tenant that does not exist (as for deployments)."""
    if tenant_id is None:
        if not can_write_shared(session):
            raise Forbidden("Only administrators create system listeners; give tenantId.")
        return
    require_member(session, tenant_id)
    if await session.get(Tenant, tenant_id) is None:
        raise BadRequest(f"Tenant '{tenant_id}' does not exist.")


def _check_private_network(session: AsyncSession, wanted: bool) -> None:
    """Reaching private networks is a platform decision, not a tenant's: admins (and
    trusted server code) only, whatever the global tenant switch says."""
    if wanted and not may_manage_platform(session):
        raise Forbidden("Only administrators allow a listener to reach private networks.")


async def _checked(settings: ListenerInput) -> dict[str, Any]:
    """The target as stored (normalized by its action's schema), or 400."""
    spec = ACTIONS.get(settings.action)
    if spec is None:
        raise BadRequest(f"action must be one of: {', '.join(sorted(ACTIONS))}.")
    _check_event_types(settings.event_types)
    if not 1 <= settings.max_attempts <= MAX_ATTEMPTS:
        raise BadRequest(f"maxAttempts must be between 1 and {MAX_ATTEMPTS}.")
    try:
        target = spec.target.model_validate(settings.target)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'target'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BadRequest(f"target of a {settings.action} listener: {problems}") from None
    url = getattr(target, "url", None)
    if url is not None:
        await outbound.check_url(url, allow_private_network=settings.allow_private_network)
    stored: dict[str, Any] = target.model_dump(by_alias=True, exclude_none=True)
    return stored


def _check_event_types(event_types: Sequence[str]) -> None:
    if not event_types:
        raise BadRequest("eventTypes must name at least one event type.")
    if len(event_types) > MAX_EVENT_TYPES:
        raise BadRequest(f"eventTypes takes at most {MAX_EVENT_TYPES} entries.")
    unknown = [t for t in event_types if not outbox.is_known_pattern(t)]
    if unknown:
        raise BadRequest(
            f"Unknown event types: {', '.join(map(repr, unknown))}. Known: "
            f"{', '.join(outbox.EVENT_TYPES)}, a family such as 'task.*', or '*'."
        )


def _columns(settings: ListenerInput, target: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": settings.name,
        "event_types": list(dict.fromkeys(settings.event_types)),
        "action": settings.action,
        "target": target,
        "secret": settings.secret,
        "enabled": settings.enabled,
        "max_attempts": settings.max_attempts,
        "allow_private_network": settings.allow_private_network,
    }


# --------------------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class ListenerFilter:
    event_type: str | None = None
    action: str | None = None
    enabled: bool | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.event_type is not None:
            statement = statement.where(Listener.event_types.contains([self.event_type]))
        if self.action is not None:
            statement = statement.where(Listener.action == self.action)
        if self.enabled is not None:
            statement = statement.where(Listener.enabled.is_(self.enabled))
        return self.tenants.apply(statement, Listener.tenant_id)


_SORT = {
    "name": Listener.name,
    "action": Listener.action,
    "createdAt": Listener.created_at,
    "tenantId": Listener.tenant_id,
}


async def list_listeners(
    session: AsyncSession, *, filters: ListenerFilter, sorting: Sorting, page: Page
) -> Sequence[Listener]:
    statement = sorting.apply(filters.apply(select(Listener)), _SORT, tiebreak=Listener.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_listeners(session: AsyncSession, *, filters: ListenerFilter) -> int:
    return await count_rows(session, filters.apply(select(Listener)))


async def get_listener(session: AsyncSession, listener_id: str) -> Listener:
    """404 alike for an unknown id, a malformed one and another tenant's listener."""
    key = uuid_or_none(listener_id)
    listener = await session.get(Listener, key) if key is not None else None
    if listener is None:
        raise NotFound("Listener not found.")
    return listener


# --------------------------------------------------------------------------- deliveries


_DELIVERY_SORT = {
    "createdAt": ListenerDelivery.created_at,
    "dueAt": ListenerDelivery.due_at,
    "status": ListenerDelivery.status,
}


def _deliveries(session: AsyncSession, listener: Listener, status: str | None) -> Select[Any]:
    """A listener's deliveries. Non-admins see only those of their tenants' events: a
    system-space event (a user created ...) is none of a tenant's business, although its
    rows are shared at the database level."""
    statement = select(ListenerDelivery).where(ListenerDelivery.listener_id == listener.id)
    if not sees_everything(session):
        statement = statement.where(ListenerDelivery.tenant_id.isnot(None))
    if status is not None:
        statement = statement.where(ListenerDelivery.status == status)
    return statement


async def with_event_types(
    session: AsyncSession, deliveries: Sequence[ListenerDelivery]
) -> list[tuple[ListenerDelivery, str]]:
    """Each delivery with its event's type (one query for the page)."""
    types: dict[uuid.UUID, str] = {}
    if deliveries:
        ids = {d.event_id for d in deliveries}
        rows = await session.execute(
            select(OutboxEvent.id, OutboxEvent.event_type).where(OutboxEvent.id.in_(ids))
        )
        types = {event_id: event_type for event_id, event_type in rows}
    return [(d, types[d.event_id]) for d in deliveries]


async def list_deliveries(
    session: AsyncSession, listener: Listener, *, status: str | None, sorting: Sorting, page: Page
) -> list[tuple[ListenerDelivery, str]]:
    statement = sorting.apply(
        _deliveries(session, listener, status), _DELIVERY_SORT, tiebreak=ListenerDelivery.id
    )
    return await with_event_types(session, (await session.scalars(page.apply(statement))).all())


async def count_deliveries(session: AsyncSession, listener: Listener, *, status: str | None) -> int:
    return await count_rows(session, _deliveries(session, listener, status))


async def retry_delivery(
    session: AsyncSession, listener: Listener, delivery_id: str
) -> tuple[ListenerDelivery, str]:
    """A dead delivery (FAILED) is pending again, due now, with all its attempts back;
    its tenant's slice wakes after commit. Only who may change the listener retries."""
    if listener.tenant_id is None and not can_write_shared(session):
        raise Forbidden("Only administrators retry the deliveries of system listeners.")
    key = uuid_or_none(delivery_id)
    delivery = None
    if key is not None:
        statement = _deliveries(session, listener, None).where(ListenerDelivery.id == key)
        delivery = await session.scalar(statement.with_for_update())
    if delivery is None:
        raise NotFound("Delivery not found.")
    if delivery.status != FAILED:
        raise Conflict(f"Only a failed delivery is retried; this one is {delivery.status}.")
    delivery.status, delivery.attempts = PENDING, 0
    delivery.due_at = datetime.now(UTC)
    await session.flush()
    enqueue_slice_after_commit(session, outbox.DELIVER, delivery.tenant_id or "")
    [row] = await with_event_types(session, [delivery])
    return row
