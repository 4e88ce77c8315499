"""Messages and signals per tenant: CONFORMANCE D1–D6, bad input, variables, start events."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, ids, member
from tests.api.event_models import (
    catch_message,
    catch_signal,
    message_start,
    signal_start,
    throw_signal,
)
from tests.api.runtime_fixtures import deploy_model, start, typed


async def _waiting(client: httpx.AsyncClient, headers: Headers, key: str) -> list[str]:
    return await ids(client, "/process-instance", headers, processDefinitionKey=key)


async def _after_tasks(client: httpx.AsyncClient, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get("/task", params={"taskDefinitionKey": "after"}, headers=headers)
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


async def _correlate(
    client: httpx.AsyncClient, headers: Headers, name: str = "order", **body: Any
) -> httpx.Response:
    return await client.post("/message", json={"messageName": name, **body}, headers=headers)


@pytest.fixture
async def both(
    seed: Seed, settings: Settings, tenant_a: TenantMember, tenant_b: TenantMember
) -> Headers:
    return await member(seed, settings, "both", tenants=["T1", "T2"])


# --------------------------------------------------------------------------- messages


async def test_D1_message_with_tenant_id_reaches_only_that_tenants_subscriptions(
    client: httpx.AsyncClient, admin: Headers, both: Headers
) -> None:
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant=tenant)
        await start(client, admin, "c", tenant=tenant, businessKey="k")
    response = await _correlate(client, both, tenantId="T1", businessKey="k")
    assert response.status_code == 204, response.text
    assert [t["tenantId"] for t in await _after_tasks(client, admin)] == ["T1"]


async def test_D1_without_tenant_id_reaches_only_shared_definition_start_events(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember
) -> None:
    await deploy_model(client, admin, {"s.bpmn": message_start("shared", name="shared")})
    await deploy_model(client, admin, {"o.bpmn": message_start("own")}, tenant="T1")
    await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant="T1")
    await start(client, admin, "c", tenant="T1")
    response = await _correlate(client, tenant_a.headers, withoutTenantId=True, resultEnabled=True)
    assert response.status_code == 200, response.text
    [result] = response.json()
    assert result["resultType"] == "ProcessDefinition"
    assert result["processInstance"]["tenantId"] == "T1"  # runs for the caller's tenant
    shared = await client.get(
        f"/process-definition/{result['processInstance']['definitionId']}", headers=admin
    )
    assert shared.json()["tenantId"] is None and shared.json()["key"] == "shared"
    assert await _waiting(client, admin, "own") == []  # T1's own start event: untouched
    assert len(await _waiting(client, admin, "c")) == 1  # and the waiting instance too
    assert len(await _after_tasks(client, admin)) == 1


async def test_D2_one_correlation_matching_two_tenants_is_a_problem(
    client: httpx.AsyncClient, admin: Headers, both: Headers
) -> None:
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant=tenant)
        await start(client, admin, "c", tenant=tenant, businessKey="k")
    body = assert_problem(await _correlate(client, both, businessKey="k"), 400)
    assert "2 executions match" in body["detail"]
    assert await _after_tasks(client, admin) == []  # nothing was correlated


async def test_D2_one_correlation_matching_two_start_events_is_a_problem(
    client: httpx.AsyncClient, admin: Headers, both: Headers
) -> None:
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"m.bpmn": message_start("m")}, tenant=tenant)
    body = assert_problem(await _correlate(client, both), 400)
    assert "2 process definitions match" in body["detail"]
    assert await _waiting(client, admin, "m") == []


async def test_D3_all_correlates_every_match_the_caller_sees(
    client: httpx.AsyncClient, admin: Headers, both: Headers, tenant_a: TenantMember
) -> None:
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant=tenant)
        await start(client, admin, "c", tenant=tenant)
        await start(client, admin, "c", tenant=tenant)
    # A member of T1 only: T1's two instances, never T2's.
    response = await _correlate(client, tenant_a.headers, all=True, resultEnabled=True)
    assert response.status_code == 200, response.text
    assert sorted(r["execution"]["tenantId"] for r in response.json()) == ["T1", "T1"]
    response = await _correlate(client, both, all=True, resultEnabled=True)
    assert sorted(r["execution"]["tenantId"] for r in response.json()) == ["T2", "T2"]
    assert len(await _after_tasks(client, admin)) == 4


async def test_D6_another_tenants_instance_id_behaves_as_not_found(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant="T2")
    other = (await start(client, admin, "c", tenant="T2"))["id"]
    theirs = assert_problem(
        await _correlate(client, tenant_a.headers, processInstanceId=other), 400
    )
    unknown = assert_problem(
        await _correlate(
            client, tenant_a.headers, processInstanceId="00000000-0000-0000-0000-000000000000"
        ),
        400,
    )
    assert theirs["detail"] == unknown["detail"]
    assert "No process definition or execution matches" in theirs["detail"]
    assert await _after_tasks(client, admin) == []


async def test_message_variables_and_correlation_keys(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember
) -> None:
    await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant="T1")
    first = (await start(client, admin, "c", tenant="T1", variables=typed(order=1)))["id"]
    await start(client, admin, "c", tenant="T1", variables=typed(order=2))
    response = await _correlate(
        client,
        tenant_a.headers,
        correlationKeys=typed(order=1),
        processVariables={"paid": {"value": 12, "type": "Long"}},
        resultEnabled=True,
        variablesInResultEnabled=True,
    )
    assert response.status_code == 200, response.text
    [result] = response.json()
    assert result["execution"]["processInstanceId"] == first
    assert result["variables"]["paid"] == {"value": 12, "type": "Long", "valueInfo": {}}
    stored = await client.get(f"/process-instance/{first}/variables/paid", headers=admin)
    assert stored.json()["type"] == "Long"


async def test_message_start_event_starts_in_the_explicit_tenant_with_business_key(
    client: httpx.AsyncClient, admin: Headers, both: Headers
) -> None:
    await deploy_model(client, admin, {"m.bpmn": message_start("m")})  # shared
    response = await _correlate(
        client, both, tenantId="T2", businessKey="order-7", resultEnabled=True
    )
    [result] = response.json()
    instance = result["processInstance"]
    assert (instance["tenantId"], instance["businessKey"]) == ("T2", "order-7")
    # Started at the message start event only: one task, in T2.
    assert [t["tenantId"] for t in await _after_tasks(client, admin)] == ["T2"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"messageName": ""}, 400, "messageName is required"),
        ({"messageName": "order", "tenantId": "T1", "withoutTenantId": True}, 400, "combined"),
        ({"messageName": "nobody-listens"}, 400, "No process definition or execution"),
        ({"messageName": "order", "tenantId": "T2"}, 403, "not a member"),
        (
            {"messageName": "order", "processVariables": {"x": {"value": "a", "type": "Long"}}},
            400,
            "x",
        ),
        (
            {"messageName": "order", "processInstanceId": "x", "tenantId": "T1"},
            400,
            "single process instance",
        ),
    ],
)
async def test_bad_correlations_are_problems_that_change_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    body: dict[str, Any],
    status: int,
    detail: str,
) -> None:
    await deploy_model(client, admin, {"c.bpmn": catch_message("c")}, tenant="T1")
    await start(client, admin, "c", tenant="T1")
    problem = assert_problem(
        await client.post("/message", json=body, headers=tenant_a.headers), status
    )
    assert detail in problem["detail"]
    assert await _after_tasks(client, admin) == []


# --------------------------------------------------------------------------- signals


async def _signal(client: httpx.AsyncClient, headers: Headers, **body: Any) -> None:
    response = await client.post("/signal", json={"name": "alarm", **body}, headers=headers)
    assert response.status_code == 204, response.text


async def test_D4_signal_without_tenant_reaches_every_tenant_the_caller_sees(
    client: httpx.AsyncClient, admin: Headers, both: Headers, tenant_a: TenantMember
) -> None:
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"c.bpmn": catch_signal("c")}, tenant=tenant)
        await start(client, admin, "c", tenant=tenant)
    await _signal(client, tenant_a.headers)  # sees T1 only
    assert [t["tenantId"] for t in await _after_tasks(client, admin)] == ["T1"]
    await start(client, admin, "c", tenant="T1")
    await _signal(client, both)
    assert sorted(t["tenantId"] for t in await _after_tasks(client, admin)) == ["T1", "T1", "T2"]


async def test_D4_signal_with_tenant_id_reaches_that_tenant_only(
    client: httpx.AsyncClient, admin: Headers, both: Headers
) -> None:
    await deploy_model(client, admin, {"s.bpmn": signal_start("s")})  # shared start
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"c.bpmn": catch_signal("c")}, tenant=tenant)
        await start(client, admin, "c", tenant=tenant)
    await _signal(client, both, tenantId="T2")
    assert sorted(t["tenantId"] for t in await _after_tasks(client, admin)) == ["T2", "T2"]


async def test_D4_signal_without_tenant_id_starts_only_shared_definitions(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember
) -> None:
    await deploy_model(client, admin, {"s.bpmn": signal_start("shared")})
    await deploy_model(client, admin, {"o.bpmn": signal_start("own")}, tenant="T1")
    await deploy_model(client, admin, {"c.bpmn": catch_signal("c")}, tenant="T1")
    await start(client, admin, "c", tenant="T1")
    await _signal(client, tenant_a.headers, withoutTenantId=True)
    assert len(await _waiting(client, admin, "shared")) == 1
    assert await _waiting(client, admin, "own") == []
    assert len(await _waiting(client, admin, "c")) == 1


async def test_D5_signal_thrown_in_a_T1_instance_reaches_T1_and_shared_starts_never_T2(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await deploy_model(client, admin, {"s.bpmn": signal_start("s")})  # shared definition
    await deploy_model(client, admin, {"t.bpmn": throw_signal("thrower")}, tenant="T1")
    for tenant in ("T1", "T2"):
        await deploy_model(client, admin, {"c.bpmn": catch_signal("c")}, tenant=tenant)
        await start(client, admin, "c", tenant=tenant)
    await start(client, admin, "thrower", tenant="T1")
    [go] = await ids(client, "/task", tenant_a.headers, taskDefinitionKey="go")
    response = await client.post(f"/task/{go}/complete", json={}, headers=tenant_a.headers)
    assert response.status_code == 204, response.text
    after = await _after_tasks(client, admin)
    # T1's waiting instance, and the shared start event started for T1; nothing in T2.
    assert sorted(t["tenantId"] for t in after) == ["T1", "T1"]
    started = await client.get(
        "/process-instance", params={"processDefinitionKey": "s"}, headers=admin
    )
    assert [i["tenantId"] for i in started.json()] == ["T1"]


async def test_signal_to_an_execution_of_another_tenant_is_not_found(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await deploy_model(client, admin, {"c.bpmn": catch_signal("c")}, tenant="T2")
    other = (await start(client, admin, "c", tenant="T2"))["id"]
    response = await client.post(
        "/signal", json={"name": "alarm", "executionId": other}, headers=tenant_a.headers
    )
    assert_problem(response, 404)
    assert await _after_tasks(client, admin) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": ""}, 400),
        ({"name": "alarm", "tenantId": "T1", "withoutTenantId": True}, 400),
        ({"name": "alarm", "tenantId": "T2"}, 403),
        ({"name": "alarm", "executionId": "x", "tenantId": "T1"}, 400),
        ({"name": "alarm", "variables": {"x": {"value": "a", "type": "Integer"}}}, 400),
    ],
)
async def test_bad_signals_are_problems_that_change_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    body: dict[str, Any],
    status: int,
) -> None:
    await deploy_model(client, admin, {"c.bpmn": catch_signal("c")}, tenant="T1")
    await start(client, admin, "c", tenant="T1")
    assert_problem(await client.post("/signal", json=body, headers=tenant_a.headers), status)
    assert await _after_tasks(client, admin) == []


async def test_all_with_nothing_to_reach_is_no_error(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember
) -> None:
    """Camunda's correlateAll: no match, no error (a single correlation is a 400)."""
    response = await _correlate(client, tenant_a.headers, "nobody", all=True, resultEnabled=True)
    assert (response.status_code, response.json()) == (200, [])
    assert (await _correlate(client, tenant_a.headers, "nobody", all=True)).status_code == 204
