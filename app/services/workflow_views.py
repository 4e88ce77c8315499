"""What the API shows of a SpiffWorkflow workflow: a pure projection, no database.

* `snapshot()`: the process instances of a workflow (the root, and one per call activity
  — an embedded subprocess is part of its parent's instance), the user tasks waiting, each
  instance's variables, what waits outside the engine (message/signal subscriptions, timers,
  asyncBefore continuations, external tasks) and every activity reached so far (for the
  activity history).
* `frontier_tasks()`: the tasks whose data are an instance's variables, to change them.
* `activity_children()`: Camunda's activity instance tree of one instance.
* `form_fields()`: a user task's camunda:formData fields.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Final

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState

from app.services.engine import ActivityAttributes, ProcessModel, SandboxedScriptEngine

# Camunda's activity types (ActivityTypes.java) for the specs SpiffWorkflow builds.
_ACTIVITY_TYPES: Final = {
    "StartEvent": "startEvent",
    "EndEvent": "noneEndEvent",
    "UserTask": "userTask",
    "ManualTask": "manualTask",
    "NoneTask": "task",
    "ScriptTask": "scriptTask",
    "ServiceTask": "serviceTask",
    "SandboxedBusinessRuleTask": "businessRuleTask",
    "CallActivity": "callActivity",
    "SubWorkflowTask": "subProcess",
    "TransactionSubprocess": "transaction",
    "ExclusiveGateway": "exclusiveGateway",
    "ParallelGateway": "parallelGateway",
    "InclusiveGateway": "inclusiveGateway",
    "EventBasedGateway": "eventBasedGateway",
    "IntermediateCatchEvent": "intermediateCatchEvent",
    "IntermediateThrowEvent": "intermediateThrowEvent",
    "BoundaryEvent": "boundaryEvent",
    "ReceiveTask": "receiveTask",
    "SendTask": "sendTask",
}


@dataclass(slots=True)
class UserTaskView:
    id: uuid.UUID
    instance_id: uuid.UUID
    activity_id: str
    name: str | None
    documentation: str | None
    attributes: ActivityAttributes
    data: dict[str, Any]


@dataclass(slots=True)
class WaitView:
    """A task waiting for something outside the engine: an event (message, signal,
    conditional subscription), a job (timer, camunda:asyncBefore) or a worker (external)."""

    id: uuid.UUID
    instance_id: uuid.UUID
    activity_id: str
    kind: str  # message | signal | conditional | timer | async | external
    name: str | None  # the event's name; an external task's topic
    due: str | None = None
    data: dict[str, Any] | None = None  # an external task's variables (its priority)


@dataclass(slots=True)
class ActivityView:
    id: uuid.UUID
    instance_id: uuid.UUID
    activity_id: str
    activity_type: str
    ended: bool
    canceled: bool
    called_instance_id: uuid.UUID | None = None


@dataclass(slots=True)
class InstanceView:
    """The root process or one started by a call activity (its id is that task's id)."""

    id: uuid.UUID
    key: str
    super_id: uuid.UUID | None
    super_activity: uuid.UUID | None
    completed: bool
    variables: dict[str, Any] = field(default_factory=dict)
    end_activity: str | None = None


@dataclass(slots=True)
class Snapshot:
    instances: list[InstanceView]
    user_tasks: list[UserTaskView]
    waits: list[WaitView]
    activities: list[ActivityView]  # every activity reached so far


_FRONTIER = TaskState.READY | TaskState.WAITING | TaskState.STARTED
_REACHED = _FRONTIER | TaskState.COMPLETED | TaskState.ERROR
_ENDED = TaskState.COMPLETED | TaskState.ERROR | TaskState.CANCELLED


def own_tasks(workflow: Any, **filters: Any) -> list[Any]:
    """The tasks of this (sub)workflow only: Spiff's get_tasks() descends into subprocesses."""
    return [task for task in workflow.get_tasks(**filters) if task.workflow is workflow]


def instance_workflows(workflow: Any, root_id: uuid.UUID) -> dict[Any, uuid.UUID]:
    """Each (sub)workflow and the process instance it belongs to: a call activity starts a
    new instance (id = the call activity's task id); an embedded subprocess does not."""
    owner: dict[Any, uuid.UUID] = {workflow: root_id}
    for sub in workflow.subprocesses.values():  # parents come before their children
        parent = workflow.get_task_from_id(sub.parent_task_id)
        owner[sub] = sub.parent_task_id if _calls_process(parent) else owner[parent.workflow]
    return owner


def _calls_process(task: Any) -> bool:
    spec = task.task_spec
    engine: SandboxedScriptEngine = task.workflow.script_engine
    return isinstance(spec, SubWorkflowTask) and spec.spec not in engine.embedded


def snapshot(workflow: Any, root_id: uuid.UUID, root_key: str) -> Snapshot:
    engine: SandboxedScriptEngine = workflow.script_engine
    owners = instance_workflows(workflow, root_id)
    views: dict[uuid.UUID, InstanceView] = {
        root_id: InstanceView(root_id, root_key, None, None, bool(workflow.completed))
    }
    result = Snapshot(list(views.values()), [], [], [])
    for wf, instance_id in owners.items():
        if instance_id not in views:
            parent = workflow.get_task_from_id(wf.parent_task_id)
            views[instance_id] = InstanceView(
                instance_id,
                parent.task_spec.spec,
                owners[parent.workflow],
                parent.id,
                bool(wf.completed),
            )
            result.instances.append(views[instance_id])
        view = views[instance_id]
        owns_instance = wf is workflow or wf.parent_task_id == instance_id
        for task in own_tasks(wf):
            if task.state & _FRONTIER and not view.completed:
                view.variables.update(task.data)
            _project(task, instance_id, engine, result)
        if owns_instance and wf.completed:
            view.variables = dict(wf.data)
            view.end_activity = _end_activity(wf)
    return result


def _project(
    task: Any, instance_id: uuid.UUID, engine: SandboxedScriptEngine, into: Snapshot
) -> None:
    spec = task.task_spec
    bpmn_id = getattr(spec, "bpmn_id", None)
    if bpmn_id is None or not task.state & (_REACHED | TaskState.CANCELLED):
        return  # Spiff's own bookkeeping tasks, and branches not reached
    kind = _activity_type(task)
    waiting_boundary = kind == "boundaryEvent" and task.state == TaskState.WAITING
    if task.state & _REACHED and not waiting_boundary:
        into.activities.append(
            ActivityView(
                id=task.id,
                instance_id=instance_id,
                activity_id=bpmn_id,
                activity_type=kind,
                ended=bool(task.state & _ENDED),
                canceled=bool(task.state & (TaskState.CANCELLED | TaskState.ERROR)),
                called_instance_id=task.id if kind == "callActivity" else None,
            )
        )
    elif task.state == TaskState.CANCELLED:  # may have been reached in an earlier command
        into.activities.append(
            ActivityView(task.id, instance_id, bpmn_id, kind, ended=True, canceled=True)
        )
    if task.state == TaskState.READY and bpmn_id in engine.async_before:
        into.waits.append(WaitView(task.id, instance_id, bpmn_id, "async", None))
    elif task.state == TaskState.READY and bpmn_id in engine.external_topics:
        topic = engine.external_topics[bpmn_id]
        into.waits.append(
            WaitView(task.id, instance_id, bpmn_id, "external", topic, data=task.data)
        )
    elif task.state == TaskState.READY and spec.manual:
        into.user_tasks.append(
            UserTaskView(
                id=task.id,
                instance_id=instance_id,
                activity_id=bpmn_id,
                name=getattr(spec, "bpmn_name", None),
                documentation=getattr(spec, "documentation", None),
                attributes=engine.attributes.get(bpmn_id) or ActivityAttributes(),
                data=task.data,
            )
        )
    elif task.state == TaskState.WAITING and isinstance(spec, CatchingEvent):
        wait = _wait(task, instance_id)
        if wait is not None:
            into.waits.append(wait)


def _activity_type(task: Any) -> str:
    spec = task.task_spec
    name = type(spec).__name__
    if isinstance(spec, SubWorkflowTask):
        return "callActivity" if _calls_process(task) else "subProcess"
    return _ACTIVITY_TYPES.get(name, name[:1].lower() + name[1:])


def _wait(task: Any, instance_id: uuid.UUID) -> WaitView | None:
    """What a waiting catch event waits for outside the engine; None for the events only
    the engine itself throws (errors, escalations, compensation, links)."""
    definition = task.task_spec.event_definition
    bpmn_id = task.task_spec.bpmn_id
    if isinstance(definition, TimerEventDefinition):
        due = definition.details(task).value
        return WaitView(
            task.id, instance_id, bpmn_id, "timer", None, due if isinstance(due, str) else None
        )
    kind = _EVENT_KINDS.get(type(definition).__name__)
    if kind is None:
        return None
    return WaitView(task.id, instance_id, bpmn_id, kind, getattr(definition, "name", None))


_EVENT_KINDS: Final = {
    "MessageEventDefinition": "message",
    "SignalEventDefinition": "signal",
    "ConditionalEventDefinition": "conditional",
}


def _end_activity(workflow: Any) -> str | None:
    ends = [
        t.task_spec.bpmn_id
        for t in own_tasks(workflow, state=TaskState.COMPLETED)
        if type(t.task_spec).__name__ == "EndEvent"
    ]
    return ends[-1] if ends else None


def frontier_tasks(workflow: Any, instance_id: uuid.UUID, root_id: uuid.UUID) -> list[Any]:
    """The tasks whose data are instance `instance_id`'s variables (set them all to change
    a variable: the next task to run copies it from whichever branch it follows)."""
    return [
        task
        for wf, owner in instance_workflows(workflow, root_id).items()
        if owner == instance_id
        for task in own_tasks(wf)
        if task.state & _FRONTIER
    ]


@dataclass(slots=True)
class ActivityNode:
    """A node of Camunda's activity instance tree (`/process-instance/{id}/activity-instances`)."""

    id: uuid.UUID
    parent: str
    activity_id: str
    activity_type: str
    name: str | None
    children: list[ActivityNode] = field(default_factory=list)


def activity_children(
    workflow: Any, instance_id: uuid.UUID, root_id: uuid.UUID
) -> list[ActivityNode]:
    """The activities instance `instance_id` is at: waiting tasks, running subprocesses."""
    owners = instance_workflows(workflow, root_id)
    own = next(
        wf
        for wf, owner in owners.items()
        if owner == instance_id and (wf is workflow or wf.parent_task_id == instance_id)
    )
    return _children_of(workflow, own, str(instance_id))


def _children_of(top: Any, wf: Any, parent: str) -> list[ActivityNode]:
    nodes = []
    for task in own_tasks(wf, state=_FRONTIER):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        kind = _activity_type(task) if bpmn_id else None
        if bpmn_id is None or (kind == "boundaryEvent" and task.state == TaskState.WAITING):
            continue
        node = ActivityNode(
            task.id, parent, bpmn_id, kind or "", getattr(task.task_spec, "bpmn_name", None)
        )
        sub = top.subprocesses.get(task.id)
        if sub is not None and kind == "subProcess":
            node.children = _children_of(top, sub, f"{bpmn_id}:{task.id}")
        nodes.append(node)
    return nodes


def form_fields(model: ProcessModel, activity_id: str) -> dict[str, Any]:
    """A user task's camunda:formData fields and their default values."""
    specs = [model.spec, *model.embedded_specs.values()]
    for spec in specs:
        task_spec = spec.task_specs.get(activity_id)
        form = getattr(task_spec, "form", None)
        if form is not None:
            return {f.id: f.default_value or None for f in form.fields if f.id}
    return {}
