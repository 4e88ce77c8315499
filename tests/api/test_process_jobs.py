"""Timers and asyncBefore continuations run by a real arq worker (burst mode, real Redis):
in the instance's tenant as its starter (G2), retries and incidents, the sweeper, `/job`."""

from __future__ import annotations

from typing import Any

import httpx
from redis.asyncio import Redis
from sqlalchemy import delete

from app.core.config import Settings
from app.models import TenantGroupMembership, TenantUserMembership
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, ids
from tests.api.runtime_fixtures import deploy_model, process, start
from tests.api.worker_fixtures import run_worker, sweep_once

PAST = "2020-01-01T00:00:00Z"
FUTURE = "2999-01-01T00:00:00Z"


def timer_model(key: str, when: str = FUTURE) -> bytes:
    """start -> timer `wait` (timeDate) -> user task `after` -> end."""
    return process(
        key,
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDate>{when}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after" />
    <bpmn:userTask id="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


def async_script(key: str, script: str, retry_cycle: str = "") -> bytes:
    """start -> asyncBefore script task `calc` -> user task `after` -> end."""
    extension = (
        "<bpmn:extensionElements><camunda:failedJobRetryTimeCycle>"
        f"{retry_cycle}</camunda:failedJobRetryTimeCycle></bpmn:extensionElements>"
        if retry_cycle
        else ""
    )
    return process(
        key,
        f"""
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:scriptTask id="calc" scriptFormat="python" camunda:asyncBefore="true">
      {extension}<bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="after" />
    <bpmn:userTask id="after" />
    <bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


async def _make_due(client: httpx.AsyncClient, headers: Headers) -> str:
    """The one timer job: due now (`PUT /job/{id}/duedate`, which wakes a worker)."""
    [job] = await _jobs(client, headers)
    response = await client.put(
        f"/job/{job['id']}/duedate", json={"duedate": PAST}, headers=headers
    )
    assert response.status_code == 204, response.text
    return str(job["id"])


async def _jobs(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/job", params=params, headers=headers)
    assert response.status_code == 200, response.text
    jobs: list[dict[str, Any]] = response.json()
    return jobs


async def test_G2_a_due_timer_runs_in_its_tenant_as_the_starter(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, settings: Settings
) -> None:
    await deploy_model(client, admin, {"t.bpmn": timer_model("t")}, tenant="T1")
    instance = (await start(client, tenant_a.headers, "t"))["id"]
    [job] = await _jobs(client, tenant_a.headers)
    assert (job["processInstanceId"], job["tenantId"], job["processDefinitionKey"]) == (
        instance,
        "T1",
        "t",
    )
    assert job["dueDate"].startswith("2999-01-01")
    await _make_due(client, tenant_a.headers)
    assert await run_worker(settings) >= 1
    assert len(await ids(client, "/task", tenant_a.headers, taskDefinitionKey="after")) == 1
    assert await _jobs(client, admin) == []
    history = await client.get(
        "/history/activity-instance",
        params={"processInstanceId": instance, "activityId": "wait"},
        headers=admin,
    )
    assert history.json()[0]["endTime"] is not None


async def test_G2_a_starter_who_left_the_tenant_has_no_work_done_in_their_name(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    seed: Seed,
) -> None:
    await deploy_model(client, admin, {"t.bpmn": timer_model("t")}, tenant="T1")
    await start(client, tenant_a.headers, "t")
    await _make_due(client, tenant_a.headers)
    async with seed() as session:
        await session.execute(
            delete(TenantUserMembership).where(TenantUserMembership.user_id == "t1-user")
        )
    # Still a member through its group: remove that too (tenant_with_member adds both).
    async with seed() as session:
        await session.execute(
            delete(TenantGroupMembership).where(TenantGroupMembership.group_id == "t1-group")
        )
    await run_worker(settings)
    assert await ids(client, "/task", admin, taskDefinitionKey="after") == []
    [job] = await _jobs(client, admin)
    assert job["retries"] == 0 and "no longer a member" in job["exceptionMessage"]
    [incident] = (await client.get("/incident", headers=admin)).json()
    assert (incident["incidentType"], incident["configuration"]) == ("failedJob", job["id"])


async def test_an_async_continuation_runs_and_a_failing_one_retries_then_is_an_incident(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, settings: Settings
) -> None:
    await deploy_model(client, admin, {"ok.bpmn": async_script("ok", "y = 2")}, tenant="T1")
    await deploy_model(
        client,
        admin,
        {"bad.bpmn": async_script("bad", "y = missing + 1", retry_cycle="R2/PT0S")},
        tenant="T1",
    )
    await start(client, tenant_a.headers, "ok")
    await start(client, tenant_a.headers, "bad")
    await run_worker(settings)  # ok runs; bad fails once and is due again at once
    await run_worker(settings)  # bad fails for the second and last time
    tasks = await client.get("/task", params={"taskDefinitionKey": "after"}, headers=admin)
    assert [t["processDefinitionId"].split(":")[0] for t in tasks.json()] == ["ok"]
    [job] = await _jobs(client, tenant_a.headers)
    assert job["retries"] == 0 and "missing" in job["exceptionMessage"]
    [incident] = (await client.get("/incident", headers=tenant_a.headers)).json()
    assert incident["incidentType"] == "failedJob"
    # An operator gives it retries again: the incident is resolved, the job runs (and fails).
    response = await client.put(
        f"/job/{job['id']}/retries", json={"retries": 1}, headers=tenant_a.headers
    )
    assert response.status_code == 204, response.text
    assert (await client.get("/incident/count", headers=admin)).json() == {"count": 0}


async def test_the_sweeper_enqueues_what_redis_lost(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, settings: Settings
) -> None:
    await deploy_model(client, admin, {"t.bpmn": timer_model("t")}, tenant="T1")
    await start(client, tenant_a.headers, "t")
    await _make_due(client, tenant_a.headers)
    redis = Redis.from_url(settings.redis_url)
    await redis.flushdb()  # the enqueue is lost
    await redis.aclose()
    assert await run_worker(settings) == 0
    assert await ids(client, "/task", admin, taskDefinitionKey="after") == []
    assert await sweep_once(settings) == 1
    await run_worker(settings)
    assert len(await ids(client, "/task", admin, taskDefinitionKey="after")) == 1


async def test_jobs_are_tenant_checked_and_execute_runs_one_now(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
) -> None:
    await deploy_model(client, admin, {"t.bpmn": timer_model("t")})
    await start(client, tenant_a.headers, "t")
    [job] = await _jobs(client, tenant_a.headers)
    assert await _jobs(client, tenant_b.headers) == []
    assert (await client.get("/job/count", headers=tenant_b.headers)).json() == {"count": 0}
    for method, path, body in (
        ("GET", f"/job/{job['id']}", None),
        ("POST", f"/job/{job['id']}/execute", None),
        ("PUT", f"/job/{job['id']}/retries", {"retries": 5}),
        ("PUT", f"/job/{job['id']}/duedate", {"duedate": PAST}),
    ):
        response = await client.request(method, path, json=body, headers=tenant_b.headers)
        assert_problem(response, 404)
    assert (await _jobs(client, admin))[0]["retries"] == 3  # unchanged
    assert (await _jobs(client, tenant_a.headers, executable="true")) == []  # not due
    response = await client.post(f"/job/{job['id']}/execute", headers=tenant_a.headers)
    assert response.status_code == 204, response.text
    assert len(await ids(client, "/task", tenant_a.headers, taskDefinitionKey="after")) == 1
    assert await _jobs(client, admin) == []
