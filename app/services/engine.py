"""The BPMN/DMN engine: SpiffWorkflow, with every model expression in the restricted language.

Pure (no database, no FastAPI): `app.services.execution` loads and stores what this module
computes. Here:

* `ProcessModel` / `DecisionModel`: a definition's XML parsed once per process into
  SpiffWorkflow specs plus the Camunda attributes Spiff does not read (candidate groups,
  assignee, result variables, call activity bindings); cached by definition id, since a
  deployed definition never changes.
* `SandboxedScriptEngine`: Spiff calls it for conditions, scripts, DMN entries and timer
  expressions. It evaluates them with `app.core.expressions` — never Python's eval/exec —
  so a model cannot run code on the server (DESIGN: "a deployed model is tenant input").
  Service tasks that would call Python are refused.
* `run()`: Spiff's engine loop, bounded in steps, so an endless loop in a model fails the
  command with a problem instead of spinning a worker.
* What the API shows of a workflow (instances, tasks, variables ...) is computed in
  `app.services.workflow_views`.
* `serialize()` / `restore()`: the workflow's state as JSON, without the spec (the spec
  comes from the cache on restore, which keeps the state small and restores cheap).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from lxml import etree
from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEndEventParser
from SpiffWorkflow.camunda.parser.task_spec import BusinessRuleTaskParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.business_rule_task import BusinessRuleTask
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from app.core import expressions
from app.core.errors import BadRequest
from app.services.definitions_parser import hardened_xml_parser
from app.services.model_checks import is_timer_literal

CAMUNDA_NS: Final = "http://camunda.org/schema/1.0/bpmn"
BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MAX_STEPS: Final = 500  # engine steps in one command before it is called an endless loop
# SpiffWorkflow's task iterator stops at depth 1,000: a deeper tree would leave ready work
# unseen and the instance silently stuck. Bounding the task count keeps the depth below it.
MAX_TASKS: Final = 900
MODEL_CACHE_SIZE: Final = 512


class ModelError(BadRequest):
    """The model cannot run as asked (an expression failed, an endless loop, a missing
    decision). Raised inside a command: the unit of work rolls back, nothing changes."""


# --------------------------------------------------------------------------- parsed models


@dataclass(frozen=True, slots=True)
class Binding:
    """How a call activity or business rule task picks the version it references
    (`camunda:calledElementBinding` / `decisionRefBinding` and their companions)."""

    binding: str = "latest"  # latest | deployment | version | versionTag
    version: str | None = None
    version_tag: str | None = None
    tenant_id: str | None = None  # as written: a tenant id or an expression


@dataclass(frozen=True, slots=True)
class ActivityAttributes:
    """Camunda attributes of one BPMN element, as written in the model."""

    assignee: str | None = None
    candidate_groups: str | None = None
    candidate_users: str | None = None
    priority: str | None = None
    due_date: str | None = None
    follow_up_date: str | None = None
    form_key: str | None = None
    decision_ref: str | None = None
    decision_ref_binding: Binding | None = None
    result_variable: str | None = None
    map_decision_result: str = "resultList"
    called_element: str | None = None
    called_element_binding: Binding | None = None
    initiator: str | None = None  # start event: the variable that receives the starting user
    task_priority: str | None = None  # external task: camunda:taskPriority
    retry_cycle: str | None = None  # camunda:failedJobRetryTimeCycle, e.g. "R5/PT10M"


@dataclass(frozen=True, slots=True)
class ProcessModel:
    key: str
    spec: Any  # BpmnProcessSpec
    embedded_specs: Mapping[str, Any]  # embedded subprocesses by element id
    attributes: Mapping[str, ActivityAttributes]  # by element id, embedded ones included
    # camunda:asyncBefore: the engine stops before these, a job of the instance continues.
    async_before: frozenset[str]
    # camunda:type="external" service/send tasks: element id -> topic. The engine stops when
    # one is ready; a worker completes it (fetchAndLock, complete).
    external_topics: Mapping[str, str]
    names: Mapping[str, str | None]  # element id -> name, for history


@dataclass(frozen=True, slots=True)
class DecisionModel:
    definition_id: str
    key: str
    name: str | None
    table: Any  # Spiff's DecisionTable
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]


class _LruCache:
    """A small thread-safe LRU of parsed models (immutable, shared by all tenants' commands)."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_process_models = _LruCache(MODEL_CACHE_SIZE)
_decision_models = _LruCache(MODEL_CACHE_SIZE)


def cached_process_model(definition_id: str) -> ProcessModel | None:
    model: ProcessModel | None = _process_models.get(definition_id)
    return model


def cached_decision_model(definition_id: str) -> DecisionModel | None:
    model: DecisionModel | None = _decision_models.get(definition_id)
    return model


class SandboxedBusinessRuleTask(BusinessRuleTask):  # type: ignore[misc]  # untyped base
    """A business rule task whose decision is resolved per tenant when it runs (C8, E1):
    the command's script engine holds the decisions resolved for the instance's tenant."""

    def _run_hook(self, my_task: Any) -> bool:
        engine: SandboxedScriptEngine = my_task.workflow.script_engine
        engine.run_business_rule(my_task)
        return True


class _NoEngineBusinessRuleParser(BusinessRuleTaskParser):  # type: ignore[misc]
    def create_task(self) -> Any:
        return SandboxedBusinessRuleTask(
            self.spec, self.bpmn_id, dmnEngine=None, **self.bpmn_attributes
        )


class _SignalEndEventParser(CamundaEndEventParser):  # type: ignore[misc]  # untyped base
    """Spiff's end event parser reads no signal definition: a signal end event would end
    silently. This one reads it too, so the end event throws its signal (D5)."""

    def create_task(self) -> Any:
        event_definition = self.get_event_definition(
            [
                MESSAGE_EVENT_XPATH,
                SIGNAL_EVENT_XPATH,
                CANCEL_EVENT_XPATH,
                ERROR_EVENT_XPATH,
                ESCALATION_EVENT_XPATH,
                TERMINATION_EVENT_XPATH,
            ]
        )
        task = self._create_task(event_definition)
        task.connect(self.spec.end)
        return task


class _EngineParser(CamundaParser):  # type: ignore[misc]  # untyped base
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        f"{{{BPMN_NS}}}businessRuleTask": (_NoEngineBusinessRuleParser, SandboxedBusinessRuleTask),
        f"{{{BPMN_NS}}}endEvent": (_SignalEndEventParser, EndEvent),
    }


def parse_process_model(definition_id: str, key: str, xml: str) -> ProcessModel:
    """Parse (or take from the cache) the process `key` of a deployed BPMN resource."""
    cached = cached_process_model(definition_id)
    if cached is not None:
        return cached
    root = etree.fromstring(xml.encode("utf-8"), _xml_parser())
    parser = _EngineParser()
    parser.add_bpmn_xml(etree.ElementTree(root), filename=key)
    with _spiff_errors():
        spec = parser.get_spec(key)
        process = next(p for p in root.iter(f"{{{BPMN_NS}}}process") if p.get("id") == key)
        embedded_ids = [
            sub.get("id")
            for tag in ("subProcess", "transaction")
            for sub in process.iter(f"{{{BPMN_NS}}}{tag}")
        ]
        embedded = {sid: parser.get_spec(sid) for sid in embedded_ids if sid}
    attributes = {
        element.get("id"): _attributes(element)
        for element in process.iter()
        if isinstance(element.tag, str) and element.get("id")
    }
    specs = [spec, *embedded.values()]
    _plain_messages(specs)
    async_before = _async_before(process, specs)
    model = ProcessModel(
        key=key,
        spec=spec,
        embedded_specs=embedded,
        attributes=attributes,
        async_before=async_before,
        external_topics=_external_topics(process, specs),
        names={
            element.get("id"): element.get("name")
            for element in process.iter()
            if isinstance(element.tag, str) and element.get("id")
        },
    )
    _process_models.put(definition_id, model)
    return model


def _plain_messages(specs: list[Any]) -> None:
    """Camunda's message definitions in Spiff put a correlated message's payload into one
    `<task>_Response` variable; Camunda sets the correlation's process variables. The
    plain BPMN definition does that (its payload is the variables), so every message event
    of a parsed model uses it."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if isinstance(definition, MessageEventDefinition) and (
                type(definition) is not MessageEventDefinition
            ):
                task_spec.event_definition = MessageEventDefinition(
                    definition.name, definition.correlation_properties
                )


def _async_before(process: Any, specs: list[Any]) -> frozenset[str]:
    """Elements with camunda:asyncBefore="true" (user tasks excepted: they wait anyway).

    SpiffWorkflow has no asynchronous continuations; marking the spec `manual` makes its
    engine loop stop when the task is ready, exactly where Camunda commits and leaves the
    rest to a job. The spec is this definition's own (the parse is cached per definition).
    """
    found = set()
    for element in process.iter():
        if (
            not isinstance(element.tag, str)
            or element.get(f"{{{CAMUNDA_NS}}}asyncBefore") != "true"
        ):
            continue
        if etree.QName(element).localname == "userTask":
            continue
        for spec in specs:
            task_spec = spec.task_specs.get(element.get("id"))
            if task_spec is not None:
                task_spec.manual = True
                found.add(element.get("id"))
    return frozenset(found)


def _external_topics(process: Any, specs: list[Any]) -> dict[str, str]:
    """External tasks and their topics; their specs become manual, like `_async_before`:
    Spiff's engine loop stops when one is ready, a worker's completion runs it."""
    found = {}
    for element in process.iter():
        if (
            not isinstance(element.tag, str)
            or element.get(f"{{{CAMUNDA_NS}}}type") != "external"
            or not element.get("id")
        ):
            continue
        for spec in specs:
            task_spec = spec.task_specs.get(element.get("id"))
            if task_spec is not None:
                task_spec.manual = True
                found[element.get("id")] = (element.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
    return found


def _attributes(element: Any) -> ActivityAttributes:
    def camunda(name: str) -> str | None:
        value = element.get(f"{{{CAMUNDA_NS}}}{name}")
        return value.strip() if isinstance(value, str) and value.strip() else None

    called = (
        element.get("calledElement") if etree.QName(element).localname == "callActivity" else None
    )
    return ActivityAttributes(
        assignee=camunda("assignee"),
        candidate_groups=camunda("candidateGroups"),
        candidate_users=camunda("candidateUsers"),
        priority=camunda("priority"),
        due_date=camunda("dueDate"),
        follow_up_date=camunda("followUpDate"),
        form_key=camunda("formKey"),
        decision_ref=camunda("decisionRef"),
        decision_ref_binding=_binding(camunda, "decisionRef"),
        result_variable=camunda("resultVariable"),
        map_decision_result=camunda("mapDecisionResult") or "resultList",
        called_element=called,
        called_element_binding=_binding(camunda, "calledElement"),
        initiator=camunda("initiator"),
        task_priority=camunda("taskPriority"),
        retry_cycle=_retry_cycle(element),
    )


def _retry_cycle(element: Any) -> str | None:
    found = element.find(f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}failedJobRetryTimeCycle")
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _binding(camunda: Any, prefix: str) -> Binding:
    return Binding(
        binding=camunda(f"{prefix}Binding") or "latest",
        version=camunda(f"{prefix}Version"),
        version_tag=camunda(f"{prefix}VersionTag"),
        tenant_id=camunda(f"{prefix}TenantId"),
    )


def parse_decision_model(definition_id: str, key: str, xml: str) -> DecisionModel:
    cached = cached_decision_model(definition_id)
    if cached is not None:
        return cached
    root = etree.fromstring(xml.encode("utf-8"), _xml_parser())
    namespace = etree.QName(root).namespace
    element = next(d for d in root.iterchildren(f"{{{namespace}}}decision") if d.get("id") == key)
    # Spiff's DMN parser reads the first decision of a document: give it this one alone.
    single = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
    single.append(element)
    parser = CamundaParser()
    parser.add_dmn_xml(single, filename=key)
    with _spiff_errors():
        dmn = parser.dmn_parsers[key]
        dmn.parse()
        table = dmn.decision.decisionTables[0]
    model = DecisionModel(
        definition_id=definition_id,
        key=key,
        name=element.get("name"),
        table=table,
        input_names=tuple(i.label or i.name or i.expression or "" for i in table.inputs),
        output_names=tuple(o.name or o.label or "" for o in table.outputs),
    )
    _decision_models.put(definition_id, model)
    return model


def _xml_parser() -> Any:
    # The resource passed the deploy-time checks; parse it with the same hardening anyway.
    return hardened_xml_parser()


# --------------------------------------------------------------------------- evaluation


@dataclass(slots=True)
class DecisionEvaluation:
    """One decision evaluated inside a command, for the history (E2)."""

    decision: DecisionModel
    activity_id: str | None
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    workflow: Any = None  # the (sub)workflow of the business rule task; None over the API


class _SandboxedDMNEngine(DMNEngine):  # type: ignore[misc]  # untyped base
    """Spiff's hit-policy logic; every input entry matched with the restricted language."""

    def evaluate(self, input_expr: str, match_expr: str | None, task: Any) -> bool:
        if match_expr is None:
            return True
        data = task.workflow.script_engine.variables_of(task)
        value = expressions.evaluate(input_expr, data) if input_expr else None
        return expressions.matches_unary_tests(value, match_expr, data)


class SandboxedScriptEngine(PythonScriptEngine):  # type: ignore[misc]  # untyped base
    """Spiff's script engine, without Python: one instance per command.

    `decisions` are the decisions of this command's business rule tasks (by element id),
    resolved beforehand in the instance's tenant (effective definitions, E1/C8). `facts`
    are what `${execution.x}` may read.
    """

    def __init__(
        self,
        *,
        decisions: Mapping[str, DecisionModel] | None = None,
        facts: Mapping[str, Any] | None = None,
        attributes: Mapping[str, ActivityAttributes] | None = None,
        embedded: frozenset[str] = frozenset(),
        async_before: frozenset[str] = frozenset(),
        external_topics: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(environment=None)
        self.decisions = dict(decisions or {})
        self.facts = dict(facts or {})
        self.attributes = attributes or {}
        self.embedded = embedded  # element ids of embedded subprocesses (not instances)
        self.async_before = async_before  # element ids that wait for a job
        self.external_topics = external_topics or {}  # element ids that wait for a worker
        self.evaluations: list[DecisionEvaluation] = []
        # Signals thrown in this command (name, payload), for the other instances (D5).
        self.thrown_signals: list[tuple[str, dict[str, Any]]] = []

    def variables_of(self, task: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {"execution": self.facts, **task.data, **(extra or {})}

    def validate(self, expression: str) -> None:
        try:
            expressions.check_expression(expression)
        except expressions.ExpressionError as exc:
            raise SyntaxError(str(exc)) from None

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        text = expression.strip()
        if is_timer_literal(text):  # Camunda writes timer literals without quotes
            return text
        try:
            return expressions.evaluate(text, self.variables_of(task, external_context))
        except expressions.ExpressionError as exc:
            raise _model_error(task, f"expression {expression!r}: {exc}") from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        try:
            task.data.update(expressions.run_script(script, self.variables_of(task)))
        except expressions.ExpressionError as exc:
            raise _model_error(task, f"script: {exc}") from None
        return True

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise _model_error(task, "service tasks that call the server are not supported")

    def run_business_rule(self, task: Any) -> None:
        spec = task.task_spec
        attributes = self.attributes.get(spec.bpmn_id) or ActivityAttributes()
        decision = self.decisions.get(spec.bpmn_id)
        if decision is None:
            raise _model_error(task, f"decision {attributes.decision_ref!r} is not deployed")
        matched = self.decide(decision, task)
        result = map_decision_result(matched, attributes.map_decision_result)
        if attributes.result_variable:
            task.data[attributes.result_variable] = result
        elif matched:  # no result variable: the first rule's outputs become variables
            task.data.update(matched[0])

    def decide(self, decision: DecisionModel, task: Any) -> list[dict[str, Any]]:
        """The outputs of every matched rule, recorded for the decision history."""
        engine = _SandboxedDMNEngine(decision.table)
        try:
            rules = engine.decide(task)
            matched = [rule.output_as_dict(task) for rule in rules]
            inputs = [
                {"name": name, "value": expressions.evaluate(i.expression, self.variables_of(task))}
                for name, i in zip(decision.input_names, decision.table.inputs, strict=True)
                if i.expression
            ]
        except expressions.ExpressionError as exc:
            raise _model_error(task, f"decision {decision.key!r}: {exc}") from None
        except SpiffWorkflowException as exc:
            raise _model_error(task, f"decision {decision.key!r}: {_spiff_message(exc)}") from None
        self.evaluations.append(
            DecisionEvaluation(
                decision=decision,
                activity_id=getattr(task.task_spec, "bpmn_id", None),
                inputs=inputs,
                outputs=[{"ruleOrder": n, "outputs": out} for n, out in enumerate(matched, 1)],
                workflow=getattr(task, "workflow", None) if task.task_spec is not None else None,
            )
        )
        return [dict(out) for out in matched]


def map_decision_result(matched: list[dict[str, Any]], mapping: str) -> Any:
    """Camunda's `camunda:mapDecisionResult`."""
    if mapping == "resultList":
        return matched
    if mapping == "collectEntries":
        if any(len(out) != 1 for out in matched):
            raise ModelError("collectEntries needs exactly one output per rule.")
        return [next(iter(out.values())) for out in matched]
    if len(matched) > 1:
        raise ModelError(f"{mapping} needs at most one matched rule, {len(matched)} matched.")
    if mapping == "singleResult":
        return matched[0] if matched else None
    if mapping == "singleEntry":
        if matched and len(matched[0]) != 1:
            raise ModelError("singleEntry needs exactly one output.")
        return next(iter(matched[0].values())) if matched else None
    raise ModelError(f"unknown mapDecisionResult {mapping!r}")


class _StandaloneTask:
    """What Spiff's DMN engine needs of a task when a decision is evaluated over the API."""

    def __init__(self, data: dict[str, Any], engine: SandboxedScriptEngine) -> None:
        self.data = data
        self.workflow = self
        self.script_engine = engine
        self.task_spec = None


def evaluate_decision(
    decision: DecisionModel, variables: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], DecisionEvaluation]:
    """`POST /decision-definition/.../evaluate`: the matched rules' outputs."""
    engine = SandboxedScriptEngine()
    matched = engine.decide(decision, _StandaloneTask(dict(variables), engine))
    return matched, engine.evaluations[-1]


def _model_error(task: Any, message: str) -> ModelError:
    element = getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    return ModelError(f"{element}: {message}" if element else message)


def _spiff_message(exc: SpiffWorkflowException) -> str:
    return " ".join([str(exc.args[0] if exc.args else exc), *getattr(exc, "notes", [])])[:500]


@contextmanager
def _spiff_errors() -> Iterator[None]:
    """SpiffWorkflow's own errors (a bad model, a failed gateway) as a 400 problem."""
    try:
        yield
    except SpiffWorkflowException as exc:
        raise ModelError(_spiff_message(exc)) from None


# --------------------------------------------------------------------------- running


def new_workflow(
    model: ProcessModel, subprocess_specs: Mapping[str, Any], engine: SandboxedScriptEngine
) -> Any:
    workflow = BpmnWorkflow(model.spec, dict(subprocess_specs), script_engine=engine)
    _record_signals(workflow, engine)
    return workflow


def _record_signals(workflow: Any, engine: SandboxedScriptEngine) -> None:
    """Every signal thrown inside the workflow passes through its top workflow's `catch`:
    record it there (Spiff delivers it inside this workflow itself; the other instances of
    the tenant get it from `app.services.execution`)."""
    catch = workflow.catch

    def recording_catch(event: Any) -> None:
        if isinstance(event.event_definition, SignalEventDefinition):
            engine.thrown_signals.append((event.event_definition.name, dict(event.payload or {})))
        catch(event)

    workflow.catch = recording_catch


def set_start_variables(workflow: Any, variables: Mapping[str, Any]) -> None:
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(variables)


def run(workflow: Any) -> None:
    """Run until every branch waits (user task, timer, message ...) or the process ends.

    Bounded: more than MAX_STEPS steps in one command is taken for an endless loop, and the
    command fails (rolled back) with a problem naming the element it was at.
    """
    steps = 0

    def count(task: Any) -> None:
        nonlocal steps
        steps += 1
        if steps > MAX_STEPS:
            raise _model_error(
                task, f"more than {MAX_STEPS} steps without waiting (an endless loop?)"
            )

    with _spiff_errors():
        try:
            workflow.do_engine_steps(will_complete_task=count)
        except RecursionError:
            raise ModelError("the model nests too deeply to run") from None
    tasks = len(workflow.tasks) + sum(len(sub.tasks) for sub in workflow.subprocesses.values())
    if tasks > MAX_TASKS:
        raise ModelError(
            f"the instance would hold more than {MAX_TASKS} task states (a loop that never "
            "ends?); Tessera refuses it rather than lose track of it"
        )


def complete_task(workflow: Any, task_id: uuid.UUID, variables: Mapping[str, Any]) -> None:
    """Complete a waiting user task or external task with `variables`, and run on."""
    task = workflow.get_task_from_id(task_id)
    task.data.update(variables)
    with _spiff_errors():
        task.run()
        if task.state == TaskState.STARTED:  # a service task's hook leaves it running
            task.complete()
    run(workflow)


DEFAULT_JOB_RETRIES: Final = 3
DEFAULT_FIRST_RETRY_DELAY: Final = timedelta(seconds=10)
_RETRY_CYCLE: Final = re.compile(r"R(\d+)/(P\S+)")


def retry_policy(cycle: str | None, attempt: int) -> tuple[int, timedelta]:
    """(retries a new job gets, the delay before retry number `attempt`)."""
    match = _RETRY_CYCLE.fullmatch(cycle or "")
    if match is None:
        return DEFAULT_JOB_RETRIES, DEFAULT_FIRST_RETRY_DELAY * (2 ** max(attempt - 1, 0))
    delay = _duration(match.group(2))
    if delay is None:
        delay = DEFAULT_FIRST_RETRY_DELAY
    return int(match.group(1)), delay


def _duration(text: str) -> timedelta | None:
    found = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text)
    if found is None:
        return None
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def continue_job(workflow: Any, task_id: uuid.UUID, kind: str) -> None:
    """A due job of the instance: a timer fires (whatever the clock says: the job row is
    what decided it is due), an asyncBefore continuation runs its activity; run on."""
    task = workflow.get_task_from_id(task_id)
    with _spiff_errors():
        if kind == "timer":
            task._set_internal_data(event_fired=True)
            task.task_spec._update(task)
        else:
            task.run()
            if task.state == TaskState.STARTED:
                task.complete()
    run(workflow)


def start_at_event(workflow: Any, kind: str, name: str, variables: Mapping[str, Any]) -> None:
    """Start a new workflow at its message/signal start event `name` (Camunda starts an
    instance at exactly one start event): the other start events are cancelled before the
    engine runs, then the event is delivered to the one that waits for it."""
    starts = [
        task
        for task in workflow.get_tasks()
        if task.workflow is workflow and type(task.task_spec).__name__ == "StartEvent"
    ]
    chosen = [task for task in starts if _waits_for(task.task_spec, kind, name)]
    if not chosen:
        raise ModelError(f"the process has no {kind} start event for {name!r}")
    for task in starts:
        if task is not chosen[0]:
            task.cancel()
    run(workflow)
    deliver_event(workflow, chosen[0].id, kind, name, variables)


def _waits_for(spec: Any, kind: str, name: str) -> bool:
    definition = getattr(spec, "event_definition", None)
    wanted = MessageEventDefinition if kind == "message" else SignalEventDefinition
    return isinstance(definition, wanted) and definition.name == name


def deliver_event(
    workflow: Any, task_id: uuid.UUID, kind: str, name: str, variables: Mapping[str, Any]
) -> None:
    """A message or signal for one waiting catch event (the subscription `task_id`), with
    `variables` set on the instance; run on."""
    task = workflow.get_task_from_id(task_id)
    definition = (MessageEventDefinition if kind == "message" else SignalEventDefinition)(name)
    event = BpmnEvent(definition, payload=dict(variables))
    with _spiff_errors():
        task.task_spec.catch(task, event)
        task.task_spec._update(task)
    run(workflow)


def throw_bpmn_error(
    workflow: Any, task_id: uuid.UUID, code: str, variables: Mapping[str, Any]
) -> bool:
    """A worker's BPMN error on external task `task_id`: the nearest error boundary event
    whose code matches (or that catches every code) takes it. False when none does — the
    caller refuses the command rather than end the instance silently."""
    task = workflow.get_task_from_id(task_id)
    task.data.update(variables)
    event = BpmnEvent(
        ErrorEventDefinition(code, code=code), payload=dict(variables), target=task.workflow
    )
    with _spiff_errors():
        workflow.catch(event)
    run(workflow)  # an interrupting boundary event cancels the task when the engine runs
    return bool(task.state != TaskState.READY)


_serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))


def serialize(workflow: Any) -> str:
    """The workflow's state as JSON, without its specs (they come from the model cache)."""
    _serializer.registry._encoder_mode = True
    try:
        state = _serializer.to_dict(workflow)
    finally:
        _serializer.registry._encoder_mode = False
    state.pop("spec")
    state.pop("subprocess_specs")
    return json.dumps(state, default=_json_default, separators=(",", ":"))


def restore(
    state: str, model: ProcessModel, subprocess_specs: Mapping[str, Any], engine: Any
) -> Any:
    data = json.loads(state)
    # Spec objects pass through Spiff's registry unchanged: the cached ones are used as is.
    data["spec"] = model.spec
    data["subprocess_specs"] = dict(subprocess_specs)
    workflow = _serializer.from_dict(data)
    workflow.script_engine = engine
    _record_signals(workflow, engine)
    return workflow


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
