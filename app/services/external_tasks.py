"""External tasks: the `camunda:type="external"` service tasks that workers do (Camunda 7's
external task resource), with the OpenText seed's "shared or isolated execution".

* A **tenant worker** (a user of tenants) fetches, lists and completes only its tenants'
  tasks: the tenancy core filters every statement here, as everywhere.
* A **system worker** (an admin, or a member of a `SYSTEM_WORKER_GROUPS` group) works for
  every tenant: it fetches across tenants with the tenant check disabled for exactly that
  statement, and each command on a task then runs *in that task's tenant, on behalf of the
  user who started the instance* (`acting_for`), so what it writes lands in that tenant and
  the external task log records whose work it was.

Fetch-and-lock locks rows with `FOR UPDATE SKIP LOCKED`, so parallel workers never get one
task twice. A long poll (`asyncResponseTimeout`) ends its empty transaction and waits on
`app.core.notifications` without a database connection; it re-checks when woken and at
least every `RECHECK_SECONDS` (locks expire and retry timeouts pass without a notification).

Commands follow Camunda's rule: only the worker holding the lock may complete, fail, throw a
BPMN error or extend the lock (400 otherwise, nothing changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db import end_read_transaction
from app.core.errors import BadRequest, NotFound
from app.core.filters import TenantSelector, refuse_both, uuid_in, uuid_or_none, where_equal
from app.core.notifications import WorkNotifier
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import acting_for, check_disabled, current_context
from app.models.history import HistoricExternalTaskLog
from app.models.repository import ProcessDefinition
from app.models.runtime import ExternalTask, ProcessInstance, Variable
from app.services import engine, execution, incidents
from app.services.execution import external_task_log
from app.services.incidents import FAILED_EXTERNAL_TASK
from app.services.variables import TypedValue

RECHECK_SECONDS: Final = 5.0
MAX_ERROR_MESSAGE: Final = 4000  # Camunda keeps 666 characters; a clear bound either way
MAX_ERROR_DETAILS: Final = 100_000


@dataclass(frozen=True, slots=True)
class Worker:
    """Who calls: `system` = works for every tenant (see the module docstring)."""

    system: bool


def worker_of(session: AsyncSession, system_groups: Sequence[str]) -> Worker:
    context = current_context(session)
    return Worker(system=context.sees_all or bool(context.group_ids & set(system_groups)))


@contextlib.asynccontextmanager
async def _worker_visibility(session: AsyncSession, worker: Worker) -> AsyncIterator[None]:
    """A system worker sees every tenant's external tasks; anyone else what they see."""
    if worker.system and not current_context(session).sees_all:
        async with check_disabled(session, reason="system worker: external tasks of all tenants"):
            yield
    else:
        yield


# --------------------------------------------------------------------------- queries


@dataclass(frozen=True, slots=True)
class ExternalTaskFilter:
    id: str | None = None
    ids: Sequence[str] | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    locked: bool = False
    not_locked: bool = False
    with_retries_left: bool = False
    no_retries_left: bool = False
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    activity_id: str | None = None
    active: bool = False
    suspended: bool = False
    priority_at_least: int | None = None
    priority_at_most: int | None = None
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any], now: datetime) -> Select[Any]:
        refuse_both(self.locked, self.not_locked, "locked and notLocked")
        refuse_both(
            self.with_retries_left, self.no_retries_left, "withRetriesLeft and noRetriesLeft"
        )
        refuse_both(self.active, self.suspended, "active and suspended")
        ids = [*(self.ids or []), *([self.id] if self.id else [])]
        if self.id is not None or self.ids is not None:
            statement = statement.where(uuid_in(ExternalTask.id, ids))
        if self.process_instance_id is not None:
            statement = statement.where(
                ExternalTask.process_instance_id == uuid_or_none(self.process_instance_id)
            )
        statement = where_equal(
            statement,
            {
                ExternalTask.topic_name: self.topic_name,
                ExternalTask.worker_id: self.worker_id,
                ExternalTask.process_definition_id: self.process_definition_id,
                ExternalTask.activity_id: self.activity_id,
            },
        )
        if self.locked:
            statement = statement.where(ExternalTask.lock_expiration_time > now)
        if self.not_locked:
            statement = statement.where(_unlocked(now))
        if self.with_retries_left:
            statement = statement.where(_retries_left())
        if self.no_retries_left:
            statement = statement.where(ExternalTask.retries == 0)
        if self.active or self.suspended:
            statement = statement.where(ExternalTask.suspended.is_(self.suspended))
        if self.priority_at_least is not None:
            statement = statement.where(ExternalTask.priority >= self.priority_at_least)
        if self.priority_at_most is not None:
            statement = statement.where(ExternalTask.priority <= self.priority_at_most)
        return self.tenants.apply(statement, ExternalTask.tenant_id)


def _unlocked(now: datetime) -> Any:
    return or_(
        ExternalTask.lock_expiration_time.is_(None), ExternalTask.lock_expiration_time <= now
    )


def _retries_left() -> Any:
    return or_(ExternalTask.retries.is_(None), ExternalTask.retries > 0)


_SORT_COLUMNS = {
    "id": ExternalTask.id,
    "lockExpirationTime": ExternalTask.lock_expiration_time,
    "processInstanceId": ExternalTask.process_instance_id,
    "processDefinitionId": ExternalTask.process_definition_id,
    "processDefinitionKey": ExternalTask.process_definition_key,
    "tenantId": ExternalTask.tenant_id,
    "taskPriority": ExternalTask.priority,
    "createTime": ExternalTask.created_at,
}


async def list_external_tasks(
    session: AsyncSession,
    worker: Worker,
    *,
    filters: ExternalTaskFilter,
    sorting: Sorting,
    page: Page,
) -> Sequence[ExternalTask]:
    statement = sorting.apply(
        filters.apply(select(ExternalTask), datetime.now(UTC)),
        _SORT_COLUMNS,
        tiebreak=ExternalTask.id,
    )
    async with _worker_visibility(session, worker):
        return (await session.scalars(page.apply(statement))).all()


async def count_external_tasks(
    session: AsyncSession, worker: Worker, *, filters: ExternalTaskFilter
) -> int:
    async with _worker_visibility(session, worker):
        return await count_rows(session, filters.apply(select(ExternalTask), datetime.now(UTC)))


async def get_external_task(session: AsyncSession, worker: Worker, task_id: str) -> ExternalTask:
    """404 alike for an unknown id and another tenant's task (for a tenant worker)."""
    async with _worker_visibility(session, worker):
        row = (
            await session.get(ExternalTask, uuid_or_none(task_id))
            if uuid_or_none(task_id)
            else None
        )
    if row is None:
        raise NotFound("External task not found.")
    return row


# --------------------------------------------------------------------------- fetch and lock


@dataclass(frozen=True, slots=True)
class TopicRequest:
    topic_name: str
    lock_duration_ms: int
    variables: Sequence[str] | None = None  # None = all
    business_key: str | None = None
    process_definition_ids: Sequence[str] | None = None
    process_definition_keys: Sequence[str] | None = None
    process_definition_version_tag: str | None = None
    process_variables: Mapping[str, Any] | None = None  # plain values the instance must hold
    tenants: TenantSelector = field(default_factory=TenantSelector)


@dataclass(frozen=True, slots=True)
class FetchRequest:
    worker_id: str
    max_tasks: int
    topics: Sequence[TopicRequest]
    use_priority: bool = False
    async_response_timeout_ms: int | None = None
    newest_first: bool = False  # Camunda's `sorting: [{sortBy: createTime, sortOrder: desc}]`


@dataclass(frozen=True, slots=True)
class LockedTask:
    row: ExternalTask
    variables: dict[str, TypedValue]


def check_fetch(request: FetchRequest, *, max_fetch: int, long_poll_max_ms: int) -> None:
    """The bad inputs of a fetch, refused before anything is locked."""
    if not request.worker_id.strip():
        raise BadRequest("workerId is required.")
    if not 1 <= request.max_tasks <= max_fetch:
        raise BadRequest(f"maxTasks must be between 1 and {max_fetch}.")
    timeout = request.async_response_timeout_ms
    if timeout is not None and not 0 <= timeout <= long_poll_max_ms:
        raise BadRequest(f"asyncResponseTimeout must be between 0 and {long_poll_max_ms} ms.")
    if not request.topics:
        raise BadRequest("topics must name at least one topic.")
    for topic in request.topics:
        if not topic.topic_name:
            raise BadRequest("Every topic needs a topicName.")
        if topic.lock_duration_ms <= 0:
            raise BadRequest(f"lockDuration of topic {topic.topic_name!r} must be positive.")


async def fetch_and_lock(
    session: AsyncSession,
    worker: Worker,
    request: FetchRequest,
    *,
    notifier: WorkNotifier | None,
) -> list[LockedTask]:
    """Lock up to `max_tasks` available tasks of the topics for `worker_id`; with a
    timeout, wait for work (without a database connection) until some arrives."""
    deadline = time.monotonic() + (request.async_response_timeout_ms or 0) / 1000
    waiter = notifier.waiter(t.topic_name for t in request.topics) if notifier else None
    with waiter if waiter is not None else contextlib.nullcontext():
        while True:
            locked = await _lock_available(session, worker, request)
            remaining = deadline - time.monotonic()
            if locked or remaining <= 0:
                return locked
            await end_read_transaction(session)  # the wait holds no connection
            if waiter is not None:
                await waiter.wait(min(remaining, RECHECK_SECONDS))
            else:
                await asyncio.sleep(min(remaining, RECHECK_SECONDS))


async def _lock_available(
    session: AsyncSession, worker: Worker, request: FetchRequest
) -> list[LockedTask]:
    now = datetime.now(UTC)
    locked: list[ExternalTask] = []
    async with _worker_visibility(session, worker):
        for topic in request.topics:
            wanted = request.max_tasks - len(locked)
            if wanted <= 0:
                break
            rows = (
                await session.scalars(
                    _available(topic, now, request)
                    .limit(wanted)
                    .with_for_update(of=ExternalTask, skip_locked=True)
                )
            ).all()
            expires = now + timedelta(milliseconds=topic.lock_duration_ms)
            for row in rows:
                row.worker_id = request.worker_id
                row.lock_expiration_time = expires
            locked.extend(rows)
        await session.flush()
        variables = await _variables_of(session, locked, request)
    return [LockedTask(row, variables.get(row.id, {})) for row in locked]


def _available(topic: TopicRequest, now: datetime, request: FetchRequest) -> Select[Any]:
    statement = select(ExternalTask).where(
        ExternalTask.topic_name == topic.topic_name,
        _unlocked(now),
        _retries_left(),
        ExternalTask.suspended.is_(False),
    )
    statement = where_equal(statement, {ExternalTask.business_key: topic.business_key})
    if topic.process_definition_ids is not None:
        statement = statement.where(
            ExternalTask.process_definition_id.in_(topic.process_definition_ids)
        )
    if topic.process_definition_keys is not None:
        statement = statement.where(
            ExternalTask.process_definition_key.in_(topic.process_definition_keys)
        )
    if topic.process_definition_version_tag is not None:
        tagged = select(ProcessDefinition.id).where(
            ProcessDefinition.version_tag == topic.process_definition_version_tag
        )
        statement = statement.where(ExternalTask.process_definition_id.in_(tagged))
    for name, value in (topic.process_variables or {}).items():
        statement = statement.where(
            select(Variable.id)
            .where(
                Variable.process_instance_id == ExternalTask.process_instance_id,
                Variable.name == name,
                Variable.value == type_coerce(value, JSONB),
            )
            .exists()
        )
    statement = topic.tenants.apply(statement, ExternalTask.tenant_id)
    order = [ExternalTask.priority.desc()] if request.use_priority else []
    created = ExternalTask.created_at.desc() if request.newest_first else ExternalTask.created_at
    return statement.order_by(*order, created, ExternalTask.id)


async def _variables_of(
    session: AsyncSession, rows: Sequence[ExternalTask], request: FetchRequest
) -> dict[uuid.UUID, dict[str, TypedValue]]:
    """Each locked task's instance variables, limited to the names its topic asked for."""
    if not rows:
        return {}
    wanted = {t.topic_name: t.variables for t in request.topics}
    instances = sorted({row.process_instance_id for row in rows})
    statement = select(Variable).where(Variable.process_instance_id.in_(instances))
    names = [wanted[row.topic_name] for row in rows]
    if all(n is not None for n in names):
        statement = statement.where(Variable.name.in_({v for n in names for v in n or ()}))
    by_instance: dict[uuid.UUID, dict[str, TypedValue]] = {}
    for variable in await session.scalars(statement.order_by(Variable.name)):
        by_instance.setdefault(variable.process_instance_id, {})[variable.name] = TypedValue(
            variable.type, variable.value
        )
    result = {}
    for row in rows:
        values = by_instance.get(row.process_instance_id, {})
        asked = wanted[row.topic_name]
        result[row.id] = {k: v for k, v in values.items() if asked is None or k in asked}
    return result


# --------------------------------------------------------------------------- commands


@contextlib.asynccontextmanager
async def _command(
    session: AsyncSession, worker: Worker, task_id: str, *, worker_id: str | None
) -> AsyncIterator[ExternalTask]:
    """The task row for a command, locked, with Camunda's lock rule checked (`worker_id`
    None: no lock needed); for a system worker in the task's tenant, as its instance's
    starter. One statement finds, locks and names the starter."""
    parsed = uuid_or_none(task_id)
    found = None
    if parsed is not None:
        async with _worker_visibility(session, worker):
            found = (
                await session.execute(
                    select(ExternalTask, ProcessInstance.started_by)
                    .join(ProcessInstance, ProcessInstance.id == ExternalTask.process_instance_id)
                    .where(ExternalTask.id == parsed)
                    .with_for_update(of=ExternalTask)
                    .execution_options(populate_existing=True)
                )
            ).first()
    if found is None:
        raise NotFound("External task not found.")
    row, starter = found
    _check_lock(row, worker_id)
    if worker.system:
        async with acting_for(session, row.tenant_id, user_id=starter):
            session.add(row)  # loaded with the check off: attached again in its tenant
            yield row
    else:
        yield row


def _check_lock(row: ExternalTask, worker_id: str | None) -> None:
    if worker_id is not None and row.worker_id != worker_id:
        holder = (
            f"it is locked by worker {row.worker_id!r}" if row.worker_id else "it is not locked"
        )
        raise BadRequest(
            f"External task {row.id} cannot be handled by worker {worker_id!r}: {holder}."
        )


async def _tree_of(session: AsyncSession, row: ExternalTask) -> execution.Tree:
    """The instance tree under lock, with the task still waiting in it."""
    tree = await execution.load_tree(session, row.process_instance_id)
    waits = tree.before_view.waits if tree.before_view else []
    if all(wait.id != row.id for wait in waits):
        raise NotFound("External task not found.")
    return tree


async def complete(
    session: AsyncSession,
    worker: Worker,
    task_id: str,
    *,
    worker_id: str,
    variables: Mapping[str, TypedValue],
) -> None:
    async with _command(session, worker, task_id, worker_id=worker_id) as row:
        tree = await _tree_of(session, row)
        for name, typed in variables.items():
            tree.declared[(row.process_instance_id, name)] = typed.type
        session.add(external_task_log(row, "successful", user_id=current_context(session).user_id))
        tree.finished_external.add(row.id)
        engine.complete_task(tree.workflow, row.id, {n: t.value for n, t in variables.items()})
        await execution.store(session, tree)


async def bpmn_error(
    session: AsyncSession,
    worker: Worker,
    task_id: str,
    *,
    worker_id: str,
    error_code: str,
    error_message: str | None,
    variables: Mapping[str, TypedValue],
) -> None:
    """A business error: the matching error boundary event takes it. With none, Tessera
    refuses (400, nothing changed) instead of ending the instance silently."""
    if not error_code.strip():
        raise BadRequest("errorCode is required.")
    async with _command(session, worker, task_id, worker_id=worker_id) as row:
        tree = await _tree_of(session, row)
        for name, typed in variables.items():
            tree.declared[(row.process_instance_id, name)] = typed.type
        values = {n: t.value for n, t in variables.items()}
        if not engine.throw_bpmn_error(tree.workflow, row.id, error_code, values):
            raise BadRequest(
                f"No error boundary event catches BPMN error {error_code!r} of external task "
                f"{row.id}; nothing was changed."
            )
        session.add(
            external_task_log(
                row, "failed", user_id=current_context(session).user_id, error=error_message
            )
        )
        tree.finished_external.add(row.id)
        await execution.store(session, tree)


async def failure(
    session: AsyncSession,
    worker: Worker,
    task_id: str,
    *,
    worker_id: str,
    error_message: str | None,
    error_details: str | None,
    retries: int,
    retry_timeout_ms: int,
) -> None:
    """Camunda's handleFailure: retries left and the task held back for `retry_timeout_ms`;
    at 0 retries an incident of the instance, until an operator sets retries again."""
    if retries < 0 or retry_timeout_ms < 0:
        raise BadRequest("retries and retryTimeout must not be negative.")
    async with _command(session, worker, task_id, worker_id=worker_id) as row:
        row.retries = retries
        row.error_message = (error_message or "")[:MAX_ERROR_MESSAGE] or None
        row.error_details = (error_details or "")[:MAX_ERROR_DETAILS] or None
        row.lock_expiration_time = datetime.now(UTC) + timedelta(milliseconds=retry_timeout_ms)
        session.add(
            external_task_log(
                row, "failed", user_id=current_context(session).user_id, error=row.error_message
            )
        )
        if retries == 0:
            await incidents.open_incident(session, row, FAILED_EXTERNAL_TASK, row.error_message)


async def extend_lock(
    session: AsyncSession, worker: Worker, task_id: str, *, worker_id: str, new_duration_ms: int
) -> None:
    if new_duration_ms <= 0:
        raise BadRequest("newDuration must be positive.")
    async with _command(session, worker, task_id, worker_id=worker_id) as row:
        now = datetime.now(UTC)
        if row.lock_expiration_time is None or row.lock_expiration_time <= now:
            raise BadRequest(f"The lock of external task {row.id} has expired; fetch it again.")
        row.lock_expiration_time = now + timedelta(milliseconds=new_duration_ms)


async def unlock(session: AsyncSession, worker: Worker, task_id: str) -> None:
    async with _command(session, worker, task_id, worker_id=None) as row:
        row.worker_id = None
        row.lock_expiration_time = None


async def set_retries(session: AsyncSession, worker: Worker, task_id: str, retries: int) -> None:
    """Retries > 0 resolve the task's incident (Camunda's rule)."""
    if retries < 0:
        raise BadRequest("retries must not be negative.")
    async with _command(session, worker, task_id, worker_id=None) as row:
        row.retries = retries
        if retries > 0:
            await incidents.resolve_incidents(session, FAILED_EXTERNAL_TASK, [row.id])


async def set_priority(session: AsyncSession, worker: Worker, task_id: str, priority: int) -> None:
    async with _command(session, worker, task_id, worker_id=None) as row:
        row.priority = priority


# --------------------------------------------------------------------------- the log


@dataclass(frozen=True, slots=True)
class LogFilter:
    external_task_id: str | None = None
    process_instance_id: str | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    state: str | None = None  # created | failed | successful | deleted
    tenants: TenantSelector = field(default_factory=TenantSelector)

    def apply(self, statement: Select[Any]) -> Select[Any]:
        for column, value in (
            (HistoricExternalTaskLog.external_task_id, self.external_task_id),
            (HistoricExternalTaskLog.process_instance_id, self.process_instance_id),
        ):
            if value is not None:
                statement = statement.where(column == uuid_or_none(value))
        statement = where_equal(
            statement,
            {
                HistoricExternalTaskLog.topic_name: self.topic_name,
                HistoricExternalTaskLog.worker_id: self.worker_id,
                HistoricExternalTaskLog.state: self.state,
            },
        )
        return self.tenants.apply(statement, HistoricExternalTaskLog.tenant_id)


_LOG_SORT_COLUMNS = {
    "timestamp": HistoricExternalTaskLog.timestamp,
    "externalTaskId": HistoricExternalTaskLog.external_task_id,
    "topicName": HistoricExternalTaskLog.topic_name,
    "workerId": HistoricExternalTaskLog.worker_id,
    "processInstanceId": HistoricExternalTaskLog.process_instance_id,
    "tenantId": HistoricExternalTaskLog.tenant_id,
}


async def list_logs(
    session: AsyncSession, *, filters: LogFilter, sorting: Sorting, page: Page
) -> Sequence[HistoricExternalTaskLog]:
    statement = sorting.apply(
        filters.apply(select(HistoricExternalTaskLog)),
        _LOG_SORT_COLUMNS,
        tiebreak=HistoricExternalTaskLog.id,
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_logs(session: AsyncSession, *, filters: LogFilter) -> int:
    return await count_rows(session, filters.apply(select(HistoricExternalTaskLog)))
