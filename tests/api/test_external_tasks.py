"""External tasks per tenant: isolation (fetch, list, count, id), system workers acting in
each task's tenant, Camunda's lock rule, incidents, long polling, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.core.config import Settings
from tests.api.conftest import (
    ADMIN_ID,
    Headers,
    Seed,
    TenantMember,
    assert_problem,
    ids,
    member,
    open_client,
)
from tests.api.event_models import external
from tests.api.runtime_fixtures import deploy_model, start, typed
from tests.conftest import make_settings

TOPIC = {"topicName": "work", "lockDuration": 60_000}


async def _fetch(
    client: httpx.AsyncClient, headers: Headers, worker: str = "w1", **body: Any
) -> list[dict[str, Any]]:
    payload = {"workerId": worker, "maxTasks": 10, "topics": [TOPIC], **body}
    response = await client.post("/external-task/fetchAndLock", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    locked: list[dict[str, Any]] = response.json()
    return locked


async def _two_tenants(client: httpx.AsyncClient, admin: Headers) -> dict[str, str]:
    """One shared external-task model; one instance in T1 and one in T2: {tenant: id}."""
    await deploy_model(client, admin, {"x.bpmn": external("x")})
    return {
        tenant: (await start(client, admin, "x", tenant=tenant, variables=typed(n=tenant)))["id"]
        for tenant in ("T1", "T2")
    }


@pytest.fixture
async def system_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with open_client(make_settings(system_worker_groups="system-workers")) as pair:
        yield pair


@pytest.fixture
async def system_worker(seed: Seed, settings: Settings, tenant_a: TenantMember) -> Headers:
    """A member of group `system-workers` (and of no tenant)."""
    return await member(seed, settings, "robot", groups=["system-workers"])


async def test_a_tenant_worker_never_sees_another_tenants_task(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    instances = await _two_tenants(client, admin)
    [locked] = await _fetch(client, tenant_a.headers)
    assert (locked["tenantId"], locked["processInstanceId"]) == ("T1", instances["T1"])
    assert locked["variables"]["n"]["value"] == "T1"
    theirs = (await _fetch(client, tenant_b.headers, worker="w2"))[0]["id"]
    assert await ids(client, "/external-task", tenant_a.headers) == [locked["id"]]
    count = await client.get("/external-task/count", headers=tenant_a.headers)
    assert count.json() == {"count": 1}
    assert_problem(await client.get(f"/external-task/{theirs}", headers=tenant_a.headers), 404)
    done = await client.post(
        f"/external-task/{theirs}/complete", json={"workerId": "w2"}, headers=tenant_a.headers
    )
    assert_problem(done, 404)
    assert len(await ids(client, "/external-task", admin)) == 2  # T2's task still waits


async def test_completing_runs_the_process_on_with_the_variables(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    instances = await _two_tenants(client, admin)
    [task] = await _fetch(client, tenant_a.headers)
    response = await client.post(
        f"/external-task/{task['id']}/complete",
        json={"workerId": "w1", "variables": {"result": {"value": 42, "type": "Long"}}},
        headers=tenant_a.headers,
    )
    assert response.status_code == 204, response.text
    [after] = await ids(client, "/task", admin, taskDefinitionKey="after")
    variable = await client.get(
        f"/process-instance/{instances['T1']}/variables/result", headers=admin
    )
    assert variable.json()["type"] == "Long" and variable.json()["value"] == 42
    log = await client.get(
        "/history/external-task-log", params={"successLog": "true"}, headers=admin
    )
    [entry] = log.json()
    assert (entry["tenantId"], entry["workerId"], entry["userId"]) == ("T1", "w1", "t1-user")
    assert after


async def test_a_system_worker_fetches_for_every_tenant_and_acts_in_each_tasks_tenant(
    system_app: tuple[FastAPI, httpx.AsyncClient],
    admin: Headers,
    system_worker: Headers,
    tenant_b: TenantMember,
) -> None:
    _, client = system_app
    instances = await _two_tenants(client, admin)
    locked = await _fetch(client, system_worker, worker="robot-1")
    assert sorted(t["tenantId"] for t in locked) == ["T1", "T2"]
    for task in locked:
        response = await client.post(
            f"/external-task/{task['id']}/complete",
            json={"workerId": "robot-1", "variables": typed(done=True)},
            headers=system_worker,
        )
        assert response.status_code == 204, response.text
    after = await client.get("/task", params={"taskDefinitionKey": "after"}, headers=admin)
    assert sorted(t["tenantId"] for t in after.json()) == ["T1", "T2"]
    log = await client.get(
        "/history/external-task-log", params={"successLog": "true"}, headers=admin
    )
    # Done in each task's tenant, on behalf of the user who started the instance.
    assert sorted((e["tenantId"], e["userId"]) for e in log.json()) == [
        ("T1", ADMIN_ID),
        ("T2", ADMIN_ID),
    ]
    assert {e["processInstanceId"] for e in log.json()} == set(instances.values())


async def test_an_ordinary_user_is_no_system_worker(
    system_app: tuple[FastAPI, httpx.AsyncClient],
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    seed: Seed,
    settings: Settings,
) -> None:
    _, client = system_app
    await _two_tenants(client, admin)
    outsider = await member(seed, settings, "outsider", groups=["other-group"])
    assert await _fetch(client, outsider) == []


async def test_only_the_worker_holding_the_lock_may_complete_fail_or_extend(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await _two_tenants(client, admin)
    [task] = await _fetch(client, tenant_a.headers, worker="holder")
    path = f"/external-task/{task['id']}"
    for command, body in (
        ("complete", {"workerId": "intruder"}),
        ("failure", {"workerId": "intruder", "retries": 0}),
        ("bpmnError", {"workerId": "intruder", "errorCode": "BAD"}),
        ("extendLock", {"workerId": "intruder", "newDuration": 1000}),
    ):
        problem = assert_problem(
            await client.post(f"{path}/{command}", json=body, headers=tenant_a.headers), 400
        )
        assert "locked by worker 'holder'" in problem["detail"]
    state = (await client.get(path, headers=tenant_a.headers)).json()
    assert (state["workerId"], state["retries"]) == ("holder", None)
    assert (await client.get("/incident/count", headers=admin)).json() == {"count": 0}


async def test_failure_without_retries_is_an_incident_until_retries_are_set(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    instances = await _two_tenants(client, admin)
    [task] = await _fetch(client, tenant_a.headers)
    response = await client.post(
        f"/external-task/{task['id']}/failure",
        json={"workerId": "w1", "errorMessage": "printer on fire", "retries": 0},
        headers=tenant_a.headers,
    )
    assert response.status_code == 204, response.text
    [incident] = (await client.get("/incident", headers=tenant_a.headers)).json()
    assert incident["incidentType"] == "failedExternalTask"
    assert (incident["processInstanceId"], incident["tenantId"]) == (instances["T1"], "T1")
    assert (incident["configuration"], incident["incidentMessage"]) == (
        task["id"],
        "printer on fire",
    )
    assert (await client.get("/incident", headers=tenant_b.headers)).json() == []
    assert await _fetch(client, tenant_a.headers) == []  # no retries left: not fetchable
    response = await client.put(
        f"/external-task/{task['id']}/retries", json={"retries": 2}, headers=tenant_a.headers
    )
    assert response.status_code == 204, response.text
    assert (await client.get("/incident/count", headers=admin)).json() == {"count": 0}
    [again] = await _fetch(client, tenant_a.headers)
    assert (again["id"], again["retries"], again["errorMessage"]) == (
        task["id"],
        2,
        "printer on fire",
    )


async def test_a_failure_with_retry_timeout_holds_the_task_back(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await _two_tenants(client, admin)
    [task] = await _fetch(client, tenant_a.headers)
    await client.post(
        f"/external-task/{task['id']}/failure",
        json={"workerId": "w1", "retries": 3, "retryTimeout": 60_000},
        headers=tenant_a.headers,
    )
    assert await _fetch(client, tenant_a.headers) == []
    await client.post(f"/external-task/{task['id']}/unlock", headers=tenant_a.headers)
    [again] = await _fetch(client, tenant_a.headers)
    assert again["retries"] == 3


async def test_bpmn_error_goes_to_the_boundary_event_and_an_uncaught_one_changes_nothing(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await _two_tenants(client, admin)
    [task] = await _fetch(client, tenant_a.headers)
    path = f"/external-task/{task['id']}/bpmnError"
    uncaught = await client.post(
        path, json={"workerId": "w1", "errorCode": "OTHER"}, headers=tenant_a.headers
    )
    assert "No error boundary event catches" in assert_problem(uncaught, 400)["detail"]
    assert len(await ids(client, "/external-task", tenant_a.headers)) == 1
    caught = await client.post(
        path, json={"workerId": "w1", "errorCode": "BAD"}, headers=tenant_a.headers
    )
    assert caught.status_code == 204, caught.text
    assert await ids(client, "/external-task", tenant_a.headers) == []
    assert len(await ids(client, "/task", tenant_a.headers, taskDefinitionKey="handle")) == 1


async def test_parallel_fetches_never_hand_one_task_to_two_workers(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember
) -> None:
    await deploy_model(client, admin, {"x.bpmn": external("x")}, tenant="T1")
    for _ in range(12):
        await start(client, admin, "x", tenant="T1")
    batches = await asyncio.gather(
        *(_fetch(client, tenant_a.headers, worker=f"w{n}", maxTasks=3) for n in range(6))
    )
    fetched = [task["id"] for batch in batches for task in batch]
    assert len(fetched) == 12 and len(set(fetched)) == 12


async def test_a_long_poll_wakes_when_work_is_committed(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember
) -> None:
    await deploy_model(client, admin, {"x.bpmn": external("x")}, tenant="T1")
    began = time.monotonic()
    poll = asyncio.create_task(_fetch(client, tenant_a.headers, asyncResponseTimeout=20_000))
    await asyncio.sleep(0.3)  # the poll is waiting (it found nothing)
    assert not poll.done()
    started = (await start(client, admin, "x", tenant="T1"))["id"]
    [task] = await asyncio.wait_for(poll, timeout=10)
    assert task["processInstanceId"] == started
    assert time.monotonic() - began < 10  # woken by the commit, not by its 20 s timeout


async def test_a_long_poll_returns_empty_at_its_timeout(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    began = time.monotonic()
    assert await _fetch(client, tenant_a.headers, asyncResponseTimeout=300) == []
    assert 0.3 <= time.monotonic() - began < 5


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"workerId": "", "topics": [TOPIC]}, "workerId"),
        ({"workerId": "w", "maxTasks": 0, "topics": [TOPIC]}, "maxTasks"),
        ({"workerId": "w", "maxTasks": 501, "topics": [TOPIC]}, "maxTasks"),
        ({"workerId": "w", "topics": [{"topicName": "work", "lockDuration": 0}]}, "lockDuration"),
        ({"workerId": "w", "topics": [{"topicName": "work"}]}, "lockDuration"),
        ({"workerId": "w", "topics": []}, "topics"),
        ({"workerId": "w", "asyncResponseTimeout": 1_800_001, "topics": [TOPIC]}, "asyncResponse"),
    ],
)
async def test_bad_fetches_are_problems_that_lock_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    body: dict[str, Any],
    detail: str,
) -> None:
    await _two_tenants(client, admin)
    response = await client.post("/external-task/fetchAndLock", json=body, headers=tenant_a.headers)
    assert detail in assert_problem(response, 400)["detail"]
    locked = await client.get("/external-task", params={"locked": "true"}, headers=admin)
    assert locked.json() == []


@pytest.mark.parametrize(
    ("command", "body"),
    [
        ("failure", {"workerId": "w1", "retries": -1}),
        ("extendLock", {"workerId": "w1", "newDuration": 0}),
        ("bpmnError", {"workerId": "w1", "errorCode": " "}),
        ("complete", {"workerId": "w1", "variables": {"x": {"value": "a", "type": "Long"}}}),
    ],
)
async def test_bad_commands_are_problems_that_change_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    command: str,
    body: dict[str, Any],
) -> None:
    await _two_tenants(client, admin)
    [task] = await _fetch(client, tenant_a.headers)
    response = await client.post(
        f"/external-task/{task['id']}/{command}", json=body, headers=tenant_a.headers
    )
    assert_problem(response, 400)
    state = (await client.get(f"/external-task/{task['id']}", headers=tenant_a.headers)).json()
    assert (state["workerId"], state["retries"], state["errorMessage"]) == ("w1", None, None)
    assert await ids(client, "/task", admin, taskDefinitionKey="after") == []


async def test_deploying_a_service_task_without_a_worker_topic_is_refused(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    model = external("x").replace(b'camunda:type="external" ', b"")
    response = await client.post(
        "/deployment/create",
        files={"x.bpmn": ("x.bpmn", model, "application/xml")},
        data={"deployment-name": "x"},
        headers=admin,
    )
    assert "camunda:type" in assert_problem(response, 400)["detail"]


async def test_deleting_the_instance_logs_its_open_external_task_as_deleted(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    instances = await _two_tenants(client, admin)
    response = await client.delete(f"/process-instance/{instances['T1']}", headers=tenant_a.headers)
    assert response.status_code == 204, response.text
    log = await client.get(
        "/history/external-task-log", params={"deletionLog": "true"}, headers=admin
    )
    [entry] = log.json()
    assert (entry["processInstanceId"], entry["tenantId"]) == (instances["T1"], "T1")
    assert (await client.get("/external-task/count", headers=admin)).json() == {"count": 1}


async def test_topic_filters_process_variables_and_definition_keys(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    instances = await _two_tenants(client, admin)
    await deploy_model(client, admin, {"y.bpmn": external("y")}, tenant="T1")
    await start(client, admin, "y", tenant="T1", variables=typed(n="T1"))
    by_value = {**TOPIC, "processVariables": {"n": "T2"}}
    [task] = await _fetch(client, admin, topics=[by_value])
    assert task["processInstanceId"] == instances["T2"]
    by_key = {**TOPIC, "processDefinitionKeyIn": ["y"]}
    [task] = await _fetch(client, admin, worker="w2", topics=[by_key])
    assert task["processDefinitionKey"] == "y"
    newest = await _fetch(
        client, admin, worker="w3", sorting=[{"sortBy": "createTime", "sortOrder": "desc"}]
    )
    assert [t["processInstanceId"] for t in newest] == [instances["T1"]]  # the one left
