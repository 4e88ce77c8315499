"""`/listeners`: subscriptions to the platform's events with an action — a signed webhook,
a process start or a message correlation — and their deliveries (CONFORMANCE G5).

A listener with `tenantId` hears that tenant's events (the caller must be a member); one
without is a system listener, hearing every tenant's, and only admins create it. Delivery
is at least once, retried with backoff; a delivery that ran out of attempts is the dead
letter, retried with `POST /listeners/{id}/deliveries/{deliveryId}/retry`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response, status

from app.api.deps import PageDep, SessionDep, SortingDep
from app.api.paths import comma_list
from app.api.responses import ADMIN_WRITE, AUTHENTICATED, READ_ONE, problems
from app.core.filters import TenantSelector
from app.models.background import Listener, ListenerDelivery
from app.schemas.base import CountResult
from app.schemas.listeners import DeliveryRead, ListenerCreate, ListenerRead, ListenerSettings
from app.services import listeners
from app.services.listeners import ListenerFilter, ListenerInput

router = APIRouter(prefix="/listeners", tags=["Listeners"])
DeliveryStatus = Literal["pending", "succeeded", "failed"]


async def _listener(id: str, session: SessionDep) -> Listener:
    return await listeners.get_listener(session, id)


ListenerDep = Annotated[Listener, Depends(_listener)]


def _filter(
    eventType: str | None = None,
    action: str | None = None,
    enabled: bool | None = None,
    tenantIdIn: str | None = None,
    withoutTenantId: bool = False,
    includeListenersWithoutTenantId: bool = False,
) -> ListenerFilter:
    return ListenerFilter(
        event_type=eventType,
        action=action,
        enabled=enabled,
        tenants=TenantSelector(
            comma_list(tenantIdIn), withoutTenantId, includeListenersWithoutTenantId
        ),
    )


FilterDep = Annotated[ListenerFilter, Depends(_filter)]


def _delivery(row: tuple[ListenerDelivery, str]) -> DeliveryRead:
    delivery, event_type = row
    return DeliveryRead.model_validate({**_columns(delivery), "event_type": event_type})


def _columns(delivery: ListenerDelivery) -> dict[str, Any]:
    return {
        name: getattr(delivery, name) for name in DeliveryRead.model_fields if name != "event_type"
    }


@router.get("", response_model=list[ListenerRead], responses=AUTHENTICATED)
async def list_listeners(
    session: SessionDep, filters: FilterDep, sorting: SortingDep, page: PageDep
) -> Any:
    rows = await listeners.list_listeners(session, filters=filters, sorting=sorting, page=page)
    return [ListenerRead.model_validate(row) for row in rows]


@router.get("/count", response_model=CountResult, responses=AUTHENTICATED)
async def count_listeners(session: SessionDep, filters: FilterDep) -> CountResult:
    return CountResult(count=await listeners.count_listeners(session, filters=filters))


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ListenerRead, responses=ADMIN_WRITE
)
async def create_listener(body: ListenerCreate, session: SessionDep) -> Any:
    settings = ListenerInput(
        name=body.name,
        event_types=body.event_types,
        action=body.action,
        target=body.target,
        secret=body.secret,
        enabled=body.enabled,
        max_attempts=body.max_attempts,
        allow_private_network=body.allow_private_network,
    )
    return ListenerRead.model_validate(
        await listeners.create_listener(session, body.tenant_id, settings)
    )


@router.get("/{id}", response_model=ListenerRead, responses=READ_ONE)
async def get_listener(listener: ListenerDep) -> Any:
    return ListenerRead.model_validate(listener)


@router.put("/{id}", response_model=ListenerRead, responses=ADMIN_WRITE)
async def replace_listener(
    body: ListenerSettings, listener: ListenerDep, session: SessionDep
) -> Any:
    """Fields left out keep their value; `"secret": null` removes the secret."""
    given = body.model_dump(include=body.model_fields_set)
    current = {name: getattr(listener, name) for name in ListenerInput.__dataclass_fields__}
    settings = ListenerInput(**{**current, **given})
    return ListenerRead.model_validate(
        await listeners.replace_listener(session, listener, settings)
    )


@router.delete(
    "/{id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=ADMIN_WRITE,
)
async def delete_listener(listener: ListenerDep, session: SessionDep) -> None:
    await listeners.delete_listener(session, listener)


@router.get("/{id}/deliveries", response_model=list[DeliveryRead], responses=READ_ONE)
async def list_deliveries(
    listener: ListenerDep,
    session: SessionDep,
    sorting: SortingDep,
    page: PageDep,
    status: DeliveryStatus | None = None,
) -> Any:
    rows = await listeners.list_deliveries(
        session, listener, status=status, sorting=sorting, page=page
    )
    return [_delivery(row) for row in rows]


@router.get("/{id}/deliveries/count", response_model=CountResult, responses=READ_ONE)
async def count_deliveries(
    listener: ListenerDep, session: SessionDep, status: DeliveryStatus | None = None
) -> CountResult:
    return CountResult(count=await listeners.count_deliveries(session, listener, status=status))


@router.post(
    "/{id}/deliveries/{deliveryId}/retry",
    response_model=DeliveryRead,
    responses=problems(400, 401, 403, 404, 409),
)
async def retry_delivery(deliveryId: str, listener: ListenerDep, session: SessionDep) -> Any:
    """A dead (failed) delivery is pending again and due now, with its attempts back."""
    return _delivery(await listeners.retry_delivery(session, listener, deliveryId))
