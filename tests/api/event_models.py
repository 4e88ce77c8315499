"""BPMN models for the message, signal and external task tests."""

from __future__ import annotations

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_{key}" targetNamespace="http://tessera.test/bpmn">
  <bpmn:message id="msg" name="{event}" />
  <bpmn:signal id="sig" name="{event}" />
  <bpmn:error id="err" errorCode="{event}" />
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
"""
_TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def _model(key: str, event: str, body: str, name: str | None = None) -> bytes:
    return (_HEAD.format(key=key, event=event, name=name or key) + body + _TAIL).encode()


def catch_message(key: str, message: str = "order", *, name: str | None = None) -> bytes:
    """start -> message catch `wait` -> user task `after` -> end."""
    return _model(
        key,
        message,
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
        message,
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
        signal,
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
        signal,
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
        signal,
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
        error_code,
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
