"""One walk over EVERY tenant-scoped mapper: tenant B can neither read, update, delete nor
link to tenant A's rows. A new model joins the walk by having a factory in `FACTORIES`;
`test_every_model_declares_its_kind` fails for a model that forgot its mixin, and
`test_every_tenant_scoped_model_is_walked` for one without a factory.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import ForeignKeyConstraint, delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper

from app.core.tenancy import PlatformTable, Shareable, TenancyContext, TenantOwned
from app.models import (
    Base,
    DecisionDefinition,
    Deployment,
    DeploymentResource,
    EventSubscription,
    ExternalTask,
    HistoricActivityInstance,
    HistoricDecisionInstance,
    HistoricExternalTaskLog,
    HistoricProcessInstance,
    HistoricTask,
    HistoricVariable,
    Incident,
    Job,
    JobDefinition,
    JobRun,
    Listener,
    ListenerDelivery,
    OutboxEvent,
    ProcessDefinition,
    ProcessInstance,
    Task,
    Variable,
)
from tests.conftest import add_tenants
from tests.core.conftest import OpenSession, admin, member_of
from tests.core.models import CoreTestBase, Note, NoteComment, Template

Factory = Callable[..., Awaitable[Any]]


async def _note(session: AsyncSession, tenant_id: str, **values: Any) -> Note:
    note = Note(tenant_id=tenant_id, title=values.get("title", "walk"))
    session.add(note)
    await session.flush()
    return note


async def _comment(session: AsyncSession, tenant_id: str, **values: Any) -> NoteComment:
    note_id = values.get("note_id") or (await _note(session, tenant_id)).id
    comment = NoteComment(tenant_id=tenant_id, note_id=note_id, body="walk")
    session.add(comment)
    await session.flush()
    return comment


async def _template(session: AsyncSession, tenant_id: str, **values: Any) -> Template:
    template = Template(tenant_id=tenant_id, key="walk")
    session.add(template)
    await session.flush()
    return template


async def _deployment(session: AsyncSession, tenant_id: str, **values: Any) -> Deployment:
    deployment = Deployment(tenant_id=tenant_id, name="walk")
    session.add(deployment)
    await session.flush()
    return deployment


async def _deployment_id(session: AsyncSession, tenant_id: str, values: dict[str, Any]) -> Any:
    return values.get("deployment_id") or (await _deployment(session, tenant_id)).id


async def _resource(session: AsyncSession, tenant_id: str, **values: Any) -> DeploymentResource:
    resource = DeploymentResource(
        tenant_id=tenant_id,
        deployment_id=await _deployment_id(session, tenant_id, values),
        name="walk.bpmn",
        content=b"<walk/>",
        checksum="0" * 64,
    )
    session.add(resource)
    await session.flush()
    return resource


def _definition_factory(model: type[ProcessDefinition | DecisionDefinition]) -> Factory:
    async def create(session: AsyncSession, tenant_id: str, **values: Any) -> Any:
        definition = model(
            id=f"walk:1:{uuid.uuid4()}",
            tenant_id=tenant_id,
            deployment_id=await _deployment_id(session, tenant_id, values),
            key=f"walk-{uuid.uuid4().hex}",  # several per tenant in one walk
            version=1,
            resource_name="walk.bpmn",
        )
        session.add(definition)
        await session.flush()
        return definition

    return create


async def _instance(session: AsyncSession, tenant_id: str, **values: Any) -> ProcessInstance:
    definition = await _definition_factory(ProcessDefinition)(session, tenant_id)
    instance_id = uuid.uuid4()
    instance = ProcessInstance(
        id=instance_id,
        tenant_id=tenant_id,
        process_definition_id=definition.id,
        process_definition_key="walk",
        root_process_instance_id=values.get("root_process_instance_id", instance_id),
        super_process_instance_id=values.get("super_process_instance_id"),
        state="{}",
    )
    session.add(instance)
    await session.flush()
    return instance


async def _historic_instance(
    session: AsyncSession, tenant_id: str, **values: Any
) -> HistoricProcessInstance:
    definition = await _definition_factory(ProcessDefinition)(session, tenant_id)
    instance_id = uuid.uuid4()
    instance = HistoricProcessInstance(
        id=instance_id,
        tenant_id=tenant_id,
        process_definition_id=definition.id,
        process_definition_key="walk",
        process_definition_version=1,
        root_process_instance_id=instance_id,
        state="ACTIVE",
    )
    session.add(instance)
    await session.flush()
    return instance


def _child_factory(model: type[Any], parent: Factory, **columns: Any) -> Factory:
    """A row under an instance (runtime or history) of the same tenant, unless overridden."""

    async def create(session: AsyncSession, tenant_id: str, **values: Any) -> Any:
        instance_id = values.get("process_instance_id") or (await parent(session, tenant_id)).id
        fields = {name: value() if callable(value) else value for name, value in columns.items()}
        row = model(tenant_id=tenant_id, process_instance_id=instance_id, **fields)
        session.add(row)
        await session.flush()
        return row

    return create


async def _decision_instance(
    session: AsyncSession, tenant_id: str, **values: Any
) -> HistoricDecisionInstance:
    decision = await _definition_factory(DecisionDefinition)(session, tenant_id)
    instance_id = (
        values.get("process_instance_id") or (await _historic_instance(session, tenant_id)).id
    )
    row = HistoricDecisionInstance(
        tenant_id=tenant_id,
        decision_definition_id=decision.id,
        decision_definition_key="walk",
        process_instance_id=instance_id,
        inputs=[],
        outputs=[],
    )
    session.add(row)
    await session.flush()
    return row


async def _task(session: AsyncSession, tenant_id: str, **values: Any) -> Task:
    instance_id = values.get("process_instance_id") or (await _instance(session, tenant_id)).id
    definition = await _definition_factory(ProcessDefinition)(session, tenant_id)
    task = Task(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        process_instance_id=instance_id,
        process_definition_id=definition.id,
        task_definition_key="walk",
    )
    session.add(task)
    await session.flush()
    return task


async def _external_task(session: AsyncSession, tenant_id: str, **values: Any) -> ExternalTask:
    instance_id = values.get("process_instance_id") or (await _instance(session, tenant_id)).id
    definition = await _definition_factory(ProcessDefinition)(session, tenant_id)
    task = ExternalTask(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        process_instance_id=instance_id,
        process_definition_id=definition.id,
        process_definition_key="walk",
        activity_id="walk",
        topic_name="walk",
    )
    session.add(task)
    await session.flush()
    return task


async def _job_definition(session: AsyncSession, tenant_id: str, **values: Any) -> JobDefinition:
    definition = JobDefinition(tenant_id=tenant_id, key=f"walk-{uuid.uuid4()}", handler="noop")
    session.add(definition)
    await session.flush()
    return definition


async def _job_run(session: AsyncSession, tenant_id: str, **values: Any) -> JobRun:
    now = datetime.now(UTC)
    run = JobRun(
        tenant_id=tenant_id,
        job_key="walk",
        handler="noop",
        trigger="manual",
        scheduled_for=now,
        due_at=now,
    )
    session.add(run)
    await session.flush()
    return run


async def _listener(session: AsyncSession, tenant_id: str, **values: Any) -> Listener:
    listener = Listener(
        tenant_id=tenant_id,
        event_types=["*"],
        action="start-process",
        target={"processDefinitionKey": "walk"},
    )
    session.add(listener)
    await session.flush()
    return listener


async def _event(session: AsyncSession, tenant_id: str, **values: Any) -> OutboxEvent:
    event = OutboxEvent(tenant_id=tenant_id, event_type="task.created", payload={})
    session.add(event)
    await session.flush()
    return event


async def _delivery(session: AsyncSession, tenant_id: str, **values: Any) -> ListenerDelivery:
    delivery = ListenerDelivery(
        tenant_id=tenant_id,
        listener_id=values.get("listener_id") or (await _listener(session, tenant_id)).id,
        event_id=values.get("event_id") or (await _event(session, tenant_id)).id,
        due_at=datetime.now(UTC),
    )
    session.add(delivery)
    await session.flush()
    return delivery


_RUNTIME_CHILDREN: dict[type[Any], dict[str, Any]] = {
    Variable: {"name": "walk", "type": "String", "value": "walk"},
    EventSubscription: {"id": uuid.uuid4, "event_type": "message", "activity_id": "walk"},
    Job: {"id": uuid.uuid4, "job_type": "timer", "activity_id": "walk"},
    Incident: {"incident_type": "failedJob"},
}
_HISTORY_CHILDREN: dict[type[Any], dict[str, Any]] = {
    HistoricActivityInstance: {
        "id": uuid.uuid4,
        "process_definition_id": "walk",
        "activity_id": "walk",
        "activity_type": "userTask",
    },
    HistoricTask: {
        "id": uuid.uuid4,
        "process_definition_id": "walk",
        "process_definition_key": "walk",
        "task_definition_key": "walk",
    },
    HistoricVariable: {
        "process_definition_key": "walk",
        "name": "walk",
        "type": "String",
        "value": "walk",
    },
    HistoricExternalTaskLog: {
        "external_task_id": uuid.uuid4,
        "process_definition_key": "walk",
        "activity_id": "walk",
        "topic_name": "walk",
        "state": "created",
    },
}

# Every tenant-scoped model of the app (and of the core's tests) has a factory here:
# `factory(session, tenant_id, **column_overrides)` creating one valid row of that tenant.
FACTORIES: dict[type[Any], Factory] = {
    Note: _note,
    NoteComment: _comment,
    Template: _template,
    Deployment: _deployment,
    DeploymentResource: _resource,
    ProcessDefinition: _definition_factory(ProcessDefinition),
    DecisionDefinition: _definition_factory(DecisionDefinition),
    ProcessInstance: _instance,
    Task: _task,
    ExternalTask: _external_task,
    JobDefinition: _job_definition,
    JobRun: _job_run,
    Listener: _listener,
    OutboxEvent: _event,
    ListenerDelivery: _delivery,
    HistoricProcessInstance: _historic_instance,
    HistoricDecisionInstance: _decision_instance,
    **{m: _child_factory(m, _instance, **c) for m, c in _RUNTIME_CHILDREN.items()},
    **{m: _child_factory(m, _historic_instance, **c) for m, c in _HISTORY_CHILDREN.items()},
}

ALL_MAPPERS: list[Mapper[Any]] = [*Base.registry.mappers, *CoreTestBase.registry.mappers]
TENANT_SCOPED = [m for m in ALL_MAPPERS if issubclass(m.class_, (TenantOwned, Shareable))]


def _name(mapper: Mapper[Any]) -> str:
    return mapper.class_.__name__


def test_every_model_declares_its_kind() -> None:
    kinds = (TenantOwned, Shareable, PlatformTable)
    undeclared = [_name(m) for m in ALL_MAPPERS if sum(issubclass(m.class_, k) for k in kinds) != 1]
    assert undeclared == []


def test_every_tenant_scoped_model_is_walked() -> None:
    assert TENANT_SCOPED, "the walk must cover at least the core's own models"
    assert sorted(_name(m) for m in TENANT_SCOPED) == sorted(c.__name__ for c in FACTORIES)


def _references_to(mapper: Mapper[Any]) -> list[tuple[Mapper[Any], str]]:
    """(referencing mapper, its column) for every composite tenant key pointing at mapper."""
    found = []
    for other in TENANT_SCOPED:
        for constraint in other.local_table.constraints:
            if (
                isinstance(constraint, ForeignKeyConstraint)
                and constraint.referred_table is mapper.local_table
                and "tenant_id" in constraint.column_keys
            ):
                column = next(c for c in constraint.column_keys if c != "tenant_id")
                found.append((other, column))
    return found


@pytest.mark.parametrize("mapper", TENANT_SCOPED, ids=_name)
async def test_tenant_b_cannot_read_update_delete_or_link_to_tenant_a(
    mapper: Mapper[Any], open_session: OpenSession
) -> None:
    model = mapper.class_
    (pk,) = mapper.primary_key
    async with open_session(TenancyContext.system()) as session:
        await add_tenants(session, "ta", "tb")
        row_id = (await FACTORIES[model](session, "ta")).id

    async with open_session(member_of("tb")) as session:
        assert await session.get(model, row_id) is None
        assert (await session.scalars(select(model).where(pk == row_id))).all() == []
        assert await session.scalar(select(func.count()).select_from(model)) == 0
        raw = text(f"SELECT count(*) FROM {mapper.local_table.name} WHERE id = :id")
        assert await session.scalar(raw, {"id": row_id}) == 0
        changed = await session.execute(update(model).where(pk == row_id).values({pk: pk}))
        removed = await session.execute(delete(model).where(pk == row_id))
        assert changed.rowcount == 0  # type: ignore[attr-defined]
        assert removed.rowcount == 0  # type: ignore[attr-defined]

    async with open_session(admin()) as session:
        assert await session.get(model, row_id) is not None

    for referencing, column in _references_to(mapper):
        with pytest.raises(IntegrityError):
            async with open_session(admin()) as session:
                await FACTORIES[referencing.class_](session, "tb", **{column: row_id})


def test_walk_finds_the_composite_tenant_keys() -> None:
    """The link part of the walk is not vacuous: the core's comment → note key is found."""
    note_mapper = next(m for m in TENANT_SCOPED if m.class_ is Note)
    assert [(_name(m), c) for m, c in _references_to(note_mapper)] == [("NoteComment", "note_id")]
