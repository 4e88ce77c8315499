"""Instance commands: variables, suspension, deletion, the activity tree, timers, and
deleting a deployment that has instances."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from app.core.config import Settings
from app.models import HistoricProcessInstance, HistoricTask, Job, ProcessInstance
from tests.api.conftest import Seed, TenantMember, assert_problem, open_client
from tests.api.runtime_fixtures import deploy_model, one_task, process, start, typed
from tests.conftest import make_settings

Headers = dict[str, str]


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if status != 204 else None


async def _one_task_instance(client: httpx.AsyncClient, headers: Headers, **body: Any) -> str:
    await deploy_model(client, headers, {"p.bpmn": one_task("p")}, tenant="T1")
    return str((await start(client, headers, "p", **body))["id"])


async def test_variables_set_read_typed_and_delete(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    headers = tenant_a.headers
    instance = await _one_task_instance(client, headers, variables=typed(a="x"))
    base = f"/process-instance/{instance}/variables"
    changes = {
        "modifications": {
            "big": {"value": 5, "type": "Long"},
            "when": {"value": "2026-01-31T12:00:00.000+0000", "type": "Date"},
            "doc": {"value": '{"k": [1, 2]}', "type": "Json"},
        },
        "deletions": ["a"],
    }
    await _json(await client.post(base, json=changes, headers=headers), 204)
    variables = await _json(await client.get(base, headers=headers))
    assert set(variables) == {"big", "when", "doc"}
    assert (variables["big"]["type"], variables["big"]["value"]) == ("Long", 5)
    assert variables["when"]["type"] == "Date"
    assert variables["doc"]["type"] == "Json"
    put = await client.put(f"{base}/big", json={"value": 6, "type": "Long"}, headers=headers)
    await _json(put, 204)
    assert (await _json(await client.get(f"{base}/big", headers=headers)))["value"] == 6
    await _json(await client.delete(f"{base}/big", headers=headers), 204)
    assert_problem(await client.get(f"{base}/big", headers=headers), 404)
    assert_problem(await client.delete(f"{base}/big", headers=headers), 404)
    # The values reach the task and its completion: the engine sees them.
    [task] = await _json(await client.get("/task", headers=headers))
    task_variables = await _json(await client.get(f"/task/{task['id']}/variables", headers=headers))
    assert set(task_variables) == {"when", "doc"}


async def test_bad_variable_writes_are_400_and_change_nothing(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    headers = tenant_a.headers
    instance = await _one_task_instance(client, headers, variables=typed(a="x"))
    base = f"/process-instance/{instance}/variables"
    before = await _json(await client.get(base, headers=headers))
    bad = [
        ("POST", base, {"modifications": {"n": {"value": 2**40, "type": "Integer"}}}),
        ("POST", base, {"modifications": {"n": {"value": True, "type": "Banana"}}}),
        ("PUT", f"{base}/n", {"value": "x", "type": "Boolean"}),
        ("PUT", f"{base}/n", {"value": 1, "type": "Integer", "extra": 1}),
    ]
    for method, path, body in bad:
        assert_problem(await client.request(method, path, json=body, headers=headers), 400)
    assert await _json(await client.get(base, headers=headers)) == before


async def test_a_suspended_instance_refuses_completion_until_activated(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    headers = tenant_a.headers
    instance = await _one_task_instance(client, headers)
    suspend = f"/process-instance/{instance}/suspended"
    await _json(await client.put(suspend, json={"suspended": True}, headers=headers), 204)
    [task] = await _json(await client.get("/task", params={"suspended": "true"}, headers=headers))
    assert task["suspended"] is True
    assert await _json(await client.get("/task", params={"active": "true"}, headers=headers)) == []
    listed = await client.get("/process-instance", params={"suspended": "true"}, headers=headers)
    assert [i["id"] for i in await _json(listed)] == [instance]
    refused = await client.post(f"/task/{task['id']}/complete", json={}, headers=headers)
    assert_problem(refused, 409)
    await _json(await client.put(suspend, json={"suspended": False}, headers=headers), 204)
    done = await client.post(f"/task/{task['id']}/complete", json={}, headers=headers)
    await _json(done, 204)


async def test_deleting_an_instance_keeps_its_history_as_terminated(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    headers = tenant_a.headers
    instance = await _one_task_instance(client, headers)
    deleted = await client.delete(
        f"/process-instance/{instance}",
        params={"deleteReason": "no longer needed"},
        headers=headers,
    )
    await _json(deleted, 204)
    assert_problem(await client.get(f"/process-instance/{instance}", headers=headers), 404)
    assert await _json(await client.get("/task", headers=headers)) == []
    async with seed() as session:
        historic = await session.get(HistoricProcessInstance, uuid.UUID(instance))
        assert historic is not None
        assert (historic.state, historic.delete_reason) == (
            "EXTERNALLY_TERMINATED",
            "no longer needed",
        )
        tasks = (await session.scalars(select(HistoricTask))).all()
        assert [(t.delete_reason, t.end_time is not None) for t in tasks] == [("deleted", True)]


async def test_the_activity_tree_shows_where_the_instance_waits(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    headers = tenant_a.headers
    instance = await _one_task_instance(client, headers)
    tree = await _json(
        await client.get(f"/process-instance/{instance}/activity-instances", headers=headers)
    )
    assert (tree["id"], tree["activityType"]) == (instance, "processDefinition")
    [waiting] = tree["childActivityInstances"]
    assert (waiting["activityId"], waiting["activityType"]) == ("work", "userTask")
    assert waiting["parentActivityInstanceId"] == instance


async def test_a_timer_deploys_and_waits_as_a_job_of_the_instance(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    timer = process(
        "timed",
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT5M</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )
    await deploy_model(client, tenant_a.headers, {"t.bpmn": timer}, tenant="T1")
    started = await start(client, tenant_a.headers, "timed")
    assert started["ended"] is False
    async with seed() as session:
        [job] = (await session.scalars(select(Job))).all()
        assert (job.tenant_id, job.activity_id, job.job_type) == ("T1", "wait", "timer")
        assert job.acting_user == "t1-user" and job.due_date is not None
        assert str(job.process_instance_id) == started["id"]


async def test_a_deployment_with_running_instances_is_409_unless_cascade(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    headers = tenant_a.headers
    deployment = await deploy_model(client, headers, {"p.bpmn": one_task("p")}, tenant="T1")
    await start(client, headers, "p")
    path = f"/deployment/{deployment['id']}"
    assert_problem(await client.delete(path, headers=headers), 409)
    async with seed() as session:
        assert await session.scalar(select(func.count()).select_from(ProcessInstance)) == 1
    await _json(await client.delete(path, params={"cascade": "true"}, headers=headers), 204)
    async with seed() as session:
        for model in (ProcessInstance, HistoricProcessInstance, HistoricTask):
            assert await session.scalar(select(func.count()).select_from(model)) == 0


async def test_deleting_a_deployment_without_cascade_keeps_finished_history(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    headers = tenant_a.headers
    deployment = await deploy_model(client, headers, {"p.bpmn": one_task("p")}, tenant="T1")
    await start(client, headers, "p")
    [task] = await _json(await client.get("/task", headers=headers))
    await _json(await client.post(f"/task/{task['id']}/complete", json={}, headers=headers), 204)
    await _json(await client.delete(f"/deployment/{deployment['id']}", headers=headers), 204)
    history = await _json(await client.get("/history/process-instance", headers=headers))
    assert [(h["state"], h["processDefinitionKey"], h["processDefinitionId"]) for h in history] == [
        ("COMPLETED", "p", None)
    ]


async def test_the_variable_size_limit_is_a_setting(
    settings: Settings, tenant_a: TenantMember, seed: Seed
) -> None:
    small = make_settings(max_variable_bytes=2048)
    async with open_client(small) as (_app, client):
        instance = await _one_task_instance(client, tenant_a.headers)
        path = f"/process-instance/{instance}/variables/text"
        fits = await client.put(path, json={"value": "x" * 1000}, headers=tenant_a.headers)
        await _json(fits, 204)
        too_big = await client.put(path, json={"value": "x" * 3000}, headers=tenant_a.headers)
        assert "text" in assert_problem(too_big, 400)["detail"]
        stored = await client.get(path, headers=tenant_a.headers)
        assert (await _json(stored))["value"] == "x" * 1000


async def test_an_async_before_activity_waits_as_a_continuation_job(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed
) -> None:
    model = process(
        "later",
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="calc" />
    <bpmn:scriptTask id="calc" camunda:asyncBefore="true"><bpmn:script>done = 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="calc" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )
    await deploy_model(client, tenant_a.headers, {"l.bpmn": model}, tenant="T1")
    started = await start(client, tenant_a.headers, "later", withVariablesInReturn=True)
    assert started["ended"] is False and "done" not in started["variables"]
    async with seed() as session:
        [job] = (await session.scalars(select(Job))).all()
        assert (job.job_type, job.activity_id, job.tenant_id) == (
            "async-continuation",
            "calc",
            "T1",
        )
        assert job.acting_user == "t1-user"
    assert await _json(await client.get("/task", headers=tenant_a.headers)) == []
