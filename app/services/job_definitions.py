"""Job definitions (`/jobs`): what runs, when, for which tenants.

A definition names a handler from the registry (`app.services.job_handlers`) with its
parameters, and a schedule: a cron expression (five fields, evaluated in UTC) or an
interval in seconds, or neither (it runs when triggered). Definitions are shareable like
artifacts (DESIGN §3): a tenant's definition runs for that tenant; a **shared** definition
(admins only) runs for every tenant that has no definition of its own with the same key —
the tenant's own one overrides it. Resolution by key follows DESIGN §3 too: the explicit
`tenantId`, else the caller's only tenant; its own definition if it has one, else the shared
one; `withoutTenantId` means the shared one.

Runs act as the user who last saved the definition (or triggered it), checked when each run
starts (G2). The sweeper fans each due tick out (`fire_due`): one run per target tenant,
inserted with one statement and `ON CONFLICT DO NOTHING` on (definition, tenant, tick), so a
tick fanned out twice still makes each tenant's run once. A tick missed while no worker ran
makes one run, not one per missed tick.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cronsim import CronSim, CronSimError
from sqlalchemy import Select, exists, func, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.core.errors import BadRequest, Conflict, NotFound
from app.core.filters import TenantSelector, where_equal
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import current_context, require_member, resolution_tenant
from app.models.background import CANCELLED, PENDING, JobDefinition, JobRun
from app.models.identity import Tenant
from app.services import job_handlers


@dataclass(frozen=True, slots=True)
class DefinitionInput:
    """A definition's settings as the caller gives them (create and replace)."""

    handler: str
    parameters: dict[str, Any]
    name: str | None = None
    cron: str | None = None
    interval_seconds: int | None = None
    max_attempts: int = 3
    enabled: bool = True


def check_schedule(cron: str | None, interval_seconds: int | None) -> None:
    if cron is not None and interval_seconds is not None:
        raise BadRequest("A job has a cron schedule or an interval, not both.")
    if cron is not None:
        try:
            next(iter(CronSim(cron, datetime.now(UTC))))
        except (CronSimError, StopIteration) as exc:
            raise BadRequest(f"Malformed cron expression '{cron}': {exc}.") from None


def next_tick(definition: JobDefinition, after: datetime) -> datetime | None:
    """The schedule's first tick after `after` (None: runs only when triggered)."""
    if not definition.enabled:
        return None
    if definition.cron is not None:
        return next(iter(CronSim(definition.cron, after.astimezone(UTC))))
    if definition.interval_seconds is not None:
        return after + timedelta(seconds=definition.interval_seconds)
    return None


async def _apply(
    definition: JobDefinition, settings: DefinitionInput, session: AsyncSession
) -> None:
    check_schedule(settings.cron, settings.interval_seconds)
    definition.parameters = await job_handlers.check_parameters(
        session, settings.handler, settings.parameters
    )
    definition.handler = settings.handler
    definition.name = settings.name
    definition.cron = settings.cron
    definition.interval_seconds = settings.interval_seconds
    definition.max_attempts = settings.max_attempts
    definition.enabled = settings.enabled
    definition.acting_user = current_context(session).user_id  # runs act as who saved it
    definition.next_run_at = next_tick(definition, datetime.now(UTC))


# --------------------------------------------------------------------------- CRUD


async def create_definition(
    session: AsyncSession, key: str, tenant_id: str | None, settings: DefinitionInput
) -> JobDefinition:
    """`tenant_id` None = shared (admins only: the tenancy guard refuses others with 403)."""
    if tenant_id is not None:
        require_member(session, tenant_id)
        if await session.get(Tenant, tenant_id) is None:
            raise BadRequest(f"Tenant '{tenant_id}' does not exist.")
    if await _exact(session, key, tenant_id) is not None:
        scope = f"tenant '{tenant_id}'" if tenant_id else "the shared space"
        raise Conflict(f"A job '{key}' exists in {scope} already.")
    definition = JobDefinition(key=key, tenant_id=tenant_id)
    await _apply(definition, settings, session)
    session.add(definition)
    await session.flush()
    return definition


async def replace_definition(
    session: AsyncSession, definition: JobDefinition, settings: DefinitionInput
) -> JobDefinition:
    await _apply(definition, settings, session)
    await session.flush()
    await session.refresh(definition)  # updated_at comes from the database
    return definition


async def delete_definition(session: AsyncSession, definition: JobDefinition) -> None:
    """Pending runs are cancelled; finished runs stay as the record of what happened."""
    await session.execute(
        update(JobRun)
        .where(JobRun.job_definition_id == definition.id, JobRun.status == PENDING)
        .values(status=CANCELLED, finished_at=func.now())
        .execution_options(synchronize_session=False)
    )
    await session.delete(definition)
    await session.flush()


async def _exact(session: AsyncSession, key: str, tenant_id: str | None) -> JobDefinition | None:
    scope = (
        JobDefinition.tenant_id.is_(None)
        if tenant_id is None
        else (JobDefinition.tenant_id == tenant_id)
    )
    return await session.scalar(select(JobDefinition).where(JobDefinition.key == key, scope))


async def resolve(
    session: AsyncSession, key: str, *, tenant_id: str | None, without_tenant: bool
) -> JobDefinition:
    """The effective definition of `key` (module docstring); 404 alike for an unknown key
    and one the caller cannot see."""
    if without_tenant:
        if tenant_id is not None:
            raise BadRequest("Give tenantId or withoutTenantId, not both.")
        found = await _exact(session, key, None)
    else:
        tenant = resolution_tenant(session, tenant_id)
        found = await _exact(session, key, tenant) if tenant is not None else None
        found = found or await _exact(session, key, None)
    if found is None:
        raise NotFound(f"No job '{key}'.")
    return found


@dataclass(frozen=True, slots=True)
class DefinitionFilter:
    key: str | None = None
    handler: str | None = None
    enabled: bool | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        statement = where_equal(
            statement,
            {
                JobDefinition.key: self.key,
                JobDefinition.handler: self.handler,
                JobDefinition.enabled: self.enabled,
            },
        )
        return self.tenants.apply(statement, JobDefinition.tenant_id)


_SORT_COLUMNS = {
    "key": JobDefinition.key,
    "tenantId": JobDefinition.tenant_id,
    "nextRunAt": JobDefinition.next_run_at,
    "createdAt": JobDefinition.created_at,
}


async def list_definitions(
    session: AsyncSession, *, filters: DefinitionFilter, sorting: Sorting, page: Page
) -> Sequence[JobDefinition]:
    statement = sorting.apply(
        filters.apply(select(JobDefinition)), _SORT_COLUMNS, tiebreak=JobDefinition.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_definitions(session: AsyncSession, *, filters: DefinitionFilter) -> int:
    return await count_rows(session, filters.apply(select(JobDefinition)))


# --------------------------------------------------------------------------- runs from ticks


async def create_runs(
    session: AsyncSession,
    definition: JobDefinition,
    *,
    scheduled_for: datetime,
    trigger: str,
    acting_user: str | None,
    tenant_id: str | None = None,
) -> list[str]:
    """One pending run per target tenant, in one INSERT … SELECT; the tenants that got one.

    Targets: the definition's tenant; for a shared definition `tenant_id`, or (None) every
    tenant without a definition of its own of this key (G1: one run per tenant)."""
    target = definition.tenant_id or tenant_id
    own = aliased(JobDefinition)
    if target is not None:
        targets = Tenant.id == target
    else:
        targets = ~exists().where(own.tenant_id == Tenant.id, own.key == definition.key)
    columns = {
        "id": func.gen_random_uuid(),
        "tenant_id": Tenant.id,
        "job_definition_id": literal(definition.id),
        "job_key": literal(definition.key),
        "handler": literal(definition.handler),
        "parameters": literal(definition.parameters, JSONB),
        "trigger": literal(trigger),
        "scheduled_for": literal(scheduled_for),
        "acting_user": literal(acting_user),
        "status": literal(PENDING),
        "attempts": literal(0),
        "max_attempts": literal(definition.max_attempts),
        "due_at": literal(scheduled_for),
    }
    statement = (
        insert(JobRun)
        .from_select(list(columns), select(*columns.values()).where(targets))
        .on_conflict_do_nothing(index_elements=["job_definition_id", "tenant_id", "scheduled_for"])
        .returning(JobRun.tenant_id)
    )
    return list((await session.scalars(statement)).all())


async def trigger(
    session: AsyncSession, definition: JobDefinition, *, tenant_id: str | None
) -> list[str]:
    """`POST /jobs/{key}/trigger`: a run now, as the caller. A shared definition runs for the
    caller's tenant (explicit or only one); for an admin of no tenant, for every tenant."""
    target = None
    if definition.tenant_id is None:
        target = resolution_tenant(session, tenant_id)
    elif tenant_id is not None and tenant_id != definition.tenant_id:
        raise BadRequest("A tenant's job runs only for that tenant.")
    return await create_runs(
        session,
        definition,
        scheduled_for=datetime.now(UTC),
        trigger="manual",
        acting_user=current_context(session).user_id,
        tenant_id=target,
    )


async def fire_due(session: AsyncSession, *, limit: int) -> set[str]:
    """Sweeper, system context: fan out every definition whose tick has come and move it
    to its next tick. Definitions are locked `SKIP LOCKED`: two sweepers never fire one
    tick twice (and the unique index would absorb it if they did). The tenants with new
    runs are returned for waking."""
    now = datetime.now(UTC)
    due = await session.scalars(
        select(JobDefinition)
        .where(JobDefinition.enabled.is_(True), JobDefinition.next_run_at <= now)
        .order_by(JobDefinition.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    woken: set[str] = set()
    for definition in due.all():
        tick = definition.next_run_at
        assert tick is not None
        woken.update(
            await create_runs(
                session,
                definition,
                scheduled_for=tick,
                trigger="schedule",
                acting_user=definition.acting_user,
            )
        )
        definition.next_run_at = next_tick(definition, max(tick, now))
    return woken
