"""`/history/...` (CONFORMANCE A1, A2, A4, A7–A9, A11, A12, C7, E2): the read-only history of
process instances, activity instances, tasks, variables and decisions, with Camunda 7's
parameters and shapes.

The rows are seeded directly (system context), as the engine that writes them would: T1 and T2
each get the same small history, under their own deployment of `order` and `dk`. Every history
row belongs to a tenant, so `withoutTenantId=true` matches nothing (A9 for a resource without
shared rows).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.models.history import (
    HistoricActivityInstance,
    HistoricDecisionInstance,
    HistoricProcessInstance,
    HistoricTask,
    HistoricVariable,
)
from tests.api.conftest import (
    Headers,
    Seed,
    TenantMember,
    assert_problem,
    ids,
    ids_and_count,
    member,
)
from tests.api.repository_fixtures import bpmn, deployed, dmn

PROCESS, ACTIVITY, TASK = "/history/process-instance", "/history/activity-instance", "/history/task"
VARIABLE, DECISION = "/history/variable-instance", "/history/decision-instance"
RESOURCES = [PROCESS, ACTIVITY, TASK, VARIABLE, DECISION]
BY_ID = [PROCESS, ACTIVITY, VARIABLE, DECISION]
CAMUNDA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")

PROCESS_FIELDS = {
    "id", "businessKey", "processDefinitionId", "processDefinitionKey", "processDefinitionName",
    "processDefinitionVersion", "startTime", "endTime", "removalTime", "durationInMillis",
    "startUserId", "startActivityId", "deleteReason", "rootProcessInstanceId",
    "superProcessInstanceId", "superCaseInstanceId", "caseInstanceId", "tenantId", "state",
}  # fmt: skip
ACTIVITY_FIELDS = {
    "id", "parentActivityInstanceId", "activityId", "activityName", "activityType",
    "processDefinitionKey", "processDefinitionId", "processInstanceId", "executionId", "taskId",
    "calledProcessInstanceId", "calledCaseInstanceId", "assignee", "startTime", "endTime",
    "durationInMillis", "canceled", "completeScope", "tenantId", "removalTime",
    "rootProcessInstanceId",
}  # fmt: skip
TASK_FIELDS = {
    "id", "processDefinitionKey", "processDefinitionId", "processInstanceId", "executionId",
    "caseDefinitionKey", "caseDefinitionId", "caseInstanceId", "caseExecutionId",
    "activityInstanceId", "name", "description", "deleteReason", "owner", "assignee",
    "startTime", "endTime", "duration", "taskDefinitionKey", "priority", "due", "parentTaskId",
    "followUp", "tenantId", "removalTime", "rootProcessInstanceId",
}  # fmt: skip
VARIABLE_FIELDS = {
    "type", "value", "valueInfo", "id", "name", "processDefinitionKey", "processDefinitionId",
    "processInstanceId", "executionId", "activityInstanceId", "caseDefinitionKey",
    "caseDefinitionId", "caseInstanceId", "caseExecutionId", "taskId", "errorMessage",
    "tenantId", "state", "createTime", "removalTime", "rootProcessInstanceId",
}  # fmt: skip
DECISION_FIELDS = {
    "id", "decisionDefinitionId", "decisionDefinitionKey", "decisionDefinitionName",
    "evaluationTime", "removalTime", "processDefinitionId", "processDefinitionKey",
    "processInstanceId", "rootProcessInstanceId", "caseDefinitionId", "caseDefinitionKey",
    "caseInstanceId", "activityId", "activityInstanceId", "userId", "collectResultValue",
    "rootDecisionInstanceId", "decisionRequirementsDefinitionId",
    "decisionRequirementsDefinitionKey", "tenantId",
}  # fmt: skip
INPUT_FIELDS = {
    "type", "value", "valueInfo", "id", "decisionInstanceId", "clauseId", "clauseName",
    "errorMessage", "createTime", "removalTime", "rootProcessInstanceId",
}  # fmt: skip
OUTPUT_FIELDS = INPUT_FIELDS | {"ruleId", "ruleOrder", "variableName"}
FIELDS = {
    PROCESS: PROCESS_FIELDS,
    ACTIVITY: ACTIVITY_FIELDS,
    TASK: TASK_FIELDS,
    VARIABLE: VARIABLE_FIELDS,
    DECISION: DECISION_FIELDS,
}


@dataclass
class Seeded:
    """One tenant's history. Instances: `parent` (running, started by the tenant's user),
    `child` (finished, called by parent), `old` (externally terminated). Variables: four
    visible plus `gone` (DELETED). Decisions: one in `parent`, one evaluated over the API."""

    tenant: str
    process_definition_id: str
    decision_definition_id: str
    base: datetime
    instances: dict[str, uuid.UUID] = field(default_factory=dict)
    activities: dict[str, uuid.UUID] = field(default_factory=dict)
    tasks: dict[str, uuid.UUID] = field(default_factory=dict)
    variables: dict[str, uuid.UUID] = field(default_factory=dict)
    decisions: dict[str, uuid.UUID] = field(default_factory=dict)

    def ids(self, path: str) -> list[str]:
        """Ids a plain list of `path` returns for this tenant (DELETED variables left out)."""
        found = {
            PROCESS: self.instances,
            ACTIVITY: self.activities,
            TASK: self.tasks,
            VARIABLE: {k: v for k, v in self.variables.items() if k != "gone"},
            DECISION: self.decisions,
        }[path]
        return [str(i) for i in found.values()]


@dataclass
class HistoryWorld:
    admin: Headers
    t1: Headers
    t2: Headers
    t12: Headers  # member of T1 and T2
    tenants: dict[str, Seeded]

    def ids(self, path: str, *tenants: str) -> list[str]:
        return sorted(i for t in tenants for i in self.tenants[t].ids(path))


def at(seeded: Seeded, **delta: float) -> datetime:
    return seeded.base + timedelta(**delta)


async def seed_history(seed: Seeded, session: AsyncSession) -> None:
    def new_id() -> uuid.UUID:
        return uuid.uuid4()

    tenant, definition = seed.tenant, seed.process_definition_id
    parent, child, old = new_id(), new_id(), new_id()
    seed.instances = {"parent": parent, "child": child, "old": old}
    common = {
        "tenant_id": tenant,
        "process_definition_id": definition,
        "process_definition_key": "order",
        "process_definition_name": "Order",
        "process_definition_version": 1,
    }
    session.add_all(
        [
            HistoricProcessInstance(
                id=parent,
                **common,
                business_key=f"{tenant}-parent",
                start_user_id=f"{tenant.lower()}-user",
                start_time=at(seed),
                start_activity_id="start",
                root_process_instance_id=parent,
                state="ACTIVE",
            ),
            HistoricProcessInstance(
                id=child,
                **common,
                business_key=f"{tenant}-child",
                start_time=at(seed, minutes=1),
                end_time=at(seed, minutes=2, seconds=30, microseconds=250_900),
                start_activity_id="start",
                end_activity_id="end",
                super_process_instance_id=parent,
                root_process_instance_id=parent,
                state="COMPLETED",
            ),
            HistoricProcessInstance(
                id=old,
                **common,
                business_key=None,
                start_time=at(seed, minutes=-30),
                end_time=at(seed, minutes=-20),
                start_activity_id="start",
                root_process_instance_id=old,
                state="EXTERNALLY_TERMINATED",
                delete_reason="canceled by test",
            ),
        ]
    )
    await session.flush()

    review_task, child_task, old_task = new_id(), new_id(), new_id()
    seed.tasks = {"review": review_task, "check": child_task, "approve": old_task}
    task_common = {
        "tenant_id": tenant,
        "process_definition_id": definition,
        "process_definition_key": "order",
    }
    session.add_all(
        [
            HistoricTask(
                id=review_task,
                **task_common,
                process_instance_id=parent,
                task_definition_key="review",
                name="Review order",
                assignee="alice",
                owner="olga",
                priority=50,
                start_time=at(seed, seconds=1),
            ),
            HistoricTask(
                id=child_task,
                **task_common,
                process_instance_id=child,
                task_definition_key="check",
                name="Check",
                assignee="bob",
                priority=70,
                start_time=at(seed, minutes=1, seconds=1),
                end_time=at(seed, minutes=2),
                delete_reason="completed",
            ),
            HistoricTask(
                id=old_task,
                **task_common,
                process_instance_id=old,
                task_definition_key="approve",
                name="Approve",
                priority=80,
                start_time=at(seed, minutes=-29),
                end_time=at(seed, minutes=-20),
                delete_reason="deleted",
            ),
        ]
    )

    start, review, call, canceled = new_id(), new_id(), new_id(), new_id()
    seed.activities = {"start": start, "review": review, "call": call, "canceled": canceled}
    activity_common = {"tenant_id": tenant, "process_definition_id": definition}
    session.add_all(
        [
            HistoricActivityInstance(
                id=start,
                **activity_common,
                process_instance_id=parent,
                activity_id="start",
                activity_name="Start",
                activity_type="startEvent",
                start_time=at(seed),
                end_time=at(seed, milliseconds=5),
            ),
            HistoricActivityInstance(
                id=review,
                **activity_common,
                process_instance_id=parent,
                activity_id="review",
                activity_name="Review order",
                activity_type="userTask",
                task_id=review_task,
                assignee="alice",
                start_time=at(seed, seconds=1),
            ),
            HistoricActivityInstance(
                id=call,
                **activity_common,
                process_instance_id=parent,
                activity_id="callCheck",
                activity_name=None,
                activity_type="callActivity",
                called_process_instance_id=child,
                start_time=at(seed, minutes=1),
                end_time=at(seed, minutes=2, seconds=30),
            ),
            HistoricActivityInstance(
                id=canceled,
                **activity_common,
                process_instance_id=old,
                activity_id="approve",
                activity_name="Approve",
                activity_type="userTask",
                task_id=old_task,
                start_time=at(seed, minutes=-29),
                end_time=at(seed, minutes=-20),
                canceled=True,
            ),
        ]
    )

    variables = {
        "amount": (parent, "Integer", 42, "CREATED"),
        "order": (parent, "Json", {"items": [1, 2], "rush": False}, "CREATED"),
        "note": (parent, "String", f"hello from {tenant}", "CREATED"),
        "flag": (child, "Boolean", True, "CREATED"),
        "gone": (parent, "String", "removed", "DELETED"),
    }
    for offset, (name, (instance, type_name, value, state)) in enumerate(variables.items()):
        variable_id = new_id()
        seed.variables[name] = variable_id
        session.add(
            HistoricVariable(
                id=variable_id,
                tenant_id=tenant,
                process_instance_id=instance,
                process_definition_key="order",
                name=name,
                type=type_name,
                value=value,
                state=state,
                create_time=at(seed, seconds=offset),
            )
        )

    in_process, standalone = new_id(), new_id()
    seed.decisions = {"in-process": in_process, "standalone": standalone}
    decision_common = {
        "tenant_id": tenant,
        "decision_definition_id": seed.decision_definition_id,
        "decision_definition_key": "dk",
        "decision_definition_name": "Decide",
    }
    session.add_all(
        [
            HistoricDecisionInstance(
                id=in_process,
                **decision_common,
                evaluation_time=at(seed, seconds=2),
                process_instance_id=parent,
                process_definition_id=definition,
                process_definition_key="order",
                activity_id="decide",
                inputs=[{"name": "Amount", "value": 42}, {"name": "Items", "value": [1, 2]}],
                outputs=[
                    {"ruleOrder": 1, "outputs": {"result": "big", "score": 1.5}},
                    {"ruleOrder": 3, "outputs": {"result": "rush"}},
                ],
            ),
            HistoricDecisionInstance(
                id=standalone,
                **decision_common,
                evaluation_time=at(seed, minutes=-40),
                user_id=f"{tenant.lower()}-user",
                inputs=[{"name": "Amount", "value": 5}],
                outputs=[],
            ),
        ]
    )


@pytest.fixture
async def world(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
) -> HistoryWorld:
    tenants: dict[str, Seeded] = {}
    for offset, tenant in enumerate(("T1", "T2")):
        files = {"order.bpmn": bpmn("order", "Order"), "dk.dmn": dmn("dk", "Decide")}
        body = await deployed(client, admin, files, tenant=tenant)
        [process_id] = body["deployedProcessDefinitions"]
        [decision_id] = body["deployedDecisionDefinitions"]
        base = datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(days=offset)
        tenants[tenant] = Seeded(tenant, process_id, decision_id, base)
        async with seed() as session:
            await seed_history(tenants[tenant], session)
    t12 = await member(seed, settings, "t12-user", tenants=["T1", "T2"])
    return HistoryWorld(admin, tenant_a.headers, tenant_b.headers, t12, tenants)


async def sorted_ids(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[str]:
    return sorted(await ids_and_count(client, path, headers, **params))


async def rows(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


# --------------------------------------------------------------------------- A1, A2, A4


@pytest.mark.parametrize("path", RESOURCES)
async def test_a1_member_of_t1_sees_t1_history_only_never_t2s(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    assert await sorted_ids(client, path, world.t1) == world.ids(path, "T1")
    assert await sorted_ids(client, path, world.t2) == world.ids(path, "T2")
    assert {r["tenantId"] for r in await rows(client, path, world.t1)} == {"T1"}


@pytest.mark.parametrize("path", RESOURCES)
async def test_a2_a4_member_of_both_and_admin_see_every_tenants_history(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    both = world.ids(path, "T1", "T2")
    assert await sorted_ids(client, path, world.t12) == both
    assert await sorted_ids(client, path, world.admin) == both


# --------------------------------------------------------------------------- A7, A8, A9


@pytest.mark.parametrize("path", RESOURCES)
async def test_a7_tenant_id_in_another_tenant_returns_nothing(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    assert await ids_and_count(client, path, world.t1, tenantIdIn="T2") == []
    assert await sorted_ids(client, path, world.t1, tenantIdIn="T1,T2") == world.ids(path, "T1")
    assert await sorted_ids(client, path, world.t2, tenantIdIn="T1,T2") == world.ids(path, "T2")


@pytest.mark.parametrize("path", RESOURCES)
async def test_a8_tenant_id_in_is_the_union_and_unknown_tenants_match_nothing(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    both = world.ids(path, "T1", "T2")
    assert await sorted_ids(client, path, world.admin, tenantIdIn="T1,T2") == both
    assert await sorted_ids(client, path, world.t12, tenantIdIn="T2,T1") == both
    assert await sorted_ids(client, path, world.admin, tenantIdIn="T2") == world.ids(path, "T2")
    assert await sorted_ids(client, path, world.admin, tenantIdIn="T1,nope") == world.ids(
        path, "T1"
    )
    assert await ids_and_count(client, path, world.admin, tenantIdIn="nope") == []


@pytest.mark.parametrize("path", RESOURCES)
async def test_a9_without_tenant_id_matches_nothing_since_history_is_never_shared(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    for caller in (world.admin, world.t1, world.t12):
        assert await ids_and_count(client, path, caller, withoutTenantId="true") == []
    assert await sorted_ids(client, path, world.t1, withoutTenantId="false") == world.ids(
        path, "T1"
    )
    params = {"tenantIdIn": "T1", "withoutTenantId": "true"}
    for suffix in ("", "/count"):
        response = await client.get(f"{path}{suffix}", params=params, headers=world.admin)
        assert "withoutTenantId" in assert_problem(response, 400)["detail"]


# --------------------------------------------------------------------------- A11


@pytest.mark.parametrize("path", RESOURCES)
async def test_a11_sort_by_tenant_id_both_ways(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    asc = await rows(client, path, world.admin, sortBy="tenantId", sortOrder="asc")
    desc = await rows(client, path, world.admin, sortBy="tenantId", sortOrder="desc")
    per_tenant = len(world.ids(path, "T1"))
    assert [r["tenantId"] for r in asc] == ["T1"] * per_tenant + ["T2"] * per_tenant
    assert [r["id"] for r in desc] == [r["id"] for r in asc][::-1]
    paged: list[dict[str, Any]] = []
    for first in range(0, len(asc), 2):
        page = {"sortBy": "tenantId", "firstResult": first, "maxResults": 2}
        paged.extend(await rows(client, path, world.admin, **page))
    assert paged == asc
    # a member's sort never brings in the other tenant
    mine = await rows(client, path, world.t2, sortBy="tenantId", sortOrder="desc")
    assert sorted(r["id"] for r in mine) == world.ids(path, "T2")


SORT_KEYS: dict[str, list[str]] = {
    PROCESS: [
        "instanceId", "definitionId", "definitionKey", "definitionName", "definitionVersion",
        "businessKey", "startTime", "endTime", "duration", "tenantId",
    ],
    ACTIVITY: [
        "activityInstanceId", "instanceId", "activityId", "activityName", "activityType",
        "startTime", "endTime", "duration", "definitionId", "tenantId",
    ],
    TASK: [
        "taskId", "processDefinitionId", "processInstanceId", "taskName", "taskDefinitionKey",
        "assignee", "owner", "deleteReason", "startTime", "endTime", "duration", "priority",
        "tenantId",
    ],
    VARIABLE: ["instanceId", "variableName", "tenantId"],
    DECISION: ["evaluationTime", "tenantId"],
}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "sort_by"), [(path, key) for path, keys in SORT_KEYS.items() for key in keys]
)
async def test_every_camunda_sort_key_works_both_ways(
    client: httpx.AsyncClient, world: HistoryWorld, path: str, sort_by: str
) -> None:
    asc = await ids(client, path, world.admin, sortBy=sort_by, sortOrder="asc")
    desc = await ids(client, path, world.admin, sortBy=sort_by, sortOrder="desc")
    assert sorted(asc) == world.ids(path, "T1", "T2")
    assert desc == asc[::-1]


@pytest.mark.parametrize(
    ("path", "sort_by", "field", "expected"),
    [
        (PROCESS, "startTime", "businessKey", [None, "T1-parent", "T1-child"]),
        (PROCESS, "duration", "businessKey", ["T1-parent", "T1-child", None]),  # NULL first
        (PROCESS, "endTime", "state", ["ACTIVE", "EXTERNALLY_TERMINATED", "COMPLETED"]),
        (ACTIVITY, "startTime", "activityId", ["approve", "start", "review", "callCheck"]),
        (ACTIVITY, "duration", "activityId", ["review", "start", "callCheck", "approve"]),
        (TASK, "priority", "taskDefinitionKey", ["review", "check", "approve"]),
        (TASK, "assignee", "assignee", [None, "alice", "bob"]),
        (VARIABLE, "variableName", "name", ["amount", "flag", "note", "order"]),
        (DECISION, "evaluationTime", "activityId", [None, "decide"]),
    ],
)
async def test_sorting_orders_by_the_named_column(
    client: httpx.AsyncClient,
    world: HistoryWorld,
    path: str,
    sort_by: str,
    field: str,
    expected: list[Any],
) -> None:
    found = await rows(client, path, world.t1, sortBy=sort_by)
    assert [r[field] for r in found] == expected


# --------------------------------------------------------------------------- A12


FILTERS: dict[str, list[dict[str, str]]] = {
    PROCESS: [
        {},
        {"finished": "true"},
        {"unfinished": "true", "tenantIdIn": "T1,T2"},
        {"finished": "false", "unfinished": "false"},
        {"processDefinitionKey": "order", "rootProcessInstances": "true"},
        {"processInstanceBusinessKeyLike": "T1-%"},
        {"processDefinitionKeyIn": "order,other", "finished": "true"},
        {"processDefinitionKeyNotIn": "order"},
        {"processDefinitionNameLike": "Ord%", "tenantIdIn": "T2"},
        {"startedBy": "t1-user"},
        {"processInstanceIds": "not-a-uuid"},
    ],
    ACTIVITY: [
        {},
        {"finished": "true"},
        {"unfinished": "true"},
        {"canceled": "true", "tenantIdIn": "T2"},
        {"activityType": "userTask"},
        {"taskAssignee": "alice"},
        {"activityNameLike": "Rev%"},
        {"activityId": "callCheck", "finished": "true"},
    ],
    TASK: [
        {},
        {"finished": "true"},
        {"unfinished": "true"},
        {"assigned": "true"},
        {"unassigned": "true", "tenantIdIn": "T1"},
        {"taskDefinitionKeyIn": "review,check"},
        {"taskNameLike": "%e%", "taskPriority": "50"},
        {"taskDeleteReason": "completed"},
        {"taskAssigneeLike": "a%"},
        {"taskOwner": "olga"},
    ],
    VARIABLE: [
        {},
        {"includeDeleted": "true"},
        {"variableNameLike": "%o%"},
        {"variableNameIn": "amount,gone", "includeDeleted": "true"},
        {"variableTypeIn": "string,json"},
        {"processDefinitionKey": "order", "tenantIdIn": "T2"},
    ],
    DECISION: [
        {},
        {"decisionDefinitionKey": "dk"},
        {"decisionDefinitionKeyIn": "dk,other", "tenantIdIn": "T1"},
        {"decisionDefinitionNameLike": "Dec%"},
        {"activityIdIn": "decide"},
        {"processDefinitionKey": "order"},
        {"includeInputs": "true", "includeOutputs": "true"},
    ],
}


@pytest.mark.parametrize("path", RESOURCES)
async def test_a12_count_matches_the_list_for_every_filter(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    for caller in (world.admin, world.t1, world.t2, world.t12):
        for params in FILTERS[path]:
            await ids_and_count(client, path, caller, **params)  # asserts count == len(list)
    paged = await client.get(f"{path}/count", params={"maxResults": 1}, headers=world.admin)
    assert paged.json() == {"count": len(world.ids(path, "T1", "T2"))}  # no paging on /count


# --------------------------------------------------------------------------- filters


def labels(world: HistoryWorld, tenant: str, path: str, *names: str) -> list[str]:
    seeded = world.tenants[tenant]
    found = {
        PROCESS: seeded.instances,
        ACTIVITY: seeded.activities,
        TASK: seeded.tasks,
        VARIABLE: seeded.variables,
        DECISION: seeded.decisions,
    }[path]
    return sorted(str(found[n]) for n in names)


async def test_process_instance_filters(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]
    parent, child, old = (str(t1.instances[n]) for n in ("parent", "child", "old"))
    theirs = str(world.tenants["T2"].instances["parent"])

    async def found(**params: str) -> list[str]:
        return await sorted_ids(client, PROCESS, world.t1, **params)

    assert await found(finished="true") == sorted([child, old])
    assert await found(unfinished="true") == [parent]
    assert await found(processInstanceId=parent) == [parent]
    assert await found(processInstanceId=theirs) == []
    assert await found(processInstanceId="not-a-uuid") == []
    assert await found(processInstanceIds=f"{parent},{old},{theirs},junk") == sorted([parent, old])
    assert await found(processInstanceBusinessKey="T1-child") == [child]
    assert await found(processInstanceBusinessKeyLike="%-parent") == [parent]
    assert await found(superProcessInstanceId=parent) == [child]
    assert await found(superProcessInstanceId="junk") == []
    assert await found(rootProcessInstances="true") == sorted([parent, old])
    assert await found(startedBy="t1-user") == [parent]
    assert await found(processDefinitionId=t1.process_definition_id) == sorted([parent, child, old])
    assert await found(processDefinitionId=world.tenants["T2"].process_definition_id) == []
    assert await found(processDefinitionKey="nope") == []
    assert await found(processDefinitionName="Order", finished="true") == sorted([child, old])
    # T2's member asking for T1's instance by id: nothing, not an error
    assert await sorted_ids(client, PROCESS, world.t2, processInstanceId=parent) == []


async def test_activity_instance_filters(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]
    parent = str(t1.instances["parent"])

    async def found(**params: str) -> list[str]:
        return await sorted_ids(client, ACTIVITY, world.t1, **params)

    assert await found(processInstanceId=parent) == labels(
        world, "T1", ACTIVITY, "start", "review", "call"
    )
    assert await found(processInstanceId="junk") == []
    assert await found(activityInstanceId=str(t1.activities["call"])) == labels(
        world, "T1", ACTIVITY, "call"
    )
    assert await found(unfinished="true") == labels(world, "T1", ACTIVITY, "review")
    assert await found(finished="true", activityType="userTask") == labels(
        world, "T1", ACTIVITY, "canceled"
    )
    assert await found(canceled="true") == labels(world, "T1", ACTIVITY, "canceled")
    assert await found(taskAssignee="alice") == labels(world, "T1", ACTIVITY, "review")
    assert await found(activityName="Approve") == labels(world, "T1", ACTIVITY, "canceled")
    assert await found(processDefinitionId=t1.process_definition_id) == sorted(t1.ids(ACTIVITY))


async def test_task_filters(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]

    async def found(**params: str) -> list[str]:
        return await sorted_ids(client, TASK, world.t1, **params)

    assert await found(finished="true") == labels(world, "T1", TASK, "check", "approve")
    assert await found(unfinished="true") == labels(world, "T1", TASK, "review")
    assert await found(taskId=str(t1.tasks["check"])) == labels(world, "T1", TASK, "check")
    assert await found(taskId="junk") == []
    assert await found(processInstanceId=str(t1.instances["old"])) == labels(
        world, "T1", TASK, "approve"
    )
    assert await found(taskAssignee="bob") == labels(world, "T1", TASK, "check")
    assert await found(assigned="true") == labels(world, "T1", TASK, "review", "check")
    assert await found(unassigned="true") == labels(world, "T1", TASK, "approve")
    assert await found(taskDefinitionKey="review", taskName="Review order") == labels(
        world, "T1", TASK, "review"
    )
    assert await found(taskPriority="80") == labels(world, "T1", TASK, "approve")
    assert await found(processDefinitionKey="order", taskDeleteReason="deleted") == labels(
        world, "T1", TASK, "approve"
    )


async def test_variable_filters_and_deleted_variables(
    client: httpx.AsyncClient, world: HistoryWorld
) -> None:
    t1 = world.tenants["T1"]
    parent, child = str(t1.instances["parent"]), str(t1.instances["child"])

    async def found(**params: str) -> list[str]:
        return await sorted_ids(client, VARIABLE, world.t1, **params)

    assert await found(variableName="gone") == []
    assert await found(variableName="gone", includeDeleted="true") == labels(
        world, "T1", VARIABLE, "gone"
    )
    assert await found(processInstanceId=child) == labels(world, "T1", VARIABLE, "flag")
    assert await found(processInstanceIdIn=f"{child},junk,{parent}") == sorted(t1.ids(VARIABLE))
    assert await found(variableNameLike="%o%") == labels(
        world, "T1", VARIABLE, "amount", "note", "order"
    )
    assert await found(variableTypeIn="Boolean,INTEGER") == labels(
        world, "T1", VARIABLE, "flag", "amount"
    )
    assert await found(processDefinitionKey="nope") == []
    deleted = await rows(client, VARIABLE, world.t1, variableName="gone", includeDeleted="true")
    assert [r["state"] for r in deleted] == ["DELETED"]


async def test_decision_instance_filters(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]

    async def found(**params: str) -> list[str]:
        return await sorted_ids(client, DECISION, world.t1, **params)

    in_process = labels(world, "T1", DECISION, "in-process")
    assert await found(processInstanceId=str(t1.instances["parent"])) == in_process
    assert await found(processInstanceId="junk") == []
    assert await found(decisionInstanceId=str(t1.decisions["standalone"])) == labels(
        world, "T1", DECISION, "standalone"
    )
    both = f"{t1.decisions['standalone']},{world.tenants['T2'].decisions['standalone']},junk"
    assert await found(decisionInstanceIdIn=both) == labels(world, "T1", DECISION, "standalone")
    assert await found(decisionDefinitionId=t1.decision_definition_id) == sorted(t1.ids(DECISION))
    assert await found(decisionDefinitionIdIn=world.tenants["T2"].decision_definition_id) == []
    assert await found(processDefinitionId=t1.process_definition_id) == in_process
    assert await found(activityIdIn="decide,other") == in_process
    assert await found(userId="t1-user") == labels(world, "T1", DECISION, "standalone")
    assert await found(decisionDefinitionName="Decide", decisionDefinitionKey="dk") == sorted(
        t1.ids(DECISION)
    )


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("path", RESOURCES)
async def test_every_row_has_camundas_field_names(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    found = await rows(client, path, world.admin)
    assert found
    for row in found:
        assert set(row) == FIELDS[path], path
        for key, value in row.items():
            if key.endswith("Time") and value is not None:
                assert CAMUNDA_TIME.match(value), (key, value)


async def test_process_instance_shape(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]
    parent, child = str(t1.instances["parent"]), str(t1.instances["child"])
    read = (await client.get(f"{PROCESS}/{child}", headers=world.t1)).json()
    assert read == {
        "id": child,
        "businessKey": "T1-child",
        "processDefinitionId": t1.process_definition_id,
        "processDefinitionKey": "order",
        "processDefinitionName": "Order",
        "processDefinitionVersion": 1,
        "startTime": "2026-03-01T09:01:00.000+0000",
        "endTime": "2026-03-01T09:02:30.250+0000",
        "removalTime": None,
        "durationInMillis": 90_250,
        "startUserId": None,
        "startActivityId": "start",
        "deleteReason": None,
        "rootProcessInstanceId": parent,
        "superProcessInstanceId": parent,
        "superCaseInstanceId": None,
        "caseInstanceId": None,
        "tenantId": "T1",
        "state": "COMPLETED",
    }
    [listed] = await rows(client, PROCESS, world.t1, processInstanceId=child)
    assert listed == read
    running = (await client.get(f"{PROCESS}/{parent}", headers=world.t1)).json()
    assert (running["endTime"], running["durationInMillis"], running["state"]) == (
        None,
        None,
        "ACTIVE",
    )
    assert running["startUserId"] == "t1-user"
    old = (await client.get(f"{PROCESS}/{t1.instances['old']}", headers=world.t1)).json()
    assert (old["deleteReason"], old["durationInMillis"]) == ("canceled by test", 600_000)


async def test_activity_instance_shape(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]
    review_id = str(t1.activities["review"])
    [review] = await rows(client, ACTIVITY, world.t1, activityInstanceId=review_id)
    assert review == {
        "id": review_id,
        "parentActivityInstanceId": None,
        "activityId": "review",
        "activityName": "Review order",
        "activityType": "userTask",
        "processDefinitionKey": "order",
        "processDefinitionId": t1.process_definition_id,
        "processInstanceId": str(t1.instances["parent"]),
        "executionId": None,
        "taskId": str(t1.tasks["review"]),
        "calledProcessInstanceId": None,
        "calledCaseInstanceId": None,
        "assignee": "alice",
        "startTime": "2026-03-01T09:00:01.000+0000",
        "endTime": None,
        "durationInMillis": None,
        "canceled": False,
        "completeScope": None,
        "tenantId": "T1",
        "removalTime": None,
        "rootProcessInstanceId": str(t1.instances["parent"]),
    }
    assert (await client.get(f"{ACTIVITY}/{review_id}", headers=world.t1)).json() == review
    call = (await client.get(f"{ACTIVITY}/{t1.activities['call']}", headers=world.t1)).json()
    assert call["calledProcessInstanceId"] == str(t1.instances["child"])
    assert call["durationInMillis"] == 90_000
    start = (await client.get(f"{ACTIVITY}/{t1.activities['start']}", headers=world.t1)).json()
    assert start["durationInMillis"] == 5


async def test_task_shape(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    t1 = world.tenants["T1"]
    check_id = str(t1.tasks["check"])
    [check] = await rows(client, TASK, world.t1, taskId=check_id)
    assert check == {
        "id": check_id,
        "processDefinitionKey": "order",
        "processDefinitionId": t1.process_definition_id,
        "processInstanceId": str(t1.instances["child"]),
        "executionId": None,
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "activityInstanceId": None,
        "name": "Check",
        "description": None,
        "deleteReason": "completed",
        "owner": None,
        "assignee": "bob",
        "startTime": "2026-03-01T09:01:01.000+0000",
        "endTime": "2026-03-01T09:02:00.000+0000",
        "duration": 59_000,
        "taskDefinitionKey": "check",
        "priority": 70,
        "due": None,
        "parentTaskId": None,
        "followUp": None,
        "tenantId": "T1",
        "removalTime": None,
        "rootProcessInstanceId": str(t1.instances["parent"]),
    }


async def test_variable_shape_and_typed_values(
    client: httpx.AsyncClient, world: HistoryWorld
) -> None:
    t1 = world.tenants["T1"]
    found = {r["name"]: r for r in await rows(client, VARIABLE, world.t1)}
    # Json comes out as JSON text, as Camunda's (jsonb keeps no key order)
    order_text = found["order"]["value"]
    assert isinstance(order_text, str) and json.loads(order_text) == {
        "items": [1, 2],
        "rush": False,
    }
    assert found["order"] == {
        "type": "Json",
        "value": order_text,
        "valueInfo": {},
        "id": str(t1.variables["order"]),
        "name": "order",
        "processDefinitionKey": "order",
        "processDefinitionId": t1.process_definition_id,
        "processInstanceId": str(t1.instances["parent"]),
        "executionId": None,
        "activityInstanceId": None,
        "caseDefinitionKey": None,
        "caseDefinitionId": None,
        "caseInstanceId": None,
        "caseExecutionId": None,
        "taskId": None,
        "errorMessage": None,
        "tenantId": "T1",
        "state": "CREATED",
        "createTime": "2026-03-01T09:00:01.000+0000",
        "removalTime": None,
        "rootProcessInstanceId": str(t1.instances["parent"]),
    }
    typed = {name: (r["type"], r["value"]) for name, r in found.items()}
    assert typed == {
        "amount": ("Integer", 42),
        "order": ("Json", order_text),
        "note": ("String", "hello from T1"),
        "flag": ("Boolean", True),
    }
    by_id = await client.get(f"{VARIABLE}/{t1.variables['order']}", headers=world.t1)
    assert by_id.json() == found["order"]
    # like Camunda's query by id, a DELETED variable is not found
    gone = await client.get(f"{VARIABLE}/{t1.variables['gone']}", headers=world.t1)
    assert_problem(gone, 404)


async def test_decision_instance_shape_inputs_and_outputs(
    client: httpx.AsyncClient, world: HistoryWorld
) -> None:
    t1 = world.tenants["T1"]
    decision_id = str(t1.decisions["in-process"])
    [plain] = await rows(client, DECISION, world.t1, decisionInstanceId=decision_id)
    assert plain == {
        "id": decision_id,
        "decisionDefinitionId": t1.decision_definition_id,
        "decisionDefinitionKey": "dk",
        "decisionDefinitionName": "Decide",
        "evaluationTime": "2026-03-01T09:00:02.000+0000",
        "removalTime": None,
        "processDefinitionId": t1.process_definition_id,
        "processDefinitionKey": "order",
        "processInstanceId": str(t1.instances["parent"]),
        "rootProcessInstanceId": None,
        "caseDefinitionId": None,
        "caseDefinitionKey": None,
        "caseInstanceId": None,
        "activityId": "decide",
        "activityInstanceId": None,
        "userId": None,
        "collectResultValue": None,
        "rootDecisionInstanceId": None,
        "decisionRequirementsDefinitionId": None,
        "decisionRequirementsDefinitionKey": None,
        "tenantId": "T1",
    }  # no "inputs"/"outputs" keys unless asked for
    params = {"decisionInstanceId": decision_id, "includeInputs": "true"}
    [with_inputs] = await rows(client, DECISION, world.t1, **params)
    assert set(with_inputs) == DECISION_FIELDS | {"inputs"}
    evaluated = "2026-03-01T09:00:02.000+0000"
    common = {
        "id": None,
        "decisionInstanceId": decision_id,
        "clauseId": None,
        "errorMessage": None,
        "createTime": evaluated,
        "removalTime": None,
        "rootProcessInstanceId": None,
        "valueInfo": {},
    }
    assert with_inputs["inputs"] == [
        {**common, "clauseName": "Amount", "type": "Integer", "value": 42},
        {**common, "clauseName": "Items", "type": "Json", "value": "[1,2]"},
    ]
    [with_both] = await rows(client, DECISION, world.t1, **params, includeOutputs="true")
    assert set(with_both) == DECISION_FIELDS | {"inputs", "outputs"}
    out = {**common, "ruleId": None}
    # jsonb keeps no key order: within one rule the outputs come in jsonb's order
    outputs = sorted(with_both["outputs"], key=lambda o: (o["ruleOrder"], o["variableName"]))
    assert [o["ruleOrder"] for o in with_both["outputs"]] == [1, 1, 3]
    assert outputs == [
        {**out, "ruleOrder": 1, "clauseName": "result", "variableName": "result",
         "type": "String", "value": "big"},
        {**out, "ruleOrder": 1, "clauseName": "score", "variableName": "score",
         "type": "Double", "value": 1.5},
        {**out, "ruleOrder": 3, "clauseName": "result", "variableName": "result",
         "type": "String", "value": "rush"},
    ]  # fmt: skip
    for item in with_both["inputs"]:
        assert set(item) == INPUT_FIELDS
    for item in with_both["outputs"]:
        assert set(item) == OUTPUT_FIELDS
    only_outputs = await client.get(
        f"{DECISION}/{decision_id}", params={"includeOutputs": "true"}, headers=world.t1
    )
    assert set(only_outputs.json()) == DECISION_FIELDS | {"outputs"}
    assert only_outputs.json()["outputs"] == with_both["outputs"]
    by_id = (await client.get(f"{DECISION}/{decision_id}", headers=world.t1)).json()
    assert by_id == plain
    standalone = str(t1.decisions["standalone"])
    read = await client.get(
        f"{DECISION}/{standalone}",
        params={"includeInputs": "true", "includeOutputs": "true"},
        headers=world.t1,
    )
    body = read.json()
    assert (body["processInstanceId"], body["userId"], body["outputs"]) == (None, "t1-user", [])
    assert [(i["clauseName"], i["value"]) for i in body["inputs"]] == [("Amount", 5)]


# --------------------------------------------------------------------------- read one (A1)


def _by_id_of(world: HistoryWorld, path: str, tenant: str) -> str:
    seeded = world.tenants[tenant]
    return str(
        {
            PROCESS: seeded.instances["parent"],
            ACTIVITY: seeded.activities["review"],
            VARIABLE: seeded.variables["amount"],
            DECISION: seeded.decisions["in-process"],
        }[path]
    )


@pytest.mark.parametrize("path", BY_ID)
async def test_a1_another_tenants_row_by_id_is_404_like_a_random_id(
    client: httpx.AsyncClient, world: HistoryWorld, path: str
) -> None:
    theirs = _by_id_of(world, path, "T2")
    hidden = await client.get(f"{path}/{theirs}", headers=world.t1)
    assert_problem(hidden, 404)
    for random in (str(uuid.uuid4()), "not-a-uuid"):
        missing = await client.get(f"{path}/{random}", headers=world.t1)
        assert missing.content == hidden.content, random
    assert theirs not in hidden.text
    for caller in (world.t2, world.t12, world.admin):
        found = await client.get(f"{path}/{theirs}", headers=caller)
        assert found.status_code == 200, found.text
        assert found.json()["id"] == theirs and found.json()["tenantId"] == "T2"


async def test_a14_history_needs_a_token(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    parent = _by_id_of(world, PROCESS, "T1")
    for path in (*RESOURCES, *(f"{p}/count" for p in RESOURCES), f"{PROCESS}/{parent}"):
        assert_problem(await client.get(path), 401)


# --------------------------------------------------------------------------- bad input


BAD_INPUT: list[tuple[str, dict[str, str], str]] = [
    *((path, {"sortBy": "bogus"}, "sortBy") for path in RESOURCES),
    *((path, {"sortOrder": "asc"}, "sortBy") for path in RESOURCES),
    *((path, {"maxResults": "-1"}, "maxResults") for path in RESOURCES),
    *((path, {"firstResult": "-5"}, "firstResult") for path in RESOURCES),
    *((path, {"finished": "true", "unfinished": "true"}, "unfinished") for path in [
        PROCESS, ACTIVITY, TASK
    ]),
    (TASK, {"assigned": "true", "unassigned": "true"}, "unassigned"),
    (DECISION, {"sortBy": "decisionInstanceId"}, "sortBy"),  # not one of Camunda's two
    (VARIABLE, {"sortBy": "name"}, "sortBy"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "params", "mentions"), BAD_INPUT)
async def test_bad_list_parameters_are_400_problems(
    client: httpx.AsyncClient,
    world: HistoryWorld,
    path: str,
    params: dict[str, str],
    mentions: str,
) -> None:
    body = assert_problem(await client.get(path, params=params, headers=world.t1), 400)
    assert mentions in body["detail"]
    if "sortBy" not in params and "sortOrder" not in params and "Result" not in mentions:
        counted = await client.get(f"{path}/count", params=params, headers=world.t1)
        assert mentions in assert_problem(counted, 400)["detail"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (PROCESS, {"finished": "maybe"}),
        (TASK, {"taskPriority": "high"}),
        (ACTIVITY, {"sortBy": "startTime", "sortOrder": "sideways"}),
        (DECISION, {"maxResults": "many"}),
    ],
)
async def test_malformed_values_are_400_problems(
    client: httpx.AsyncClient, world: HistoryWorld, path: str, params: dict[str, str]
) -> None:
    body = assert_problem(await client.get(path, params=params, headers=world.t1), 400)
    assert body["errors"]


async def test_max_results_pages_the_list(client: httpx.AsyncClient, world: HistoryWorld) -> None:
    every = await ids(client, TASK, world.admin, sortBy="startTime")
    first = await ids(client, TASK, world.admin, sortBy="startTime", maxResults=2)
    rest = await ids(client, TASK, world.admin, sortBy="startTime", firstResult=2)
    assert first + rest == every and len(first) == 2
    assert await ids(client, TASK, world.admin, maxResults=0) == []
