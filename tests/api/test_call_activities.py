"""Call activities resolve the called key in the instance's tenant (C8), and the called
instance is a process instance of its own in that tenant."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.conftest import TenantMember, assert_problem
from tests.api.runtime_fixtures import (
    approval,
    deploy_model,
    one_task,
    process,
    risk_decision,
    start,
    typed,
)

Headers = dict[str, str]


def caller(key: str = "parent", *, tenant_attribute: str = "") -> bytes:
    """start -> call `child` -> user task `after` -> end."""
    return process(
        key,
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call" />
    <bpmn:callActivity id="call" name="Call child" calledElement="child" {tenant_attribute} />
    <bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="after" />
    <bpmn:userTask id="after" name="After" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


async def _get(client: httpx.AsyncClient, path: str, headers: Headers, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_c8_a_call_activity_calls_the_effective_definition_of_the_instances_tenant(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await deploy_model(client, admin, {"parent.bpmn": caller(), "child.bpmn": one_task("child")})
    own = await deploy_model(
        client, admin, {"child.bpmn": one_task("child", name="T1 child")}, tenant="T1"
    )
    own_child = next(iter(own["deployedProcessDefinitions"]))
    for member, expected in ((tenant_a, own_child), (tenant_b, None)):
        parent = await start(client, member.headers, "parent", variables=typed(order=7))
        [sub] = await _get(
            client, "/process-instance", member.headers, superProcessInstance=parent["id"]
        )
        assert sub["tenantId"] == member.tenant_id
        if expected is not None:
            assert sub["definitionId"] == expected
        else:
            assert sub["definitionId"].startswith("child:1:")
        [task] = await _get(client, "/task", member.headers)
        assert (task["processInstanceId"], task["taskDefinitionKey"]) == (sub["id"], "work")
        assert task["tenantId"] == member.tenant_id


async def test_c8_completing_the_called_process_continues_the_caller(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    headers = tenant_a.headers
    await deploy_model(
        client, headers, {"parent.bpmn": caller(), "child.bpmn": one_task("child")}, tenant="T1"
    )
    parent = await start(client, headers, "parent", variables=typed(order=7))
    [task] = await _get(client, "/task", headers)
    done = await client.post(f"/task/{task['id']}/complete", json={}, headers=headers)
    assert done.status_code == 204, done.text
    assert await _get(client, "/process-instance", headers, superProcessInstance=parent["id"]) == []
    [after] = await _get(client, "/task", headers)
    assert (after["processInstanceId"], after["taskDefinitionKey"]) == (parent["id"], "after")
    history = await _get(
        client, "/history/process-instance", headers, superProcessInstanceId=parent["id"]
    )
    assert [(h["state"], h["tenantId"]) for h in history] == [("COMPLETED", "T1")]


async def test_c8_a_called_key_not_deployed_for_the_tenant_fails_the_start(
    client: httpx.AsyncClient, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await deploy_model(client, tenant_b.headers, {"child.bpmn": one_task("child")}, tenant="T2")
    await deploy_model(client, tenant_a.headers, {"parent.bpmn": caller()}, tenant="T1")
    response = await client.post(
        "/process-definition/key/parent/start", json={}, headers=tenant_a.headers
    )
    assert "'child'" in assert_problem(response, 400)["detail"]
    assert await _get(client, "/process-instance", tenant_a.headers) == []


async def test_c8_called_element_tenant_id_may_name_only_the_instances_tenant(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await deploy_model(client, admin, {"child.bpmn": one_task("child")}, tenant="T2")
    await deploy_model(client, admin, {"child.bpmn": one_task("child")}, tenant="T1")
    foreign = caller("foreign", tenant_attribute='camunda:calledElementTenantId="T2"')
    own = caller("own", tenant_attribute='camunda:calledElementTenantId="${execution.tenantId}"')
    await deploy_model(client, admin, {"f.bpmn": foreign, "o.bpmn": own}, tenant="T1")
    refused = await client.post(
        "/process-definition/key/foreign/start", json={}, headers=tenant_a.headers
    )
    assert "T2" in assert_problem(refused, 400)["detail"]
    started = await start(client, tenant_a.headers, "own")
    [sub] = await _get(
        client, "/process-instance", tenant_a.headers, superProcessInstance=started["id"]
    )
    assert sub["tenantId"] == "T1"
    assert await _get(client, "/task", tenant_b.headers) == []


async def test_c8_e2_a_decision_taken_in_a_called_process_is_its_history_in_the_tenant(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    headers = tenant_a.headers
    rating_child = approval("child")  # a business rule task deciding `risk`, then a gateway
    await deploy_model(
        client,
        headers,
        {"parent.bpmn": caller(), "child.bpmn": rating_child, "risk.dmn": risk_decision()},
        tenant="T1",
    )
    parent = await start(client, headers, "parent", variables=typed(amount=100))
    [sub] = await _get(
        client, "/history/process-instance", headers, superProcessInstanceId=parent["id"]
    )
    [decided] = await _get(client, "/history/decision-instance", headers)
    assert (decided["processInstanceId"], decided["processDefinitionKey"]) == (sub["id"], "child")
    assert (decided["tenantId"], decided["decisionDefinitionKey"]) == ("T1", "risk")
