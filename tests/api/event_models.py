"""BPMN models for the message, signal and external task tests: Tessera's own (a user task
`after` once the event arrived), and Camunda's test models (`camunda_*`,
`MESSAGE_START_PROCESS`, `twoExternalTaskProcess.bpmn20.xml`, ...) as Tessera deploys them.
Messages, signals and errors are declared at definitions level, beside the process."""

from __future__ import annotations

from typing import Literal

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_{key}" targetNamespace="http://tessera.test/bpmn">
{root}
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
"""
_TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def _model(key: str, root: str, body: str, name: str | None = None) -> bytes:
    """A process `key` with `root` (messages, signals, errors) declared beside it."""
    return (_HEAD.format(key=key, root=root, name=name or key) + body + _TAIL).encode()


def _events(name: str) -> str:
    """A message `msg`, a signal `sig` and an error `err`, all called `name`."""
    return (
        f'  <bpmn:message id="msg" name="{name}" />\n'
        f'  <bpmn:signal id="sig" name="{name}" />\n'
        f'  <bpmn:error id="err" errorCode="{name}" />'
    )


def catch_message(key: str, message: str = "order", *, name: str | None = None) -> bytes:
    """start -> message catch `wait` -> user task `after` -> end."""
    return _model(
        key,
        _events(message),
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:messageEventDefinition messageRef="msg" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after" />
    <bpmn:userTask id="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
        name,
    )


def message_start(key: str, message: str = "order", *, name: str | None = None) -> bytes:
    """message start `start` -> user task `after` -> end."""
    return _model(
        key,
        _events(message),
        """
    <bpmn:startEvent id="start">
      <bpmn:messageEventDefinition messageRef="msg" />
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="after" />
    <bpmn:userTask id="after" />
    <bpmn:sequenceFlow id="f2" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
        name,
    )


def catch_signal(key: str, signal: str = "alarm") -> bytes:
    """start -> signal catch `wait` -> user task `after` -> end."""
    return _model(
        key,
        _events(signal),
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after" />
    <bpmn:userTask id="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def signal_start(key: str, signal: str = "alarm") -> bytes:
    """signal start -> user task `after` -> end."""
    return _model(
        key,
        _events(signal),
        """
    <bpmn:startEvent id="start">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="after" />
    <bpmn:userTask id="after" />
    <bpmn:sequenceFlow id="f2" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def throw_signal(key: str, signal: str = "alarm") -> bytes:
    """start -> user task `go` -> signal throw -> end: completing `go` throws the signal."""
    return _model(
        key,
        _events(signal),
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="go" />
    <bpmn:userTask id="go" />
    <bpmn:sequenceFlow id="f2" sourceRef="go" targetRef="throw" />
    <bpmn:intermediateThrowEvent id="throw">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="throw" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def external(
    key: str, topic: str = "work", *, error_code: str = "BAD", priority: str = ""
) -> bytes:
    """start -> external task `ext` (topic) -> user task `after` -> end; a BPMN error
    `error_code` on `ext` goes to user task `handle`."""
    attributes = f' camunda:taskPriority="{priority}"' if priority else ""
    return _model(
        key,
        _events(error_code),
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ext" />
    <bpmn:serviceTask id="ext" camunda:type="external" camunda:topic="{topic}"{attributes} />
    <bpmn:boundaryEvent id="oops" attachedToRef="ext">
      <bpmn:errorEventDefinition errorRef="err" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="ext" targetRef="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="oops" targetRef="handle" />
    <bpmn:userTask id="after" />
    <bpmn:userTask id="handle" />
    <bpmn:sequenceFlow id="f4" sourceRef="after" targetRef="end" />
    <bpmn:sequenceFlow id="f5" sourceRef="handle" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


# --------------------------------------------------------------------------- Camunda's models

MESSAGE = "message"  # Camunda's message name in these tests
SIGNAL = "signal"  # ... and signal name
TOPIC = "externalTaskTopic"
ERROR_CODE = "ERROR-OCCURED"  # sic, as Camunda spells it


def _message(name: str) -> str:
    return f'  <bpmn:message id="msg" name="{name}" />'


def _signal(name: str) -> str:
    return f'  <bpmn:signal id="sig" name="{name}" />'


def camunda_message_start(key: str = "messageStart", *, message: str = MESSAGE) -> bytes:
    """Camunda's MESSAGE_START_PROCESS: message start event -> user task `task` -> end."""
    return _model(
        key,
        _message(message),
        """
    <bpmn:startEvent id="start">
      <bpmn:messageEventDefinition messageRef="msg" />
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:userTask id="task" name="Task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def camunda_message_catch(key: str = "messageCatch", *, message: str = MESSAGE) -> bytes:
    """Camunda's MESSAGE_CATCH_PROCESS: start -> message catch `wait` -> user task `task`."""
    return _model(
        key,
        _message(message),
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:messageEventDefinition messageRef="msg" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="task" />
    <bpmn:userTask id="task" name="Task" />
    <bpmn:sequenceFlow id="f3" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def camunda_signal_start(key: str = "signalStart", *, signal: str = SIGNAL) -> bytes:
    """Camunda's SIGNAL_START_PROCESS: signal start event -> user task `task` -> end."""
    return _model(
        key,
        _signal(signal),
        """
    <bpmn:startEvent id="start">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="task" />
    <bpmn:userTask id="task" name="Task" />
    <bpmn:sequenceFlow id="f2" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def camunda_signal_catch(key: str = "signalCatch", *, signal: str = SIGNAL) -> bytes:
    """Camunda's SIGNAL_CATCH_PROCESS: start -> signal catch `wait` -> user task `task`."""
    return _model(
        key,
        _signal(signal),
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="task" />
    <bpmn:userTask id="task" name="Task" />
    <bpmn:sequenceFlow id="f3" sourceRef="task" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def camunda_signal_throw(
    key: str = "signalThrow", *, at: Literal["intermediate", "end"], signal: str = SIGNAL
) -> bytes:
    """Camunda's SIGNAL_INTERMEDIATE_THROW_PROCESS (start -> signal throw -> end) or
    SIGNAL_END_THROW_PROCESS (start -> signal end event)."""
    if at == "intermediate":
        body = """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="throw" />
    <bpmn:intermediateThrowEvent id="throw">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:intermediateThrowEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="throw" targetRef="end" />
    <bpmn:endEvent id="end" />
"""
    else:
        body = """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end">
      <bpmn:signalEventDefinition signalRef="sig" />
    </bpmn:endEvent>
"""
    return _model(key, _signal(signal), body)


def two_external_tasks(key: str = "twoExternalTaskProcess", *, topic: str = TOPIC) -> bytes:
    """Camunda's twoExternalTaskProcess.bpmn20.xml: start -> external task `externalTask` ->
    user task `afterExternalTask` -> end; the error ERROR-OCCURED on the external task leads to
    user task `afterBpmnError`."""
    return _model(
        key,
        f'  <bpmn:error id="myError" errorCode="{ERROR_CODE}" name="name of error" />',
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="externalTask" />
    <bpmn:serviceTask id="externalTask" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="f2" sourceRef="externalTask" targetRef="afterExternalTask" />
    <bpmn:userTask id="afterExternalTask" />
    <bpmn:sequenceFlow id="f3" sourceRef="afterExternalTask" targetRef="end" />
    <bpmn:endEvent id="end" />
    <bpmn:boundaryEvent id="catchError" attachedToRef="externalTask">
      <bpmn:errorEventDefinition errorRef="myError" />
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="catchError" targetRef="afterBpmnError" />
    <bpmn:userTask id="afterBpmnError" />
    <bpmn:sequenceFlow id="f5" sourceRef="afterBpmnError" targetRef="end2" />
    <bpmn:endEvent id="end2" />
""",
    )


def one_external_task(key: str = "oneExternalTaskProcess", *, topic: str = TOPIC) -> bytes:
    """Camunda's oneExternalTaskProcess.bpmn20.xml: start -> external task -> end."""
    return _model(
        key,
        "",
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="externalTask" />
    <bpmn:serviceTask id="externalTask" camunda:type="external" camunda:topic="{topic}" />
    <bpmn:sequenceFlow id="f2" sourceRef="externalTask" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )
