"""Process runtime through the REST API: starting (C1–C6), propagation (C7), isolation of
tasks and instances (C9, C10), task commands, variables, and a real Camunda model."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.core.config import Settings
from app.models import (
    HistoricActivityInstance,
    HistoricProcessInstance,
    HistoricTask,
    HistoricVariable,
    ProcessInstance,
    Task,
    Variable,
)
from tests.api.conftest import Seed, TenantMember, assert_problem, member
from tests.api.runtime_fixtures import (
    approval,
    deploy_model,
    one_task,
    risk_decision,
    start,
    typed,
)
from tests.conftest import add_tenants

Headers = dict[str, str]


async def _tasks(
    client: httpx.AsyncClient, headers: Headers, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get("/task", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: list[dict[str, Any]] = response.json()
    return body


@pytest.fixture
async def world(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> dict[str, str]:
    """Shared `p` (v1), T1's own `p`, T2 without one; the definition ids by owner."""
    shared = await deploy_model(client, admin, {"p.bpmn": one_task("p", name="shared")})
    own = await deploy_model(client, admin, {"p.bpmn": one_task("p", name="t1")}, tenant="T1")
    return {
        "shared": next(iter(shared["deployedProcessDefinitions"])),
        "T1": next(iter(own["deployedProcessDefinitions"])),
    }


async def test_c1_start_by_key_with_tenant_id_creates_the_instance_in_that_tenant(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str]
) -> None:
    started = await start(client, tenant_a.headers, "p", tenant="T1")
    assert started["tenantId"] == "T1"
    assert started["definitionId"] == world["T1"]
    assert started["ended"] is False


async def test_c2_start_by_key_as_member_of_one_tenant_uses_its_effective_definition(
    client: httpx.AsyncClient,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    world: dict[str, str],
) -> None:
    own = await start(client, tenant_a.headers, "p")
    assert (own["tenantId"], own["definitionId"]) == ("T1", world["T1"])
    inherited = await start(client, tenant_b.headers, "p")
    assert (inherited["tenantId"], inherited["definitionId"]) == ("T2", world["shared"])


async def test_c3_member_of_two_tenants_without_tenant_id_is_400(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, world: dict[str, str]
) -> None:
    both = await member(seed, settings, "both", tenants=["T1", "T2"])
    response = await client.post("/process-definition/key/p/start", json={}, headers=both)
    assert assert_problem(response, 400)["type"].endswith("tenant-required")
    assert (await start(client, both, "p", tenant="T2"))["tenantId"] == "T2"


async def test_c4_without_tenant_id_starts_the_shared_version_in_the_callers_tenant(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str]
) -> None:
    started = await start(client, tenant_a.headers, "p", withoutTenantId=True)
    assert (started["tenantId"], started["definitionId"]) == ("T1", world["shared"])


async def test_c5_start_by_id_with_a_tenant_selector_is_400(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str]
) -> None:
    for body in ({"tenantId": "T1"}, {"withoutTenantId": True}):
        response = await client.post(
            f"/process-definition/{world['T1']}/start", json=body, headers=tenant_a.headers
        )
        assert_problem(response, 400)
    by_id = await client.post(
        f"/process-definition/{world['shared']}/start", json={}, headers=tenant_a.headers
    )
    assert by_id.status_code == 200 and by_id.json()["tenantId"] == "T1"


async def test_c6_an_instance_of_a_shared_definition_always_belongs_to_a_tenant(
    client: httpx.AsyncClient, admin: Headers, world: dict[str, str]
) -> None:
    # The admin belongs to no tenant: a shared definition cannot be started for "no one".
    response = await client.post(
        f"/process-definition/{world['shared']}/start", json={}, headers=admin
    )
    assert_problem(response, 400)
    started = await start(client, admin, "p", tenant="T2")
    assert (started["tenantId"], started["definitionId"]) == ("T2", world["shared"])


async def test_c7_the_instance_tenant_propagates_to_every_row_under_it(
    client: httpx.AsyncClient, seed: Seed, tenant_a: TenantMember, world: dict[str, str]
) -> None:
    started = await start(client, tenant_a.headers, "p", withoutTenantId=True, variables=typed(x=1))
    instance_id = uuid.UUID(started["id"])
    async with seed() as session:
        for model in (Task, Variable, HistoricTask, HistoricVariable, HistoricActivityInstance):
            rows = (
                await session.scalars(select(model).where(model.process_instance_id == instance_id))
            ).all()
            assert rows and {row.tenant_id for row in rows} == {"T1"}, model.__name__
        for model in (ProcessInstance, HistoricProcessInstance):
            row = await session.get(model, instance_id)
            assert row is not None and row.tenant_id == "T1"


async def test_c9_another_tenants_task_and_instance_are_404_like_a_random_id(
    client: httpx.AsyncClient,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    world: dict[str, str],
) -> None:
    foreign = await start(client, tenant_b.headers, "p", variables=typed(secret="t2"))
    [foreign_task] = await _tasks(client, tenant_b.headers)
    assert await _tasks(client, tenant_a.headers) == []
    unknown = str(uuid.uuid4())
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/process-instance/{}", None),
        ("GET", "/process-instance/{}/variables", None),
        ("GET", "/process-instance/{}/variables/secret", None),
        ("PUT", "/process-instance/{}/variables/secret", {"value": "t1"}),
        ("DELETE", "/process-instance/{}/variables/secret", None),
        ("POST", "/process-instance/{}/variables", {"modifications": typed(secret="t1")}),
        ("GET", "/process-instance/{}/activity-instances", None),
        ("PUT", "/process-instance/{}/suspended", {"suspended": True}),
        ("DELETE", "/process-instance/{}", None),
    ]
    task_requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", "/task/{}", None),
        ("GET", "/task/{}/variables", None),
        ("GET", "/task/{}/form-variables", None),
        ("PUT", "/task/{}", {"name": "x", "priority": 1}),
        ("POST", "/task/{}/claim", {"userId": "t1-user"}),
        ("POST", "/task/{}/unclaim", None),
        ("POST", "/task/{}/assignee", {"userId": "t1-user"}),
        ("POST", "/task/{}/complete", {}),
    ]
    for requests_, target in ((requests, foreign["id"]), (task_requests, foreign_task["id"])):
        for method, path, body in requests_:
            seen = await client.request(
                method, path.format(target), json=body, headers=tenant_a.headers
            )
            random = await client.request(
                method, path.format(unknown), json=body, headers=tenant_a.headers
            )
            assert_problem(seen, 404)
            assert seen.content == random.content, path
    # Nothing changed for T2.
    [still] = await _tasks(client, tenant_b.headers)
    assert still == foreign_task
    variables = await client.get(
        f"/process-instance/{foreign['id']}/variables", headers=tenant_b.headers
    )
    assert variables.json()["secret"]["value"] == "t2"


async def test_c10_a_tasks_tenant_cannot_be_changed(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str]
) -> None:
    await start(client, tenant_a.headers, "p")
    [task] = await _tasks(client, tenant_a.headers)
    moved = await client.put(
        f"/task/{task['id']}", json={"name": "Moved", "tenantId": "T2"}, headers=tenant_a.headers
    )
    assert_problem(moved, 400)
    [unchanged] = await _tasks(client, tenant_a.headers)
    assert (unchanged["tenantId"], unchanged["name"]) == ("T1", "Work")
    same = await client.put(
        f"/task/{task['id']}", json={"name": "Renamed", "tenantId": "T1"}, headers=tenant_a.headers
    )
    assert same.status_code == 204, same.text
    [renamed] = await _tasks(client, tenant_a.headers)
    assert (renamed["tenantId"], renamed["name"]) == ("T1", "Renamed")


async def test_claim_complete_and_the_instance_ends_with_its_history(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str]
) -> None:
    headers = tenant_a.headers
    started = await start(client, headers, "p", businessKey="order-1", variables=typed(n=1))
    [task] = await _tasks(client, headers, processInstanceId=started["id"])
    assert (
        await client.post(f"/task/{task['id']}/claim", json={}, headers=headers)
    ).status_code == 204
    assert (await _tasks(client, headers, assignee="t1-user"))[0]["id"] == task["id"]
    done = await client.post(
        f"/task/{task['id']}/complete",
        json={"variables": typed(n=2), "withVariablesInReturn": True},
        headers=headers,
    )
    assert done.status_code == 200, done.text
    assert done.json()["n"]["value"] == 2
    assert await _tasks(client, headers) == []
    gone = await client.get(f"/process-instance/{started['id']}", headers=headers)
    assert_problem(gone, 404)
    history = await client.get(
        "/history/process-instance", params={"processInstanceId": started["id"]}, headers=headers
    )
    assert history.status_code == 200, history.text
    [row] = history.json()
    assert (row["state"], row["businessKey"]) == ("COMPLETED", "order-1")
    tasks = await client.get(
        "/history/task", params={"processInstanceId": started["id"]}, headers=headers
    )
    [done_task] = tasks.json()
    assert (done_task["deleteReason"], done_task["assignee"]) == ("completed", "t1-user")
    assert done_task["endTime"] is not None


async def test_two_parallel_completions_complete_the_task_once(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str], seed: Seed
) -> None:
    started = await start(client, tenant_a.headers, "p")
    [task] = await _tasks(client, tenant_a.headers)
    responses = await asyncio.gather(
        *(
            client.post(f"/task/{task['id']}/complete", json={}, headers=tenant_a.headers)
            for _ in range(2)
        )
    )
    assert sorted(r.status_code for r in responses) == [204, 404]
    async with seed() as session:
        historic = await session.get(HistoricProcessInstance, uuid.UUID(started["id"]))
        assert historic is not None and historic.state == "COMPLETED"
        ends = (
            await session.scalars(
                select(HistoricActivityInstance).where(
                    HistoricActivityInstance.process_instance_id == historic.id,
                    HistoricActivityInstance.activity_id == "end",
                )
            )
        ).all()
        assert len(ends) == 1


async def test_a_camunda_model_with_juel_a_decision_and_a_candidate_group_runs_end_to_end(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    tenant_a: TenantMember,
    admin: Headers,
) -> None:
    async with seed() as session:
        await add_tenants(session)
    manager = await member(seed, settings, "mia", tenants=["T1"], groups=["managers"])
    await deploy_model(
        client, admin, {"approval.bpmn": approval(), "risk.dmn": risk_decision()}, tenant="T1"
    )
    small = await start(client, tenant_a.headers, "approval", variables=typed(amount=100))
    assert small["ended"] is True
    big = await start(
        client,
        tenant_a.headers,
        "approval",
        variables=typed(amount=5000),
        withVariablesInReturn=True,
    )
    assert big["ended"] is False
    assert big["variables"]["risk"]["value"] == "high"
    assert big["variables"]["starter"]["value"] == "t1-user"
    assert await _tasks(client, tenant_a.headers, candidateUser="t1-user") == []
    [task] = await _tasks(client, manager, candidateUser="mia")
    assert task["taskDefinitionKey"] == "approve"
    assert [t["id"] for t in await _tasks(client, manager, candidateGroup="managers")] == [
        task["id"]
    ]
    done = await client.post(
        f"/task/{task['id']}/complete", json={"variables": typed(approved=True)}, headers=manager
    )
    assert done.status_code == 204, done.text
    async with seed() as session:
        historic = await session.get(HistoricProcessInstance, uuid.UUID(big["id"]))
        assert historic is not None
        assert (historic.state, historic.end_activity_id) == ("COMPLETED", "done")


async def test_bad_variables_are_400_and_change_nothing(
    client: httpx.AsyncClient, tenant_a: TenantMember, world: dict[str, str], seed: Seed
) -> None:
    bad_bodies = [
        {"variables": {"x": {"value": 1, "type": "Banana"}}},
        {"variables": {"x": {"value": "five", "type": "Integer"}}},
        {"variables": {"x" * 300: {"value": 1}}},
        {"variables": {"x": {"value": "y" * (300 * 1024)}}},
    ]
    for body in bad_bodies:
        response = await client.post(
            "/process-definition/key/p/start", json=body, headers=tenant_a.headers
        )
        assert_problem(response, 400)
    async with seed() as session:
        assert (await session.scalars(select(ProcessInstance))).all() == []
        assert (await session.scalars(select(HistoricProcessInstance))).all() == []


async def test_two_parallel_claims_by_different_users_give_the_task_to_one(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, world: dict[str, str]
) -> None:
    ann = await member(seed, settings, "ann", tenants=["T1"])
    bob = await member(seed, settings, "bob", tenants=["T1"])
    await start(client, ann, "p")
    [task] = await _tasks(client, ann)
    responses = await asyncio.gather(
        *(client.post(f"/task/{task['id']}/claim", json={}, headers=h) for h in (ann, bob))
    )
    assert sorted(r.status_code for r in responses) == [204, 409]
    [claimed] = await _tasks(client, ann)
    winner = "ann" if responses[0].status_code == 204 else "bob"
    assert claimed["assignee"] == winner
