"""`/signal`: deliver a signal to the tenants the caller sees, or one of them (D4)."""

from fastapi import APIRouter, Response

from app.api.deps import SessionDep, VariableLimitsDep
from app.api.responses import problems
from app.schemas.events import SignalBody
from app.services import signals

router = APIRouter(prefix="/signal", tags=["Signal"])


@router.post("", status_code=204, response_class=Response, responses=problems(400, 401, 403, 404))
async def throw_signal(body: SignalBody, session: SessionDep, limits: VariableLimitsDep) -> None:
    await signals.send(
        session,
        body.name or "",
        variables=limits.parse(body.variables),
        tenant_id=body.tenant_id,
        without_tenant_id=body.without_tenant_id,
        execution_id=body.execution_id,
    )
