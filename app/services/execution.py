"""Running process instances: load an instance tree under lock, let the engine act, store the
result — the one place where SpiffWorkflow's state and the runtime/history rows meet.

A command (start, complete a task, set variables, delete ...) goes:

1. `start_tree()` or `load_tree()`: the root instance's row, locked `FOR UPDATE`, so two
   commands on one instance tree run one after the other (the second sees what the first
   did: a task completed twice is completed once, the second gets 404); the model comes from
   the cache, the decisions are resolved in the instance's tenant (effective definitions).
2. The caller changes the workflow (`engine.complete_task`, variables ...).
3. `store()`: the engine's snapshot is projected onto the rows — instances, user tasks,
   variables, subscriptions, timer jobs — and onto history, and the instance and task
   events for listeners are derived (`runtime_events`); the serialized state goes on
   the root row in the same transaction. Nothing here commits: the unit of work does.

Every row written takes the instance's tenant (C6, C7), never one from the request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import delete, inspect, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.core import expressions, notifications
from app.core.errors import BadRequest, NotFound
from app.core.queue import enqueue_after_commit
from app.core.tenancy import current_context
from app.models.history import (
    HistoricActivityInstance,
    HistoricDecisionInstance,
    HistoricExternalTaskLog,
    HistoricProcessInstance,
    HistoricTask,
    HistoricVariable,
)
from app.models.repository import DecisionDefinition, ProcessDefinition
from app.models.runtime import (
    EventSubscription,
    ExternalTask,
    Job,
    ProcessInstance,
    Task,
    Variable,
)
from app.services import engine, incidents, runtime_events, workflow_views
from app.services.definitions import definition_xml, event_start_definitions, resolve_reference
from app.services.engine import ActivityAttributes, ModelError, ProcessModel
from app.services.variables import TypedValue, infer, parse_variable
from app.services.workflow_views import Snapshot

_REACHED_BEFORE = "reached"
_ENDED_BEFORE = "ended"


@dataclass(slots=True)
class Tree:
    """One root instance and everything the engine needs to act on it."""

    root: ProcessInstance
    model: ProcessModel
    workflow: Any
    engine: engine.SandboxedScriptEngine
    # What the rows showed when the tree was loaded (None for a new tree): `store()` diffs
    # against it instead of reading the rows again.
    before_view: Snapshot | None = None
    # Spiff task id -> "reached"/"ended" when loaded: what history has already recorded.
    before: dict[uuid.UUID, str] = field(default_factory=dict)
    # Types given explicitly in this command (Long, Date ...) win over inference.
    declared: dict[tuple[uuid.UUID, str], str] = field(default_factory=dict)
    ended_by: str = "completed"  # why user tasks that disappear ended
    # External tasks completed in this command (their worker's completion is logged).
    finished_external: set[uuid.UUID] = field(default_factory=set)
    stored_view: Snapshot | None = None  # what `store()` stored last

    def instance_after(self, instance_id: uuid.UUID) -> workflow_views.InstanceView:
        """An instance of the tree as `store()` left it."""
        assert self.stored_view is not None, "store() first"
        return next(i for i in self.stored_view.instances if i.id == instance_id)

    @property
    def is_new(self) -> bool:
        """Started in this command: no rows exist yet (nothing was loaded)."""
        return self.before_view is None

    def definition_of(self, instance_id: uuid.UUID, key: str) -> str:
        """The definition id of an instance of the tree (the root's, or a bound call's)."""
        if instance_id == self.root.id:
            return self.root.process_definition_id
        return (self.root.called_definitions or {})[key]


# --------------------------------------------------------------------------- models


async def process_model(session: AsyncSession, definition: ProcessDefinition) -> ProcessModel:
    cached = engine.cached_process_model(definition.id)
    if cached is not None:
        return cached
    xml = await definition_xml(session, definition)
    return engine.parse_process_model(definition.id, definition.key, xml)


async def decision_model(
    session: AsyncSession, definition: DecisionDefinition
) -> engine.DecisionModel:
    cached = engine.cached_decision_model(definition.id)
    if cached is not None:
        return cached
    xml = await definition_xml(session, definition)
    return engine.parse_decision_model(definition.id, definition.key, xml)


async def _bind_called(
    session: AsyncSession, model: ProcessModel, definition: ProcessDefinition, tenant_id: str
) -> dict[str, str]:
    """Resolve every call activity, transitively, in the instance's tenant (C8), with its
    binding: {called key: definition id}, bound for the instance's lifetime."""
    bound: dict[str, str] = {}
    todo = [(model, definition)]
    while todo:
        current, calling = todo.pop()
        for element, attributes in current.attributes.items():
            key = attributes.called_element
            if key is None:
                continue
            called = await _resolve_reference(
                session,
                ProcessDefinition,
                key,
                attributes.called_element_binding,
                element,
                calling=calling,
                tenant_id=tenant_id,
            )
            assert isinstance(called, ProcessDefinition)  # missing_ok=False: never None
            if bound.get(key, called.id) != called.id:
                raise ModelError(f"{element}: calls {key!r} in two versions; Tessera binds one")
            if key not in bound:
                bound[key] = called.id
                todo.append((await process_model(session, called), called))
    return bound


async def _resolve_reference(
    session: AsyncSession,
    model: type[ProcessDefinition] | type[DecisionDefinition],
    key: str,
    binding: engine.Binding | None,
    element: str,
    *,
    calling: ProcessDefinition,
    tenant_id: str,
    missing_ok: bool = False,
) -> ProcessDefinition | DecisionDefinition | None:
    """The definition a model element references; a reference into another tenant is
    always an error, a missing definition only unless `missing_ok`."""
    binding = binding or engine.Binding()
    scope = _reference_scope(element, binding.tenant_id, tenant_id)
    version = None
    if binding.binding == "version":
        version = _evaluated_int(binding.version, element)
    found = await resolve_reference(
        session,
        model,
        key,
        scope=scope,
        binding=binding.binding,
        version=version,
        version_tag=binding.version_tag,
        deployment_id=calling.deployment_id,
    )
    if found is None and not missing_ok:
        what = "process" if model is ProcessDefinition else "decision"
        raise ModelError(
            f"{element}: no {what} {key!r} ({binding.binding} binding) is deployed for "
            f"tenant {tenant_id!r} or shared"
        )
    return found


def _reference_scope(element: str, written: str | None, tenant_id: str) -> str | None:
    """`camunda:calledElementTenantId` / `decisionRefTenantId`: absent = the instance's
    tenant; `${null}` = shared definitions only; any other tenant is refused — a T1 instance
    never reaches into T2's definitions (C8), and a call tree lives in one tenant."""
    if written is None:
        return tenant_id
    wanted = _evaluated(written, {"execution": {"tenantId": tenant_id}}, element)
    if wanted is None:
        return None
    if str(wanted) != tenant_id:
        raise ModelError(
            f"{element}: references tenant {str(wanted)!r}, not the instance's tenant "
            f"{tenant_id!r}; a model references its own tenant's definitions only"
        )
    return tenant_id


def _evaluated_int(text: str | None, element: str) -> int:
    try:
        return int(str(_evaluated(text, {}, element)))
    except ValueError:
        raise ModelError(f"{element}: version {text!r} is not a number") from None


async def _models_of(
    session: AsyncSession,
    root: ProcessModel,
    definition: ProcessDefinition,
    called: Mapping[str, str],
) -> list[tuple[ProcessModel, ProcessDefinition]]:
    models = [(root, definition)]
    for definition_id in called.values():
        found = await session.get(ProcessDefinition, definition_id)
        if found is None:
            raise ModelError("A called process definition of this instance was deleted.")
        models.append((await process_model(session, found), found))
    return models


async def _resolve_decisions(
    session: AsyncSession,
    models: Iterable[tuple[ProcessModel, ProcessDefinition]],
    tenant_id: str,
) -> dict[str, engine.DecisionModel]:
    """Each business rule task's decision (by element id), resolved with its binding in the
    instance's tenant (C8/E1). A missing decision fails only the task that needs it, when
    it runs; one in another tenant fails the command at once."""
    decisions: dict[str, engine.DecisionModel] = {}
    for model, calling in models:
        for element, attributes in model.attributes.items():
            if attributes.decision_ref is None:
                continue
            binding = attributes.decision_ref_binding or engine.Binding()
            found = await _resolve_reference(
                session,
                DecisionDefinition,
                attributes.decision_ref,
                binding,
                element,
                calling=calling,
                tenant_id=tenant_id,
                # The latest version may still be deployed before the task runs.
                missing_ok=binding.binding == "latest",
            )
            if found is None:
                continue
            assert isinstance(found, DecisionDefinition)
            decisions[element] = await decision_model(session, found)
    return decisions


async def engine_for(
    session: AsyncSession,
    instance: ProcessInstance,
    definition: ProcessDefinition,
    model: ProcessModel,
    called: Mapping[str, str],
) -> tuple[engine.SandboxedScriptEngine, dict[str, Any]]:
    pairs = await _models_of(session, model, definition, called)
    models = [current for current, _ in pairs]
    subprocess_specs: dict[str, Any] = {}
    attributes: dict[str, ActivityAttributes] = {}
    embedded: set[str] = set()
    async_before: set[str] = set()
    external_topics: dict[str, str] = {}
    for current in models:
        subprocess_specs.update(current.embedded_specs)
        embedded.update(current.embedded_specs)
        attributes.update(current.attributes)
        async_before.update(current.async_before)
        external_topics.update(current.external_topics)
    for key, current in zip(called, models[1:], strict=True):
        subprocess_specs[key] = current.spec
    script_engine = engine.SandboxedScriptEngine(
        decisions=await _resolve_decisions(session, pairs, instance.tenant_id),
        facts={
            "processInstanceId": str(instance.id),
            "processBusinessKey": instance.business_key,
            "processDefinitionId": instance.process_definition_id,
            "tenantId": instance.tenant_id,
        },
        attributes=attributes,
        embedded=frozenset(embedded),
        async_before=frozenset(async_before),
        external_topics=external_topics,
    )
    return script_engine, subprocess_specs


# --------------------------------------------------------------------------- loading


async def start_tree(
    session: AsyncSession,
    definition: ProcessDefinition,
    *,
    tenant_id: str,
    business_key: str | None,
    variables: Mapping[str, TypedValue],
    start_event: tuple[str, str] | None = None,
) -> Tree:
    """A new instance of `definition` in `tenant_id`, run until it waits (not yet stored).

    `start_event` ("message"/"signal", name): started by that event at its start event;
    else at the none start event.
    """
    model = await process_model(session, definition)
    user_id = current_context(session).user_id
    instance_id = uuid.uuid4()
    root = ProcessInstance(
        id=instance_id,
        tenant_id=tenant_id,
        process_definition_id=definition.id,
        process_definition_key=definition.key,
        business_key=business_key,
        suspended=False,
        started_by=user_id,
        root_process_instance_id=instance_id,
    )
    root.called_definitions = await _bind_called(session, model, definition, tenant_id)
    script_engine, specs = await engine_for(
        session, root, definition, model, root.called_definitions
    )
    workflow = engine.new_workflow(model, specs, script_engine)
    start_values = {name: typed.value for name, typed in variables.items()}
    initiators = [a.initiator for a in model.attributes.values() if a.initiator]
    start_values.update(dict.fromkeys(initiators, user_id))
    engine.set_start_variables(workflow, start_values)
    tree = Tree(root, model, workflow, script_engine)
    tree.declared = {(instance_id, name): typed.type for name, typed in variables.items()}
    session.add(
        HistoricProcessInstance(
            id=instance_id,
            tenant_id=tenant_id,
            process_definition_id=definition.id,
            process_definition_key=definition.key,
            process_definition_name=definition.name,
            process_definition_version=definition.version,
            business_key=business_key,
            start_user_id=user_id,
            start_activity_id=_start_activity(model),
            root_process_instance_id=instance_id,
            state="ACTIVE",
        )
    )
    if start_event is None:
        engine.run(workflow)
    else:
        engine.start_at_event(workflow, *start_event, start_values)
    return tree


def _start_activity(model: ProcessModel) -> str | None:
    starts = [spec.bpmn_id for spec in model.spec.start.outputs if getattr(spec, "bpmn_id", None)]
    return starts[0] if starts else None


async def load_tree(session: AsyncSession, instance_id: uuid.UUID) -> Tree:
    """The tree of a visible instance, its root locked for this transaction (404 alike for
    an unknown instance and another tenant's, C9). One query finds and locks the root."""
    root_of = select(ProcessInstance.root_process_instance_id).where(
        ProcessInstance.id == instance_id
    )
    root = await session.scalar(
        select(ProcessInstance)
        .where(ProcessInstance.id == root_of.scalar_subquery())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if root is None or root.state is None:
        raise NotFound("Process instance not found.")
    definition = await session.get(ProcessDefinition, root.process_definition_id)
    if definition is None:
        raise NotFound("Process instance not found.")
    model = await process_model(session, definition)
    script_engine, specs = await engine_for(
        session, root, definition, model, root.called_definitions or {}
    )
    workflow = engine.restore(root.state, model, specs, script_engine)
    tree = Tree(root, model, workflow, script_engine)
    tree.before_view = workflow_views.snapshot(workflow, root.id, root.process_definition_key)
    for view in tree.before_view.activities:
        tree.before[view.id] = _ENDED_BEFORE if view.ended else _REACHED_BEFORE
    return tree


async def lock_task(session: AsyncSession, task: Task) -> Tree:
    """The tree of a visible task, under lock; 404 if the task is gone once the lock is
    held (a parallel completion got there first)."""
    tree = await load_tree(session, task.process_instance_id)
    waiting = tree.before_view.user_tasks if tree.before_view else []
    if all(view.id != task.id for view in waiting):
        raise NotFound("Task not found.")
    return tree


# --------------------------------------------------------------------------- storing


async def store(session: AsyncSession, tree: Tree, *, depth: int = 0) -> Snapshot:
    """Project the workflow onto the runtime and history rows, and save its state; then
    hand the signals the command threw to the tenant's other instances (D5).

    `depth`: how many signal deliveries led to this command (bounded: a signal that starts
    an instance that throws it again would never end).
    """
    root = tree.root
    view = workflow_views.snapshot(tree.workflow, root.id, root.process_definition_key)
    now = datetime.now(UTC)
    existing = [root] if tree.is_new else await _tree_instances(session, tree)
    by_id = {row.id: row for row in existing}
    ended = await _store_instances(session, tree, view, by_id, now)
    await _store_tasks(session, tree, view, now)
    await _store_variables(session, tree, view, now)
    await _store_waits(session, tree, view)
    await _store_activities(session, tree, view, now)
    _store_decisions(session, tree, view)
    runtime_events.emit_tree_events(session, tree, view)
    # Ended instances go last: their rows (and, by cascade, their tasks ...) must still be
    # there while the steps above end the tasks' history.
    for row in ended:
        await session.delete(row)
    tree.stored_view = view
    thrown, tree.engine.thrown_signals = tree.engine.thrown_signals, []
    for name, payload in thrown:
        await broadcast_signal(
            session,
            name,
            {key: _typed(key, value, None) for key, value in payload.items()},
            scope=EventScope(tenant_ids=(root.tenant_id,), start_tenants=(root.tenant_id,)),
            exclude_root=root.id,
            depth=depth + 1,
        )
    return view


def _persisted(row: Any) -> bool:
    return bool(inspect(row).persistent)


async def _tree_instances(session: AsyncSession, tree: Tree) -> list[ProcessInstance]:
    """The stored instance rows of the tree: just the root unless it calls processes."""
    if not tree.root.called_definitions:
        return [tree.root]
    rows = await session.scalars(
        select(ProcessInstance).where(ProcessInstance.root_process_instance_id == tree.root.id)
    )
    return list(rows)


async def _store_instances(
    session: AsyncSession,
    tree: Tree,
    view: Snapshot,
    rows: dict[uuid.UUID, ProcessInstance],
    now: datetime,
) -> list[ProcessInstance]:
    """Insert the instances a call activity started, end the history of those that ended,
    and save the state; returns the stored rows of ended instances, for deletion."""
    root = tree.root
    called = root.called_definitions or {}
    ended: list[ProcessInstance] = []
    root_view = view.instances[0]
    if tree.is_new and not root_view.completed:
        session.add(root)  # before the instances it calls: they reference it
    known = {i.id for i in tree.before_view.instances} if tree.before_view else {root.id}
    for instance in view.instances:
        row = rows.get(instance.id)
        if instance.id not in known and instance.completed:
            # Called and ended within this command: history only.
            session.add(await _historic_sub_instance(session, tree, instance, called[instance.key]))
        if row is None and not instance.completed:
            row = ProcessInstance(
                id=instance.id,
                tenant_id=root.tenant_id,
                process_definition_id=called[instance.key],
                process_definition_key=instance.key,
                business_key=root.business_key,
                suspended=root.suspended,
                started_by=root.started_by,
                super_process_instance_id=instance.super_id,
                root_process_instance_id=root.id,
                super_activity_instance=instance.super_activity,
            )
            session.add(row)
            rows[instance.id] = row
            session.add(await _historic_sub_instance(session, tree, instance, called[instance.key]))
        if instance.completed:
            await _end_history(session, instance.id, "COMPLETED", instance.end_activity, now)
            if row is not None and _persisted(row):
                ended.append(row)
    if root_view.completed:
        return [root] if _persisted(root) else []
    root.state = engine.serialize(tree.workflow)
    await session.flush()  # instance rows first: every other row references them
    return ended


async def _historic_sub_instance(
    session: AsyncSession, tree: Tree, instance: workflow_views.InstanceView, definition_id: str
) -> HistoricProcessInstance:
    root = tree.root
    # Loaded when the engine was built: the identity map answers, no query.
    definition = await session.get(ProcessDefinition, definition_id)
    return HistoricProcessInstance(
        id=instance.id,
        tenant_id=root.tenant_id,
        process_definition_id=definition_id,
        process_definition_key=instance.key,
        process_definition_name=definition.name if definition else None,
        process_definition_version=definition.version if definition else 0,
        business_key=root.business_key,
        start_user_id=root.started_by,
        super_process_instance_id=instance.super_id,
        root_process_instance_id=root.id,
        state="ACTIVE",
    )


async def _end_history(
    session: AsyncSession,
    instance_id: uuid.UUID,
    state: str,
    end_activity: str | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    await session.execute(
        update(HistoricProcessInstance)
        .where(
            HistoricProcessInstance.id == instance_id, HistoricProcessInstance.end_time.is_(None)
        )
        .values(end_time=now, state=state, end_activity_id=end_activity, delete_reason=reason)
    )


async def _store_tasks(session: AsyncSession, tree: Tree, view: Snapshot, now: datetime) -> None:
    # The stored rows are the user tasks that were waiting when the tree was loaded.
    existing = {task.id for task in tree.before_view.user_tasks} if tree.before_view else set()
    waiting = {task.id for task in view.user_tasks}
    gone = sorted(existing - waiting)
    if gone:
        await session.execute(delete(Task).where(Task.id.in_(gone)))
        await session.execute(
            update(HistoricTask)
            .where(HistoricTask.id.in_(gone))
            .values(end_time=now, delete_reason=tree.ended_by)
        )
    live = {i.id for i in view.instances if not i.completed}
    keys = {i.id: i.key for i in view.instances}
    for task in view.user_tasks:
        if task.id in existing or task.instance_id not in live:
            continue
        row = _new_task(tree, task, keys[task.instance_id])
        session.add(row)
        session.add(
            HistoricTask(
                id=row.id,
                tenant_id=row.tenant_id,
                process_instance_id=row.process_instance_id,
                process_definition_id=row.process_definition_id,
                process_definition_key=keys[task.instance_id],
                task_definition_key=row.task_definition_key,
                name=row.name,
                assignee=row.assignee,
                priority=row.priority,
            )
        )


def _new_task(tree: Tree, task: workflow_views.UserTaskView, key: str) -> Task:
    attributes = task.attributes
    data = {"execution": tree.engine.facts, **task.data}
    return Task(
        id=task.id,
        tenant_id=tree.root.tenant_id,
        process_instance_id=task.instance_id,
        process_definition_id=tree.definition_of(task.instance_id, key),
        task_definition_key=task.activity_id,
        name=task.name,
        description=task.documentation or None,
        assignee=_single(attributes.assignee, data, task.activity_id),
        candidate_groups=_identities(attributes.candidate_groups, data, task.activity_id),
        candidate_users=_identities(attributes.candidate_users, data, task.activity_id),
        priority=_priority(attributes.priority, data, task.activity_id),
        due=_date(attributes.due_date, data, task.activity_id),
        follow_up=_date(attributes.follow_up_date, data, task.activity_id),
        form_key=attributes.form_key,
        suspended=tree.root.suspended,
    )


def _evaluated(text: str | None, data: Mapping[str, Any], element: str) -> Any:
    if text is None:
        return None
    if "${" not in text and "#{" not in text:
        return text
    try:
        return expressions.evaluate(text, data)
    except expressions.ExpressionError as exc:
        raise ModelError(f"{element}: {exc}") from None


def _single(text: str | None, data: Mapping[str, Any], element: str) -> str | None:
    value = _evaluated(text, data, element)
    return None if value is None or value == "" else str(value)[:64]


def _identities(text: str | None, data: Mapping[str, Any], element: str) -> list[str]:
    value = _evaluated(text, data, element)
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip()[:64] for item in items if str(item).strip()]


def _priority(text: str | None, data: Mapping[str, Any], element: str, default: int = 50) -> int:
    value = _evaluated(text, data, element)
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ModelError(f"{element}: priority {value!r} is not a number") from None


def _date(text: str | None, data: Mapping[str, Any], element: str) -> datetime | None:
    value = _evaluated(text, data, element)
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ModelError(f"{element}: {value!r} is not an ISO 8601 date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _store_variables(
    session: AsyncSession, tree: Tree, view: Snapshot, now: datetime
) -> None:
    instance_ids = [i.id for i in view.instances]
    rows: dict[tuple[uuid.UUID, str], Variable] = {}
    if not tree.is_new:
        for stored in await session.scalars(
            select(Variable).where(Variable.process_instance_id.in_(instance_ids))
        ):
            rows[(stored.process_instance_id, stored.name)] = stored
    changed: dict[tuple[uuid.UUID, str], TypedValue | None] = {}
    for instance in view.instances:
        for name, value in instance.variables.items():
            key = (instance.id, name)
            row = rows.get(key)
            declared = tree.declared.get(key)
            if row is not None and row.value == value and declared in (None, row.type):
                continue
            typed = _typed(name, value, declared or (row.type if row else None))
            changed[key] = typed
            if instance.completed:
                continue
            if row is None:
                session.add(
                    Variable(
                        tenant_id=tree.root.tenant_id,
                        process_instance_id=instance.id,
                        name=name,
                        type=typed.type,
                        value=typed.value,
                    )
                )
            else:
                row.type, row.value = typed.type, typed.value
        for key, row in rows.items():
            if key[0] == instance.id and key[1] not in instance.variables:
                changed[key] = None
                await session.delete(row)
    if changed:
        keys = {i.id: i.key for i in view.instances}
        await _store_variable_history(session, tree, changed, keys)


def typed_variables(tree: Tree, instance: workflow_views.InstanceView) -> dict[str, TypedValue]:
    """An instance's variables after the command, typed as `store()` stored them."""
    return {
        name: _typed(name, value, tree.declared.get((instance.id, name)))
        for name, value in sorted(instance.variables.items())
    }


def _typed(name: str, value: Any, keep_type: str | None) -> TypedValue:
    """A value's type: the declared/current one while the value still fits it, else
    inferred (an engine-made value: a script result, a decision output)."""
    if keep_type is not None:
        try:
            return parse_variable(name, {"value": value, "type": keep_type})
        except BadRequest:  # no longer fits: infer below
            pass
    try:
        return infer(value)
    except Exception as exc:
        raise ModelError(f"variable {name!r}: {exc}") from None


async def _store_variable_history(
    session: AsyncSession,
    tree: Tree,
    changed: Mapping[tuple[uuid.UUID, str], TypedValue | None],
    keys: Mapping[uuid.UUID, str],
) -> None:
    names = sorted({name for _, name in changed})
    instance_ids = sorted({instance for instance, _ in changed})
    history = (
        {}
        if tree.is_new
        else {
            (row.process_instance_id, row.name): row
            for row in await session.scalars(
                select(HistoricVariable).where(
                    HistoricVariable.process_instance_id.in_(instance_ids),
                    HistoricVariable.name.in_(names),
                )
            )
        }
    )
    for (instance_id, name), typed in changed.items():
        row = history.get((instance_id, name))
        if typed is None:
            if row is not None:
                row.state = "DELETED"
            continue
        if row is None:
            session.add(
                HistoricVariable(
                    tenant_id=tree.root.tenant_id,
                    process_instance_id=instance_id,
                    process_definition_key=keys[instance_id],
                    name=name,
                    type=typed.type,
                    value=typed.value,
                    state="CREATED",
                )
            )
        else:
            row.type, row.value, row.state = typed.type, typed.value, "CREATED"


async def _store_waits(session: AsyncSession, tree: Tree, view: Snapshot) -> None:
    """Subscriptions, jobs and external tasks: one row per wait (the stored ones are those
    that waited when the tree was loaded)."""
    live = {i.id for i in view.instances if not i.completed}
    wanted = {w.id: w for w in view.waits if w.instance_id in live}
    stored = {w.id: w for w in tree.before_view.waits} if tree.before_view else {}
    gone = [w for w_id, w in stored.items() if w_id not in wanted]
    for model in (Job, EventSubscription):
        ids = sorted(w.id for w in gone if _wait_model(w) is model)
        if ids:
            await session.execute(delete(model).where(model.id.in_(ids)))
    await _end_external_tasks(session, tree, sorted(w.id for w in gone if w.kind == "external"))
    topics = set()
    for wait in wanted.values():
        if wait.id in stored:
            if wait.kind == "timer" and wait.due != stored[wait.id].due:  # a cycle's next
                await session.execute(
                    update(Job).where(Job.id == wait.id).values(due_date=_due(wait))
                )
                announce_job(session, wait.id, _due(wait))
            continue
        row = _wait_row(tree, wait, view)
        session.add(row)
        if isinstance(row, ExternalTask):
            session.add(external_task_log(row, "created", user_id=tree.root.started_by))
            topics.add(row.topic_name)
        elif isinstance(row, Job):
            announce_job(session, row.id, row.due_date)
    if topics:
        notifications.announce_work(session, topics)


RUN_PROCESS_JOB = "run_process_job"  # the worker's function (app.worker)


def announce_job(session: AsyncSession, job_id: uuid.UUID, due: datetime | None) -> None:
    """Wake a worker for job `job_id` when it is due, once this unit of work commits."""
    key = f"{RUN_PROCESS_JOB}:{job_id}:{due.isoformat() if due else 'now'}"
    enqueue_after_commit(session, RUN_PROCESS_JOB, str(job_id), job_id=key, defer_until=due)


_JOB_KINDS = {"timer": "timer", "async": "async-continuation"}  # wait kind -> job type


def _attributes_of(tree: Tree, wait: workflow_views.WaitView) -> ActivityAttributes:
    return tree.engine.attributes.get(wait.activity_id) or ActivityAttributes()


def _due(wait: workflow_views.WaitView) -> datetime | None:
    if not wait.due:
        return None
    due = datetime.fromisoformat(wait.due)
    return due if due.tzinfo else due.replace(tzinfo=UTC)


def _wait_model(wait: workflow_views.WaitView) -> type[Job | ExternalTask | EventSubscription]:
    if wait.kind in _JOB_KINDS:
        return Job
    return ExternalTask if wait.kind == "external" else EventSubscription


def _wait_row(
    tree: Tree, wait: workflow_views.WaitView, view: Snapshot
) -> EventSubscription | Job | ExternalTask:
    root = tree.root
    model = _wait_model(wait)
    key = next(i.key for i in view.instances if i.id == wait.instance_id)
    if model is Job:
        return Job(
            id=wait.id,
            tenant_id=root.tenant_id,
            process_instance_id=wait.instance_id,
            process_definition_id=tree.definition_of(wait.instance_id, key),
            process_definition_key=key,
            job_type=_JOB_KINDS[wait.kind],
            activity_id=wait.activity_id,
            due_date=_due(wait),
            acting_user=root.started_by,
            retries=engine.retry_policy(_attributes_of(tree, wait).retry_cycle, 1)[0],
        )
    if model is ExternalTask:
        attributes = _attributes_of(tree, wait)
        data = {"execution": tree.engine.facts, **(wait.data or {})}
        return ExternalTask(
            id=wait.id,
            tenant_id=root.tenant_id,
            process_instance_id=wait.instance_id,
            process_definition_id=tree.definition_of(wait.instance_id, key),
            process_definition_key=key,
            activity_id=wait.activity_id,
            topic_name=wait.name or "",
            business_key=root.business_key,
            priority=_priority(attributes.task_priority, data, wait.activity_id, default=0),
            suspended=root.suspended,
        )
    return EventSubscription(
        id=wait.id,
        tenant_id=root.tenant_id,
        process_instance_id=wait.instance_id,
        event_type=wait.kind,
        event_name=wait.name,
        activity_id=wait.activity_id,
    )


async def _end_external_tasks(session: AsyncSession, tree: Tree, ids: Sequence[uuid.UUID]) -> None:
    """External tasks no longer waiting: completed by their worker (that command logged
    it) or cancelled (a boundary event, the instance deleted), logged "deleted". Their
    incidents are resolved with them."""
    if not ids:
        return
    rows = await session.scalars(
        delete(ExternalTask).where(ExternalTask.id.in_(ids)).returning(ExternalTask)
    )
    user_id = current_context(session).user_id
    for row in rows.all():
        if row.id not in tree.finished_external:
            session.add(external_task_log(row, "deleted", user_id=user_id))
    await incidents.resolve_incidents(session, incidents.FAILED_EXTERNAL_TASK, ids)


def external_task_log(
    row: ExternalTask, state: str, *, user_id: str | None, error: str | None = None
) -> HistoricExternalTaskLog:
    """A log entry of an external task in its tenant; `user_id` is on whose behalf."""
    return HistoricExternalTaskLog(
        tenant_id=row.tenant_id,
        external_task_id=row.id,
        process_instance_id=row.process_instance_id,
        process_definition_id=row.process_definition_id,
        process_definition_key=row.process_definition_key,
        activity_id=row.activity_id,
        topic_name=row.topic_name,
        worker_id=row.worker_id,
        priority=row.priority,
        retries=row.retries,
        error_message=error,
        state=state,
        acting_user_id=user_id,
    )


async def _store_activities(
    session: AsyncSession, tree: Tree, view: Snapshot, now: datetime
) -> None:
    """History of activity instances: a row when an activity is reached, its end when it
    ends — by comparing with what the tree looked like when it was loaded."""
    ended: dict[bool, list[uuid.UUID]] = {True: [], False: []}
    keys = {i.id: i.key for i in view.instances}
    for activity in view.activities:
        before = tree.before.get(activity.id)
        if before == _ENDED_BEFORE:
            continue
        if before is None:
            session.add(
                HistoricActivityInstance(
                    id=activity.id,
                    tenant_id=tree.root.tenant_id,
                    process_instance_id=activity.instance_id,
                    process_definition_id=tree.definition_of(
                        activity.instance_id, keys[activity.instance_id]
                    ),
                    activity_id=activity.activity_id,
                    activity_name=_activity_name(tree, activity.activity_id),
                    activity_type=activity.activity_type,
                    task_id=activity.id if activity.activity_type == "userTask" else None,
                    called_process_instance_id=activity.called_instance_id,
                    end_time=now if activity.ended else None,
                    canceled=activity.canceled,
                )
            )
        elif activity.ended:
            ended[activity.canceled].append(activity.id)
    for canceled, ids in ended.items():
        if ids:
            await session.execute(
                update(HistoricActivityInstance)
                .where(HistoricActivityInstance.id.in_(ids))
                .values(end_time=now, canceled=canceled)
            )


def _activity_name(tree: Tree, activity_id: str) -> str | None:
    return tree.model.names.get(activity_id)


def _store_decisions(session: AsyncSession, tree: Tree, view: Snapshot) -> None:
    """Decisions evaluated by business rule tasks: history in the instance's tenant (E2),
    under the (called) instance whose task evaluated it."""
    owners = workflow_views.instance_workflows(tree.workflow, tree.root.id)
    keys = {instance.id: instance.key for instance in view.instances}
    for evaluation in tree.engine.evaluations:
        instance_id = owners.get(evaluation.workflow, tree.root.id)
        key = keys.get(instance_id, tree.root.process_definition_key)
        session.add(
            decision_history(
                evaluation=evaluation,
                tenant_id=tree.root.tenant_id,
                user_id=tree.root.started_by,
                process=(instance_id, tree.definition_of(instance_id, key), key),
            )
        )
    tree.engine.evaluations.clear()


def decision_history(
    *,
    evaluation: engine.DecisionEvaluation,
    tenant_id: str,
    user_id: str | None,
    process: tuple[uuid.UUID, str, str] | None,
) -> HistoricDecisionInstance:
    """A decision history row; `process` = (instance id, definition id, definition key) of
    the instance that evaluated it, None for an evaluation over the API."""
    instance_id, definition_id, definition_key = process or (None, None, None)
    decision = evaluation.decision
    return HistoricDecisionInstance(
        tenant_id=tenant_id,
        decision_definition_id=decision.definition_id,
        decision_definition_key=decision.key,
        decision_definition_name=decision.name,
        process_instance_id=instance_id,
        process_definition_id=definition_id,
        process_definition_key=definition_key,
        activity_id=evaluation.activity_id,
        user_id=user_id,
        inputs=evaluation.inputs,
        outputs=evaluation.outputs,
    )


async def tree_instance_ids(session: AsyncSession, tree: Tree) -> list[uuid.UUID]:
    return [row.id for row in await _tree_instances(session, tree)]


async def terminate_history(
    session: AsyncSession, instance_ids: Sequence[uuid.UUID], *, reason: str | None
) -> None:
    """History of a deleted tree: instances EXTERNALLY_TERMINATED, open tasks "deleted",
    open activities canceled, open external tasks logged "deleted"."""
    now = datetime.now(UTC)
    user_id = current_context(session).user_id
    for row in await session.scalars(
        select(ExternalTask).where(ExternalTask.process_instance_id.in_(instance_ids))
    ):
        session.add(external_task_log(row, "deleted", user_id=user_id))
    for instance_id in instance_ids:
        await _end_history(session, instance_id, "EXTERNALLY_TERMINATED", None, now, reason)
    await session.execute(
        update(HistoricTask)
        .where(HistoricTask.process_instance_id.in_(instance_ids), HistoricTask.end_time.is_(None))
        .values(end_time=now, delete_reason="deleted")
    )
    await session.execute(
        update(HistoricActivityInstance)
        .where(
            HistoricActivityInstance.process_instance_id.in_(instance_ids),
            HistoricActivityInstance.end_time.is_(None),
        )
        .values(end_time=now, canceled=True)
    )


# --------------------------------------------------------------------------- events

MAX_EVENT_DEPTH: Final = 5


@dataclass(frozen=True, slots=True)
class EventScope:
    """Where a message or signal may go (DESIGN §3, D1–D5).

    `tenant_ids`: the tenants whose waiting instances it may reach (None = every instance
    the caller sees; empty = none). `start_tenants`: the tenants it may start instances in,
    each at its effective definitions (None = every tenant that has a definition of its own
    with that start event: an admin without memberships). `shared_starts_only`: only start
    events of shared definitions (`withoutTenantId`).
    """

    tenant_ids: Sequence[str] | None = None
    start_tenants: Sequence[str] | None = None
    shared_starts_only: bool = False


async def waiting_subscriptions(
    session: AsyncSession,
    kind: str,
    name: str,
    scope: EventScope,
    *,
    instance_id: uuid.UUID | None = None,
    business_key: str | None = None,
    correlation_keys: Mapping[str, TypedValue] | None = None,
    exclude_root: uuid.UUID | None = None,
    limit: int | None = None,
) -> list[EventSubscription]:
    """The subscriptions of active instances waiting for `kind` `name` that match, oldest first."""
    if scope.tenant_ids is not None and not scope.tenant_ids:
        return []
    statement = (
        select(EventSubscription)
        .join(ProcessInstance, ProcessInstance.id == EventSubscription.process_instance_id)
        .where(
            EventSubscription.event_type == kind,
            EventSubscription.event_name == name,
            ProcessInstance.suspended.is_(False),
        )
        .order_by(EventSubscription.created_at, EventSubscription.id)
    )
    if scope.tenant_ids is not None:
        statement = statement.where(EventSubscription.tenant_id.in_(scope.tenant_ids))
    if instance_id is not None:
        statement = statement.where(EventSubscription.process_instance_id == instance_id)
    if business_key is not None:
        statement = statement.where(ProcessInstance.business_key == business_key)
    if exclude_root is not None:
        statement = statement.where(ProcessInstance.root_process_instance_id != exclude_root)
    for variable, typed in (correlation_keys or {}).items():
        statement = statement.where(
            select(Variable.id)
            .where(
                Variable.process_instance_id == EventSubscription.process_instance_id,
                Variable.name == variable,
                Variable.value == type_coerce(typed.value, JSONB),
            )
            .exists()
        )
    if limit is not None:
        statement = statement.limit(limit)
    return list((await session.scalars(statement)).all())


async def deliver(
    session: AsyncSession,
    subscription: EventSubscription,
    variables: Mapping[str, TypedValue],
    *,
    depth: int = 0,
) -> Tree | None:
    """The event for one subscription, under its tree's lock; None when it no longer waits
    (a parallel command consumed it)."""
    _check_depth(depth)
    tree = await load_tree(session, subscription.process_instance_id)
    waits = tree.before_view.waits if tree.before_view else []
    if all(wait.id != subscription.id for wait in waits):
        return None
    for variable, typed in variables.items():
        tree.declared[(subscription.process_instance_id, variable)] = typed.type
    engine.deliver_event(
        tree.workflow,
        subscription.id,
        subscription.event_type,
        subscription.event_name or "",
        {variable: typed.value for variable, typed in variables.items()},
    )
    await store(session, tree, depth=depth)
    return tree


async def start_by_event(
    session: AsyncSession,
    definition: ProcessDefinition,
    tenant_id: str,
    event: tuple[str, str],
    *,
    business_key: str | None,
    variables: Mapping[str, TypedValue],
    depth: int = 0,
) -> Tree:
    """A new instance of `definition` in `tenant_id`, started at its start event for `event`."""
    _check_depth(depth)
    tree = await start_tree(
        session,
        definition,
        tenant_id=tenant_id,
        business_key=business_key,
        variables=variables,
        start_event=event,
    )
    await store(session, tree, depth=depth)
    return tree


async def broadcast_signal(
    session: AsyncSession,
    name: str,
    variables: Mapping[str, TypedValue],
    *,
    scope: EventScope,
    exclude_root: uuid.UUID | None = None,
    depth: int = 0,
) -> None:
    """A signal to every waiting subscription and signal start event in `scope` (D4, D5)."""
    for subscription in await waiting_subscriptions(
        session, "signal", name, scope, exclude_root=exclude_root
    ):
        await deliver(session, subscription, variables, depth=depth)
    for definition, tenant_id in await event_start_definitions(
        session,
        ProcessDefinition.start_signals,
        name,
        tenants=scope.start_tenants,
        shared_only=scope.shared_starts_only,
    ):
        await start_by_event(
            session,
            definition,
            tenant_id,
            ("signal", name),
            business_key=None,
            variables=variables,
            depth=depth,
        )


def _check_depth(depth: int) -> None:
    if depth > MAX_EVENT_DEPTH:
        raise ModelError(
            f"signals led to more than {MAX_EVENT_DEPTH} nested deliveries in one command "
            "(a signal that keeps starting instances that throw it?)"
        )
