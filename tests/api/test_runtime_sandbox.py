"""No model runs code on the server: what would is refused at deploy (400 naming the
element) or fails the command at run time with a problem, and never has an effect."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Deployment, HistoricProcessInstance, ProcessInstance
from tests.api.conftest import Seed, TenantMember, assert_problem
from tests.api.repository_fixtures import deploy
from tests.api.runtime_fixtures import deploy_model, process, risk_decision, start, typed

Headers = dict[str, str]


def _sentinel(tmp_path: Path) -> Path:
    return tmp_path / "escaped"


def gated(condition: str) -> bytes:
    """start -> gateway -(condition)-> end; the default flow ends too."""
    return process(
        "gated",
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="gw" />
    <bpmn:exclusiveGateway id="gw" default="other" />
    <bpmn:sequenceFlow id="guarded" sourceRef="gw" targetRef="end">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="other" sourceRef="gw" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def scripted(script: str, *, script_format: str = "python") -> bytes:
    return process(
        "scripted",
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:scriptTask id="calc" scriptFormat="{script_format}">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="wait" />
    <bpmn:userTask id="wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


async def _deployments(seed: Seed) -> int:
    async with seed() as session:
        return int(await session.scalar(select(func.count()).select_from(Deployment)) or 0)


@pytest.mark.parametrize(
    "condition",
    [
        "${__import__('os').system('touch SENTINEL')}",
        "${open('SENTINEL', 'w')}",
        "${().__class__.__bases__}",
        "__import__('os').system('touch SENTINEL')",
        "${execution.getVariable('x')}",
        "[c for c in 'abc']",
    ],
)
async def test_a_condition_that_would_run_code_is_refused_at_deploy(
    client: httpx.AsyncClient,
    tenant_a: TenantMember,
    seed: Seed,
    tmp_path: Path,
    condition: str,
) -> None:
    sentinel = _sentinel(tmp_path)
    model = gated(condition.replace("SENTINEL", str(sentinel)))
    response = await deploy(client, tenant_a.headers, {"g.bpmn": model}, tenant="T1")
    body = assert_problem(response, 400)
    assert "g.bpmn" in body["detail"] and "'guarded'" in body["detail"]
    assert await _deployments(seed) == 0
    assert not sentinel.exists()


@pytest.mark.parametrize(
    ("script", "script_format"),
    [
        ("import os", "python"),
        ("__import__('os').system('touch SENTINEL')", "python"),
        ("while True: pass", "python"),
        ("for i in range(10): x = i", "python"),
        ("def f(): pass", "python"),
        ("x = open('SENTINEL', 'w')", "python"),
        ("x = ().__class__.__bases__", "python"),
        ("execution.setVariable('x', 1)", "javascript"),
        ("x = 1", "groovy"),
    ],
)
async def test_a_script_task_outside_the_restricted_language_is_refused_at_deploy(
    client: httpx.AsyncClient,
    tenant_a: TenantMember,
    seed: Seed,
    tmp_path: Path,
    script: str,
    script_format: str,
) -> None:
    sentinel = _sentinel(tmp_path)
    model = scripted(script.replace("SENTINEL", str(sentinel)), script_format=script_format)
    response = await deploy(client, tenant_a.headers, {"s.bpmn": model}, tenant="T1")
    body = assert_problem(response, 400)
    assert "'calc'" in body["detail"]
    assert await _deployments(seed) == 0
    assert not sentinel.exists()


@pytest.mark.parametrize(
    "element",
    [
        '<bpmn:serviceTask id="calc" camunda:class="org.example.Delegate" />',
        '<bpmn:serviceTask id="calc" camunda:expression="${bean.run()}" />',
        '<bpmn:serviceTask id="calc" camunda:delegateExpression="${delegate}" />',
        '<bpmn:userTask id="calc"><bpmn:extensionElements><camunda:taskListener '
        'event="create" class="org.example.Listener" /></bpmn:extensionElements></bpmn:userTask>',
        '<bpmn:userTask id="calc" camunda:assignee="${__import__(\'os\')}" />',
    ],
)
async def test_code_in_a_task_is_refused_at_deploy(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed, element: str
) -> None:
    model = process(
        "coded",
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    {element}
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )
    response = await deploy(client, tenant_a.headers, {"c.bpmn": model}, tenant="T1")
    assert "'calc'" in assert_problem(response, 400)["detail"]
    assert await _deployments(seed) == 0


async def test_a_decision_entry_that_would_run_code_is_refused_at_deploy(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    model = risk_decision().replace(b"&lt; 500", b"__import__('os')")
    response = await deploy(client, tenant_a.headers, {"r.dmn": model}, tenant="T1")
    assert "inputEntry 'e1'" in assert_problem(response, 400)["detail"]
    assert await _deployments(seed) == 0


async def test_a_script_in_the_restricted_language_runs(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    await deploy_model(
        client,
        tenant_a.headers,
        {"s.bpmn": scripted("total = price * 2\nok = total &gt; 10")},
        tenant="T1",
    )
    started = await start(
        client, tenant_a.headers, "scripted", variables=typed(price=7), withVariablesInReturn=True
    )
    assert started["variables"]["total"]["value"] == 14
    assert started["variables"]["ok"]["value"] is True


async def test_an_endless_loop_fails_the_start_with_a_problem_and_stores_nothing(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    loop = process(
        "loop",
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="again" />
    <bpmn:exclusiveGateway id="again" />
    <bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="spin" />
    <bpmn:scriptTask id="spin"><bpmn:script>n = n + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="spin" targetRef="check" />
    <bpmn:exclusiveGateway id="check" default="back" />
    <bpmn:sequenceFlow id="out" sourceRef="check" targetRef="end">
      <bpmn:conditionExpression>${n &lt; 0}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="back" sourceRef="check" targetRef="again" />
    <bpmn:endEvent id="end" />
""",
    )
    await deploy_model(client, tenant_a.headers, {"loop.bpmn": loop}, tenant="T1")
    response = await client.post(
        "/process-definition/key/loop/start",
        json={"variables": typed(n=0)},
        headers=tenant_a.headers,
    )
    assert "endless loop" in assert_problem(response, 400)["detail"]
    async with seed() as session:
        for model in (ProcessInstance, HistoricProcessInstance):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_an_expression_failing_at_run_time_is_a_problem_naming_the_element(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    await deploy_model(client, tenant_a.headers, {"g.bpmn": gated("${amount > 10}")}, tenant="T1")
    response = await client.post(
        "/process-definition/key/gated/start", json={}, headers=tenant_a.headers
    )
    detail = assert_problem(response, 400)["detail"]
    assert "amount" in detail
    async with seed() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessInstance)) == 0
