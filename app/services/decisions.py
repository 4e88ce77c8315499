"""Evaluating decisions over the API (E1, E2).

By id, or by key through the same effective-definition resolution as starting a process
(`definitions.resolve_effective`: tenant selector, own version over the shared one, 400 for a
caller of several tenants). The evaluation is recorded in the decision history in the
decision's tenant, or for a shared decision in the tenant it was evaluated for (the explicit
tenant, else the caller's only tenant): history is tenant-owned, never shared (E2).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest
from app.core.tenancy import current_context, runtime_tenant
from app.models.repository import DecisionDefinition
from app.services import engine, execution
from app.services.definitions import get_definition, resolve_effective
from app.services.variables import TypedValue, infer


async def evaluate_by_id(
    session: AsyncSession,
    definition_id: str,
    *,
    variables: Mapping[str, TypedValue],
    tenant_selector_given: bool = False,
) -> list[dict[str, TypedValue]]:
    if tenant_selector_given:  # C5 for decisions, as Camunda's "Cannot specify a tenant-id"
        raise BadRequest("An evaluation by decision definition id takes no tenant selector.")
    definition = await get_definition(session, DecisionDefinition, definition_id)
    assert isinstance(definition, DecisionDefinition)
    return await _evaluate(session, definition, None, variables)


async def evaluate_by_key(
    session: AsyncSession,
    key: str,
    *,
    tenant_id: str | None,
    without_tenant: bool = False,
    variables: Mapping[str, TypedValue],
) -> list[dict[str, TypedValue]]:
    """`without_tenant` evaluates the latest shared version; the history row still goes to
    the explicit tenant or the caller's only one (as an instance of a shared definition)."""
    if without_tenant:
        definition = await resolve_effective(session, DecisionDefinition, key, without_tenant=True)
    else:
        definition = await resolve_effective(session, DecisionDefinition, key, tenant_id=tenant_id)
    assert isinstance(definition, DecisionDefinition)
    return await _evaluate(session, definition, tenant_id, variables)


async def _evaluate(
    session: AsyncSession,
    definition: DecisionDefinition,
    explicit_tenant: str | None,
    variables: Mapping[str, TypedValue],
) -> list[dict[str, TypedValue]]:
    history_tenant = definition.tenant_id or runtime_tenant(session, explicit_tenant)
    model = await execution.decision_model(session, definition)
    matched, evaluation = engine.evaluate_decision(
        model, {name: typed.value for name, typed in variables.items()}
    )
    session.add(
        execution.decision_history(
            evaluation=evaluation,
            tenant_id=history_tenant,
            user_id=current_context(session).user_id,
            process=None,
        )
    )
    return [{name: infer(value) for name, value in rule.items()} for rule in matched]
