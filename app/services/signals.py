"""Signals through the API (Camunda's `POST /signal`), tenant by tenant (D4).

Without a tenant a signal reaches every waiting signal event the caller sees and starts the
signal start events of the caller's effective definitions in each of its tenants; with
`tenantId` that tenant only; with `withoutTenantId` only shared definitions' start events.
A signal thrown inside an instance stays in that instance's tenant (D5,
`app.services.execution.store`). A signal that reaches nothing is not an error (Camunda).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, NotFound
from app.core.filters import uuid_or_none
from app.services import execution
from app.services.messages import scope_for
from app.services.variables import TypedValue


async def send(
    session: AsyncSession,
    name: str,
    *,
    variables: Mapping[str, TypedValue],
    tenant_id: str | None = None,
    without_tenant_id: bool = False,
    execution_id: str | None = None,
) -> None:
    if not name or not name.strip():
        raise BadRequest("name is required.")
    if execution_id is not None:
        if tenant_id is not None or without_tenant_id:
            raise BadRequest(
                "Cannot give a tenant (tenantId or withoutTenantId) when delivering a signal "
                "to a single execution."
            )
        await _to_execution(session, name, execution_id, variables)
        return
    scope = scope_for(session, tenant_id, without_tenant_id)
    await execution.broadcast_signal(session, name, variables, scope=scope)


async def _to_execution(
    session: AsyncSession, name: str, execution_id: str, variables: Mapping[str, TypedValue]
) -> None:
    """`executionId`: the signal events of that one instance (Tessera's executions are its
    instances); 404 alike for an unknown one, another tenant's, or one not waiting for it."""
    instance_id = uuid_or_none(execution_id)
    subscriptions = (
        await execution.waiting_subscriptions(
            session, "signal", name, execution.EventScope(), instance_id=instance_id
        )
        if instance_id is not None
        else []
    )
    if not subscriptions:
        raise NotFound("Execution not found (or it waits for no such signal).")
    for subscription in subscriptions:
        await execution.deliver(session, subscription, variables)
