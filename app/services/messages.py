"""Message correlation (Camunda's `POST /message`), tenant by tenant (D1–D3, D6).

A message goes to the waiting message events of running instances (intermediate catch
events, receive tasks, boundary events) and to the message start events of definitions.
Where it may go is an `EventScope` (`scope_for`):

* `tenantId`: that tenant's instances, and that tenant's effective definitions (its own
  version of a key, else the shared one), the new instance in that tenant (D1);
* `withoutTenantId`: start events of shared definitions only — runtime rows are never
  shared, so no waiting instance matches — started for the caller's tenant(s);
* neither: everything the caller sees.

Camunda's rule for a single correlation holds: waiting instances first, then start events;
more than one match is an error naming the count (`MismatchingMessageCorrelationException`
→ 400), never a random pick (D2); no match is an error too. `all` correlates to every match
the caller sees (D3). Another tenant's `processInstanceId` matches nothing, like an unknown
one (D6).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest
from app.core.filters import uuid_or_none
from app.core.tenancy import current_context, require_member, sees_everything
from app.models.repository import ProcessDefinition
from app.services import execution
from app.services.definitions import event_start_definitions
from app.services.execution import EventScope
from app.services.variables import TypedValue


@dataclass(frozen=True, slots=True)
class Correlation:
    message_name: str
    business_key: str | None = None
    tenant_id: str | None = None
    without_tenant_id: bool = False
    process_instance_id: str | None = None
    correlation_keys: Mapping[str, TypedValue] = field(default_factory=dict)
    local_correlation_keys: Mapping[str, TypedValue] = field(default_factory=dict)
    variables: Mapping[str, TypedValue] = field(default_factory=dict)
    variables_local: Mapping[str, TypedValue] = field(default_factory=dict)
    all: bool = False


@dataclass(frozen=True, slots=True)
class CorrelationResult:
    """One correlation: the instance it reached (`started` = by a start event), after it."""

    instance_id: uuid.UUID
    definition_id: str
    business_key: str | None
    tenant_id: str
    suspended: bool
    started: bool
    ended: bool
    variables: dict[str, TypedValue]

    @classmethod
    def of(
        cls, tree: execution.Tree, instance_id: uuid.UUID, *, started: bool
    ) -> CorrelationResult:
        after = tree.instance_after(instance_id)
        return cls(
            instance_id=instance_id,
            definition_id=tree.definition_of(instance_id, after.key),
            business_key=tree.root.business_key,
            tenant_id=tree.root.tenant_id,
            suspended=tree.root.suspended,
            started=started,
            ended=after.completed,
            variables=execution.typed_variables(tree, after),
        )


def scope_for(session: AsyncSession, tenant_id: str | None, without_tenant_id: bool) -> EventScope:
    """Where a message or signal sent through the API may go (module docstring, D1/D4)."""
    if tenant_id is not None and without_tenant_id:
        raise BadRequest("tenantId and withoutTenantId cannot be combined.")
    if tenant_id is not None:
        require_member(session, tenant_id)
        return EventScope(tenant_ids=(tenant_id,), start_tenants=(tenant_id,))
    members = tuple(sorted(current_context(session).tenant_ids))
    everyone = sees_everything(session) and not members
    if without_tenant_id:
        return EventScope(tenant_ids=(), start_tenants=members, shared_starts_only=True)
    return EventScope(tenant_ids=None, start_tenants=None if everyone else members)


async def correlate(session: AsyncSession, request: Correlation) -> list[CorrelationResult]:
    name = request.message_name.strip() if request.message_name else ""
    if not name:
        raise BadRequest("messageName is required.")
    if request.process_instance_id is not None and (
        request.tenant_id is not None or request.without_tenant_id
    ):
        raise BadRequest(
            "Cannot give a tenant (tenantId or withoutTenantId) when correlating a message "
            "to a single process instance."
        )
    scope = scope_for(session, request.tenant_id, request.without_tenant_id)
    instance_id = None
    if request.process_instance_id is not None:
        instance_id = uuid_or_none(request.process_instance_id)
        if instance_id is None:
            raise _no_match(name)
    keys = {**request.correlation_keys, **request.local_correlation_keys}
    limit = None if request.all else 2
    waiting = await execution.waiting_subscriptions(
        session,
        "message",
        name,
        scope,
        instance_id=instance_id,
        business_key=request.business_key,
        correlation_keys=keys,
        limit=limit,
    )
    starts: list[tuple[ProcessDefinition, str]] = []
    # Start events take a message only when it names no instance or variables to match.
    if instance_id is None and not keys and (request.all or not waiting):
        starts = await event_start_definitions(
            session,
            ProcessDefinition.start_messages,
            name,
            tenants=scope.start_tenants,
            shared_only=scope.shared_starts_only,
        )
    if not request.all:
        _single_match(name, len(waiting), len(starts))
    variables = {**request.variables, **request.variables_local}
    results = []
    for subscription in waiting:
        tree = await execution.deliver(session, subscription, variables)
        if tree is None:
            if not request.all:
                raise _no_match(name)  # a parallel correlation took it
            continue
        results.append(CorrelationResult.of(tree, subscription.process_instance_id, started=False))
    for definition, tenant in starts:
        tree = await execution.start_by_event(
            session,
            definition,
            tenant,
            ("message", name),
            business_key=request.business_key,
            variables=variables,
        )
        results.append(CorrelationResult.of(tree, tree.root.id, started=True))
    # `all` with nothing to reach is no error (Camunda's correlateAll returns nothing).
    if not results and not request.all:
        raise _no_match(name)
    return results


def _single_match(name: str, executions: int, definitions: int) -> None:
    if executions > 1:
        raise BadRequest(
            f"Cannot correlate message '{name}': {executions} executions match the "
            "correlation keys; give a tenantId, businessKey, processInstanceId or "
            "correlationKeys that match one, or set all=true."
        )
    if executions == 0 and definitions > 1:
        raise BadRequest(
            f"Cannot correlate a message with name '{name}' to a single process definition. "
            f"{definitions} process definitions match the correlations keys (in the tenants "
            "the caller sees); give a tenantId, or set all=true."
        )
    if executions == 0 and definitions == 0:
        raise _no_match(name)


def _no_match(name: str) -> BadRequest:
    return BadRequest(
        f"Cannot correlate message '{name}': No process definition or execution matches "
        "the parameters."
    )
