"""Models and helpers for the process runtime tests."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.repository_fixtures import deployed

Headers = dict[str, str]

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_{key}" targetNamespace="http://tessera.test/bpmn">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
"""
_TAIL = """  </bpmn:process>
</bpmn:definitions>
"""


def process(key: str, body: str, name: str | None = None) -> bytes:
    return (_HEAD.format(key=key, name=name or key) + body + _TAIL).encode()


def one_task(key: str, *, name: str | None = None, task_attributes: str = "") -> bytes:
    """start -> user task `work` -> end."""
    return process(
        key,
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:userTask id="work" name="Work" {task_attributes} />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
        name,
    )


def approval(key: str = "approval") -> bytes:
    """A Camunda model with JUEL: a business rule task decides the risk; an exclusive
    gateway sends big amounts to a user task for the `managers` group."""
    return process(
        key,
        """
    <bpmn:startEvent id="start" camunda:initiator="starter" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="rate" />
    <bpmn:businessRuleTask id="rate" name="Rate" camunda:decisionRef="risk"
        camunda:resultVariable="risk" camunda:mapDecisionResult="singleEntry" />
    <bpmn:sequenceFlow id="f2" sourceRef="rate" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="auto" />
    <bpmn:sequenceFlow id="big" sourceRef="gw" targetRef="approve">
      <bpmn:conditionExpression
        >${amount &gt; 1000 &amp;&amp; risk != 'low'}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="auto" sourceRef="gw" targetRef="done" />
    <bpmn:userTask id="approve" name="Approve" camunda:candidateGroups="managers" />
    <bpmn:sequenceFlow id="f3" sourceRef="approve" targetRef="check" />
    <bpmn:exclusiveGateway id="check" default="rejected" />
    <bpmn:sequenceFlow id="ok" sourceRef="check" targetRef="done">
      <bpmn:conditionExpression>${approved}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="rejected" sourceRef="check" targetRef="refused" />
    <bpmn:endEvent id="done" />
    <bpmn:endEvent id="refused" />
""",
    )


def risk_decision(key: str = "risk", *, high: str = "high") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d_{key}" name="D"
    namespace="http://tessera.test/dmn">
  <decision id="{key}" name="Risk">
    <decisionTable id="t_{key}" hitPolicy="FIRST">
      <input id="i1" label="Amount">
        <inputExpression id="ie1" typeRef="integer"><text>amount</text></inputExpression>
      </input>
      <output id="o1" name="risk" typeRef="string" />
      <rule id="r1">
        <inputEntry id="e1"><text>&lt; 500</text></inputEntry>
        <outputEntry id="x1"><text>"low"</text></outputEntry>
      </rule>
      <rule id="r2">
        <inputEntry id="e2"><text>&gt;= 500</text></inputEntry>
        <outputEntry id="x2"><text>"{high}"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
""".encode()


async def deploy_model(
    client: httpx.AsyncClient,
    headers: Headers,
    files: dict[str, bytes],
    *,
    tenant: str | None = None,
) -> dict[str, Any]:
    return await deployed(client, headers, files, tenant=tenant)


async def start(
    client: httpx.AsyncClient,
    headers: Headers,
    key: str,
    *,
    tenant: str | None = None,
    expect: int = 200,
    **body: Any,
) -> dict[str, Any]:
    path = f"/process-definition/key/{key}" + (f"/tenant-id/{tenant}" if tenant else "")
    response = await client.post(f"{path}/start", json=body, headers=headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def typed(**values: Any) -> dict[str, dict[str, Any]]:
    """Camunda's typed variables of plain values (types inferred as Camunda does)."""
    return {name: {"value": value} for name, value in values.items()}
