"""The handlers a job definition may name: a fixed registry of what the platform provides.

A tenant configures *which* handler runs with *which* parameters; it never supplies code.
Each handler declares its parameters as a schema, checked when a definition is saved
(`check_parameters`: a 400 naming the field, nothing stored) and again when a run starts
(a definition saved before a handler changed fails its run, it does not run with a guess).

A handler runs inside the run's unit of work, in the run's tenant context as its acting
user (`app.services.job_runs`), so whatever it writes to the database commits together with
the run's success and happens exactly once in effect however often the run is attempted.
Effects outside the database (an HTTP call) happen at least once; they carry the run id
(`Tessera-Run-Id`) so that the receiver can drop a repeat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import outbound
from app.core.config import get_settings
from app.core.errors import BadRequest, Forbidden
from app.core.tenancy import can_write_shared
from app.models.background import JobRun
from app.schemas.base import InputSchema
from app.services import decisions, process_instances
from app.services.variables import parse_variables, variables_to_camunda

RUN_ID_HEADER = "Tessera-Run-Id"

Run = Callable[[AsyncSession, JobRun, Any], Awaitable[Any]]
Check = Callable[[AsyncSession, Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Handler:
    name: str
    description: str
    parameters: type[BaseModel]
    run: Run
    # False: the handler writes nothing to the database, so runs of it can share one
    # transaction (app.services.job_runs); its effects elsewhere happen at least once.
    writes_database: bool
    # More checks on save than the schema can say (who may set what, a URL's target).
    check: Check | None = None


class NoParameters(InputSchema):
    pass


class StartProcessParameters(InputSchema):
    process_definition_key: str = Field(min_length=1, max_length=255)
    business_key: str | None = Field(default=None, max_length=255)
    variables: dict[str, Any] | None = None


class EvaluateDecisionParameters(InputSchema):
    decision_definition_key: str = Field(min_length=1, max_length=255)
    variables: dict[str, Any] | None = None


class HttpCallParameters(InputSchema):
    url: str = Field(min_length=1, max_length=2048)
    body: Any = None  # sent as JSON
    # Admins only: the URL may reach loopback and private addresses (SSRF rule, outbound).
    allow_private_network: bool = False


async def _noop(_session: AsyncSession, _run: JobRun, _parameters: NoParameters) -> None:
    return None


async def _start_process(
    session: AsyncSession, run: JobRun, parameters: StartProcessParameters
) -> dict[str, Any]:
    """The effective definition of the key for the run's tenant (own version over shared)."""
    started = await process_instances.start_by_key(
        session,
        parameters.process_definition_key,
        tenant_id=run.tenant_id,
        without_tenant=False,
        business_key=parameters.business_key,
        variables=parse_variables(parameters.variables),
    )
    return {"processInstanceId": str(started.instance_id), "definitionId": started.definition_id}


async def _evaluate_decision(
    session: AsyncSession, run: JobRun, parameters: EvaluateDecisionParameters
) -> list[dict[str, Any]]:
    results = await decisions.evaluate_by_key(
        session,
        parameters.decision_definition_key,
        tenant_id=run.tenant_id,
        variables=parse_variables(parameters.variables),
    )
    return [variables_to_camunda(result) for result in results]


async def _check_http_call(session: AsyncSession, parameters: HttpCallParameters) -> None:
    if parameters.allow_private_network and not can_write_shared(session):
        raise Forbidden("Only administrators may allow calls into private networks.")
    await outbound.check_url(parameters.url, allow_private_network=parameters.allow_private_network)


async def _http_call(
    _session: AsyncSession, run: JobRun, parameters: HttpCallParameters
) -> dict[str, Any]:
    """POST the body; a 2xx answer is success, anything else a failed attempt (retried).
    The address is checked again now: a name may resolve elsewhere than when saved."""
    response = await outbound.post_json(
        parameters.url,
        parameters.body,
        timeout_seconds=get_settings().webhook_timeout_seconds,
        allow_private_network=parameters.allow_private_network,
        headers={RUN_ID_HEADER: str(run.id)},
    )
    if not response.ok:
        raise outbound.OutboundFailed(f"{parameters.url} answered HTTP {response.status}")
    return {"status": response.status}


HANDLERS: dict[str, Handler] = {
    handler.name: handler
    for handler in (
        Handler("noop", "Does nothing: for checking a schedule.", NoParameters, _noop, False),
        Handler(
            "process.start",
            "Starts the tenant's effective process definition of a key.",
            StartProcessParameters,
            _start_process,
            True,
        ),
        Handler(
            "decision.evaluate",
            "Evaluates the tenant's effective decision definition of a key.",
            EvaluateDecisionParameters,
            _evaluate_decision,
            True,
        ),
        Handler(
            "http.call",
            "POSTs a JSON body to an HTTP(S) endpoint of the tenant's (public addresses only).",
            HttpCallParameters,
            _http_call,
            False,
            _check_http_call,
        ),
    )
}
DATABASE_FREE = frozenset(name for name, handler in HANDLERS.items() if not handler.writes_database)


def get_handler(name: str) -> Handler:
    handler = HANDLERS.get(name)
    if handler is None:
        known = ", ".join(sorted(HANDLERS))
        raise BadRequest(f"Unknown job handler '{name}'. Known handlers: {known}.")
    return handler


def parse_parameters(handler: Handler, raw: dict[str, Any]) -> BaseModel:
    """The handler's parameters, or a 400 naming every field that does not fit."""
    try:
        parameters = handler.parameters.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'parameters'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BadRequest(f"Parameters of handler '{handler.name}' do not fit: {problems}") from None
    if isinstance(raw.get("variables"), dict):
        parse_variables(raw["variables"])  # typed variables are checked by their own rules
    return parameters


async def check_parameters(session: AsyncSession, name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Saving a definition: the handler exists, the parameters fit and pass the handler's
    own check; the stored form."""
    handler = get_handler(name)
    parameters = parse_parameters(handler, raw)
    if handler.check is not None:
        await handler.check(session, parameters)
    return parameters.model_dump(by_alias=True, exclude_none=True)
