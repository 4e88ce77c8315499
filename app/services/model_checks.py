"""Deploy-time sandbox checks: a model may contain expressions, never code.

A deployed model is tenant input. Every place where Camunda would evaluate something —
sequence flow conditions, script tasks, task attributes such as `camunda:assignee="${x}"`,
timer definitions, multi-instance expressions, DMN input expressions and entries — must be in
the restricted language of `app.core.expressions`; everything that would run code on a
Camunda server (Java delegates, `camunda:expression` service tasks, listeners, external
script resources, other script languages) is refused with a 400 naming the element.
The engine evaluates with the same language at run time, so these checks are the early,
clear half of one rule, not its only guard.
"""

from __future__ import annotations

import re
from typing import Any, Final

from app.core import expressions
from app.core.errors import BadRequest

BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS: Final = "http://camunda.org/schema/1.0/bpmn"
# What a script task or condition may declare as its language.
SCRIPT_FORMATS: Final = frozenset({"", "juel", "tessera", "python", "expression"})
_CODE_ATTRIBUTES: Final = ("class", "delegateExpression", "expression", "resource")
_EXPRESSION_ATTRIBUTES: Final = (
    "assignee",
    "candidateUsers",
    "candidateGroups",
    "dueDate",
    "followUpDate",
    "priority",
    "calledElementTenantId",
    "decisionRefTenantId",
    "collection",
    "taskPriority",
)
# Elements that Camunda implements with code or, with camunda:type="external", by a worker.
_WORKER_TASKS: Final = ("serviceTask", "sendTask")
_LISTENERS: Final = ("executionListener", "taskListener")
_TIMERS: Final = ("timeDate", "timeDuration", "timeCycle")
_MULTI_INSTANCE: Final = ("loopCardinality", "completionCondition")
DMN_LANGUAGES: Final = frozenset({"juel", "feel", "http://www.omg.org/spec/feel/20140401"})
_DMN_EXPRESSIONS: Final = ("inputExpression", "inputEntry", "outputEntry")
# Timer literals as Camunda models write them, unquoted: a duration, a cycle, a date.
_ISO_TIMER: Final = re.compile(
    r"R\d*/\S+"
    r"|P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    r"|\d{4}-\d\d-\d\d([T ][\d:.]+(Z|[+-]\d\d:?\d\d)?)?"
)


def is_timer_literal(text: str) -> bool:
    """A timer definition written as an ISO 8601 literal (not an expression): deploy checks
    and the engine at run time use this one rule."""
    return _ISO_TIMER.fullmatch(text.strip()) is not None


def check_bpmn(processes: list[Any], label: str) -> None:
    """Every expression and script of the executable processes, and no code."""
    for process in processes:
        for element in process.iter():
            if not isinstance(element.tag, str):
                continue
            _check_element(element, label)


def _check_element(element: Any, label: str) -> None:
    name = _localname(element)
    where = _where(element)
    for attribute in _CODE_ATTRIBUTES:
        if element.get(f"{{{CAMUNDA_NS}}}{attribute}") is not None:
            raise BadRequest(
                f"{label}: {where} uses camunda:{attribute}: code cannot run on Tessera "
                '(use camunda:type="external" for work done by a worker)'
            )
    if name in _WORKER_TASKS:
        _check_external(element, where, label)
    if element.tag in {f"{{{CAMUNDA_NS}}}{listener}" for listener in _LISTENERS}:
        raise BadRequest(f"{label}: {where} declares a camunda:{name}: listeners cannot run code")
    for attribute in _EXPRESSION_ATTRIBUTES:
        value = element.get(f"{{{CAMUNDA_NS}}}{attribute}")
        if value is not None and ("${" in value or "#{" in value):
            _expression(value, f"{where} camunda:{attribute}", label)
    if name == "conditionExpression" or name in _MULTI_INSTANCE:
        _language(element, "language", label)
        _expression(element.text or "", where, label)
    elif name in _TIMERS and not is_timer_literal(element.text or ""):
        _expression(element.text or "", where, label)
    elif name == "scriptTask":
        _language(element, "scriptFormat", label)
        if element.get(f"{{{CAMUNDA_NS}}}resource") is not None:
            raise BadRequest(f"{label}: {where} loads an external script")
        script = element.find(f"{{{BPMN_NS}}}script")
        try:
            expressions.check_script(script.text if script is not None and script.text else "")
        except expressions.ExpressionError as exc:
            raise BadRequest(f"{label}: {where}: {exc}") from None


def _check_external(element: Any, where: str, label: str) -> None:
    """A service or send task is an external task (the only implementation Tessera runs),
    and names its topic."""
    kind = element.get(f"{{{CAMUNDA_NS}}}type")
    topic = (element.get(f"{{{CAMUNDA_NS}}}topic") or "").strip()
    if kind != "external" or not topic:
        raise BadRequest(
            f'{label}: {where} needs camunda:type="external" and a camunda:topic: service '
            "and send tasks are done by external task workers on Tessera"
        )
    if len(topic) > 255:
        raise BadRequest(f"{label}: {where} camunda:topic is longer than 255 characters")


def check_dmn(decision: Any, label: str) -> None:
    """A decision table's input expressions, input entries and output entries."""
    namespace = decision.tag[1:].split("}")[0]
    for element in decision.iter():
        if not isinstance(element.tag, str):
            continue
        language = element.get("expressionLanguage")
        if language is not None and language.strip().lower() not in DMN_LANGUAGES:
            raise BadRequest(
                f"{label}: {_where(element)} uses expression language {language!r}; only "
                "the expression language runs on Tessera (see README: Expressions)"
            )
        kind = _localname(element)
        text = element.findtext(f"{{{namespace}}}text")
        if kind not in _DMN_EXPRESSIONS or text is None or not text.strip():
            continue
        try:
            if kind == "inputEntry":
                expressions.check_unary_tests(text)
            else:
                expressions.check_expression(text)
        except expressions.ExpressionError as exc:
            raise BadRequest(f"{label}: {_where(element)}: {exc}") from None


def _expression(source: str, where: str, label: str) -> None:
    try:
        expressions.check_expression(source)
    except expressions.ExpressionError as exc:
        raise BadRequest(f"{label}: {where}: {exc}") from None


def _language(element: Any, attribute: str, label: str) -> None:
    language = (element.get(attribute) or "").strip().lower()
    if language not in SCRIPT_FORMATS:
        raise BadRequest(
            f"{label}: {_where(element)} is written in {language!r}; only the expression "
            "language runs on Tessera (see README: Expressions)"
        )


def _localname(element: Any) -> str:
    return str(element.tag).rsplit("}", 1)[-1]


def _where(element: Any) -> str:
    """The element a problem names: its own id, else the nearest ancestor's."""
    current = element
    while current is not None and current.get("id") is None:
        current = current.getparent()
    owner = f" {current.get('id')!r}" if current is not None else ""
    return f"{_localname(current if current is not None else element)}{owner}"
