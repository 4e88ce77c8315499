"""`/message`: correlate a message to waiting instances or start events (D1–D3, D6)."""

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from app.api.deps import SessionDep, VariableLimitsDep
from app.api.responses import problems
from app.schemas.events import (
    CorrelatedInstanceRead,
    CorrelationMessage,
    CorrelationResultRead,
    ExecutionRead,
)
from app.services import messages
from app.services.messages import Correlation, CorrelationResult
from app.services.variables import variables_to_camunda

router = APIRouter(prefix="/message", tags=["Message"])


@router.post(
    "",
    response_model=list[CorrelationResultRead],
    responses={**problems(400, 401, 403), 204: {"description": "Correlated (no result asked)"}},
)
async def correlate(
    body: CorrelationMessage, session: SessionDep, limits: VariableLimitsDep
) -> Any:
    results = await messages.correlate(
        session,
        Correlation(
            message_name=body.message_name or "",
            business_key=body.business_key,
            tenant_id=body.tenant_id,
            without_tenant_id=body.without_tenant_id,
            process_instance_id=body.process_instance_id,
            correlation_keys=limits.parse(body.correlation_keys),
            local_correlation_keys=limits.parse(body.local_correlation_keys),
            variables=limits.parse(body.process_variables),
            variables_local=limits.parse(body.process_variables_local),
            all=body.all,
        ),
    )
    if not body.result_enabled:
        return Response(status_code=204)
    # Camunda leaves `variables` out unless asked for (clients iterate it when present).
    omit = None if body.variables_in_result_enabled else {"variables"}
    return JSONResponse(
        [
            _result(result, with_variables=body.variables_in_result_enabled).model_dump(
                mode="json", by_alias=True, exclude=omit
            )
            for result in results
        ]
    )


def _result(result: CorrelationResult, *, with_variables: bool) -> CorrelationResultRead:
    variables = variables_to_camunda(result.variables) if with_variables else None
    if result.started:
        return CorrelationResultRead(
            result_type="ProcessDefinition",
            process_instance=CorrelatedInstanceRead(
                id=str(result.instance_id),
                definition_id=result.definition_id,
                business_key=result.business_key,
                ended=result.ended,
                suspended=result.suspended,
                tenant_id=result.tenant_id,
            ),
            variables=variables,
        )
    return CorrelationResultRead(
        result_type="Execution",
        execution=ExecutionRead(
            id=str(result.instance_id),
            process_instance_id=str(result.instance_id),
            ended=result.ended,
            tenant_id=result.tenant_id,
        ),
        variables=variables,
    )
