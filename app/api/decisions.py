"""Evaluating decisions: `/decision-definition/.../evaluate` (E1)."""

from typing import Any

from fastapi import APIRouter

from app.api.deps import SessionDep, VariableLimitsDep
from app.api.paths import IdentifierPath
from app.api.responses import problems
from app.schemas.runtime import EvaluateDecision
from app.services import decisions
from app.services.variables import variables_to_camunda

router = APIRouter(prefix="/decision-definition", tags=["Decision Definition"])
EVALUATE = problems(400, 401, 403, 404)


@router.post("/{id}/evaluate", responses=EVALUATE)
async def evaluate_by_id(
    id: str, body: EvaluateDecision, session: SessionDep, limits: VariableLimitsDep
) -> list[Any]:
    result = await decisions.evaluate_by_id(
        session,
        id,
        variables=limits.parse(body.variables),
        tenant_selector_given=body.tenant_id is not None or body.without_tenant_id,
    )
    return [variables_to_camunda(rule) for rule in result]


@router.post("/key/{key}/evaluate", responses=EVALUATE)
async def evaluate_by_key(
    key: str, body: EvaluateDecision, session: SessionDep, limits: VariableLimitsDep
) -> list[Any]:
    result = await decisions.evaluate_by_key(
        session,
        key,
        tenant_id=body.tenant_id,
        without_tenant=body.without_tenant_id,
        variables=limits.parse(body.variables),
    )
    return [variables_to_camunda(rule) for rule in result]


@router.post("/key/{key}/tenant-id/{tenantId}/evaluate", responses=EVALUATE)
async def evaluate_by_key_and_tenant(
    key: str,
    tenantId: IdentifierPath,
    body: EvaluateDecision,
    session: SessionDep,
    limits: VariableLimitsDep,
) -> list[Any]:
    result = await decisions.evaluate_by_key(
        session,
        key,
        tenant_id=tenantId,
        without_tenant=body.without_tenant_id,
        variables=limits.parse(body.variables),
    )
    return [variables_to_camunda(rule) for rule in result]
