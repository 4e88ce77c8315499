"""`/process-definition` and `/decision-definition` (CONFORMANCE A1–A4, A7–A13, B3, B6,
B7): queries, read by id, the effective definition by key, and the model XML."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.conftest import Headers, Seed, assert_problem
from tests.api.repository_fixtures import (
    World,
    bpmn,
    build_world,
    deployed,
    dmn,
    effective,
    label,
    labels,
    rows_and_count,
)

PROCESS, DECISION = "/process-definition", "/decision-definition"
INCLUDE = {PROCESS: "includeProcessDefinitionsWithoutTenantId"}
INCLUDE[DECISION] = "includeDecisionDefinitionsWithoutTenantId"
P_SHARED = ["k@-:1", "s@-:1"]
P_T1 = ["k@T1:1", "k@T1:2"]
P_T2 = ["k@T2:1", "only2@T2:1"]
P_T3 = ["k@T3:1"]
D_SHARED, D_T1, D_T2, D_T3 = ["dk@-:1"], ["dk@T1:1"], ["dk@T2:1"], ["dk@T3:1"]
PROCESS_FIELDS = {
    "id", "key", "category", "description", "name", "version", "resource", "deploymentId",
    "diagram", "suspended", "tenantId", "versionTag", "historyTimeToLive", "startableInTasklist",
}  # fmt: skip
DECISION_FIELDS = {
    "id", "key", "category", "name", "version", "resource", "deploymentId", "tenantId",
    "decisionRequirementsDefinitionId", "decisionRequirementsDefinitionKey",
    "historyTimeToLive", "versionTag",
}  # fmt: skip


@pytest.fixture
async def world(client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers) -> World:
    return await build_world(client, seed, settings, admin)


async def sorted_labels(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[str]:
    return sorted(await labels(client, path, headers, **params))


# --------------------------------------------------------------------------- A1–A4, A7–A13


@pytest.mark.parametrize(
    ("caller", "processes", "decisions"),
    [
        ("t1", P_SHARED + P_T1, D_SHARED + D_T1),  # A1
        ("t12", P_SHARED + P_T1 + P_T2, D_SHARED + D_T1 + D_T2),  # A2
        ("none", P_SHARED, D_SHARED),  # A3
        ("admin", P_SHARED + P_T1 + P_T2 + P_T3, D_SHARED + D_T1 + D_T2 + D_T3),  # A4
    ],
)
async def test_a1_a4_definition_visibility(
    client: httpx.AsyncClient, world: World, caller: str, processes: list[str], decisions: list[str]
) -> None:
    headers = getattr(world, caller)
    assert await sorted_labels(client, PROCESS, headers) == sorted(processes)
    assert await sorted_labels(client, DECISION, headers) == sorted(decisions)


@pytest.mark.parametrize(
    ("path", "caller", "params", "expected"),
    [
        (PROCESS, "t1", {"tenantIdIn": "T2"}, []),  # A7
        (DECISION, "t1", {"tenantIdIn": "T2"}, []),
        (PROCESS, "t1", {"tenantIdIn": "T2", INCLUDE[PROCESS]: "true"}, P_SHARED),
        (DECISION, "t1", {"tenantIdIn": "T2,T3", INCLUDE[DECISION]: "true"}, D_SHARED),
        (PROCESS, "admin", {"tenantIdIn": "T2,T3"}, P_T2 + P_T3),  # A8
        (DECISION, "admin", {"tenantIdIn": "T1,T3"}, D_T1 + D_T3),
        (PROCESS, "t12", {"tenantIdIn": "T1,T2"}, P_T1 + P_T2),
        (PROCESS, "t12", {"tenantIdIn": "T1,nope"}, P_T1),
        (PROCESS, "admin", {"tenantIdIn": "nope"}, []),
        (DECISION, "admin", {"tenantIdIn": "nope"}, []),
        (PROCESS, "admin", {"withoutTenantId": "true"}, P_SHARED),  # A9
        (PROCESS, "t2", {"withoutTenantId": "true"}, P_SHARED),
        (DECISION, "admin", {"withoutTenantId": "true"}, D_SHARED),
        (PROCESS, "t12", {"tenantIdIn": "T1", INCLUDE[PROCESS]: "true"}, P_SHARED + P_T1),  # A10
        (DECISION, "t12", {"tenantIdIn": "T2", INCLUDE[DECISION]: "true"}, D_SHARED + D_T2),
        (
            PROCESS,
            "admin",
            {"tenantIdIn": "T3", INCLUDE[PROCESS]: "1", "key": "k"},
            ["k@-:1", *P_T3],
        ),
        (PROCESS, "admin", {"key": "k"}, ["k@-:1", "k@T1:1", "k@T1:2", "k@T2:1", "k@T3:1"]),
        (PROCESS, "admin", {"keyLike": "only%"}, ["only2@T2:1"]),
        (PROCESS, "admin", {"name": "T1 K"}, P_T1),
        (PROCESS, "t2", {"name": "T1 K"}, []),
        (PROCESS, "admin", {"nameLike": "Shared%"}, P_SHARED),
        (DECISION, "admin", {"nameLike": "Shared%"}, D_SHARED),
        (PROCESS, "admin", {"version": "2"}, ["k@T1:2"]),
        (PROCESS, "admin", {"versionTag": "1.0"}, ["k@T1:1"]),
        (PROCESS, "admin", {"resourceName": "only2.bpmn"}, ["only2@T2:1"]),
        (DECISION, "t1", {"resourceName": "dk.dmn"}, D_SHARED + D_T1),
        (PROCESS, "t1", {"key": "k", "latestVersion": "true"}, ["k@-:1", "k@T1:2"]),
        (PROCESS, "admin", {"deploymentId": "not-a-uuid"}, []),
    ],
)
async def test_a7_a10_definition_filters_and_count(
    client: httpx.AsyncClient,
    world: World,
    path: str,
    caller: str,
    params: dict[str, str],
    expected: list[str],
) -> None:
    headers = getattr(world, caller)
    assert await sorted_labels(client, path, headers, **params) == sorted(expected)


async def test_definition_filters_by_id_and_deployment(
    client: httpx.AsyncClient, world: World
) -> None:
    t2_k, t1_k = world.process_id("t2-a", "k"), world.process_id("t1-a", "k")
    theirs = world.deployments["t2-a"]["id"]
    assert await labels(client, PROCESS, world.t12, deploymentId=theirs, sortBy="key") == P_T2
    assert await labels(client, PROCESS, world.t1, deploymentId=theirs) == []
    assert await labels(client, PROCESS, world.t1, processDefinitionId=t1_k) == ["k@T1:1"]
    assert await labels(client, PROCESS, world.t1, processDefinitionId=t2_k) == []
    both = f"{t1_k},{t2_k},nope"
    assert await labels(client, PROCESS, world.t1, processDefinitionIdIn=both) == ["k@T1:1"]
    assert await sorted_labels(client, PROCESS, world.t12, processDefinitionIdIn=both) == [
        "k@T1:1",
        "k@T2:1",
    ]
    t2_dk = world.decision_id("t2-a", "dk")
    assert await labels(client, DECISION, world.t2, decisionDefinitionId=t2_dk) == D_T2
    assert await labels(client, DECISION, world.t1, decisionDefinitionIdIn=t2_dk) == []


@pytest.mark.parametrize("path", [PROCESS, DECISION])
async def test_a11_sort_by_tenant_id_puts_shared_first_asc_and_last_desc(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    asc = await rows_and_count(client, path, world.admin, sortBy="tenantId", sortOrder="asc")
    desc = await rows_and_count(client, path, world.admin, sortBy="tenantId", sortOrder="desc")
    tenants = [r["tenantId"] for r in asc]
    shared = tenants.count(None)
    assert shared >= 1 and tenants[:shared] == [None] * shared
    assert tenants[shared:] == sorted(tenants[shared:])
    assert [r["id"] for r in desc] == [r["id"] for r in asc][::-1]
    assert [r["tenantId"] for r in desc][-shared:] == [None] * shared
    paged: list[dict[str, Any]] = []
    for first in range(0, len(asc), 3):
        page: dict[str, str | int] = {"sortBy": "tenantId", "firstResult": first, "maxResults": 3}
        paged.extend((await client.get(path, params=page, headers=world.admin)).json())
    assert paged == asc


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [("key", "key"), ("version", "version"), ("name", "name"), ("id", "id")],
)
async def test_definition_sorting_both_ways(
    client: httpx.AsyncClient, world: World, sort_by: str, key: str
) -> None:
    for order in ("asc", "desc"):
        rows = await rows_and_count(client, PROCESS, world.admin, sortBy=sort_by, sortOrder=order)
        values = [r[key] for r in rows]
        assert values == sorted(values, reverse=order == "desc"), order


@pytest.mark.parametrize("path", [PROCESS, DECISION])
async def test_a12_count_matches_the_list_for_filter_combinations(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    combos: list[dict[str, str]] = [
        {},
        {"latestVersion": "true"},
        {"tenantIdIn": "T1,T2", "latestVersion": "true"},
        {"tenantIdIn": "T2", INCLUDE[path]: "true"},
        {"withoutTenantId": "true", "keyLike": "%k%"},
        {"version": "1", "tenantIdIn": "T1,T3"},
    ]
    for caller in (world.admin, world.t1, world.t12, world.none):
        for params in combos:
            await rows_and_count(client, path, caller, **params)  # asserts count == len(list)
    paged = await client.get(f"{path}/count", params={"maxResults": 1}, headers=world.admin)
    assert paged.json()["count"] > 1  # paging does not apply to /count


async def test_a13_latest_version_is_one_row_per_tenant_or_shared_and_key(
    client: httpx.AsyncClient, world: World
) -> None:
    latest = {"latestVersion": "true"}
    admin_latest = ["k@-:1", "s@-:1", "k@T1:2", "k@T2:1", "only2@T2:1", "k@T3:1"]
    assert await sorted_labels(client, PROCESS, world.admin, **latest) == sorted(admin_latest)
    assert await sorted_labels(client, PROCESS, world.t1, **latest) == ["k@-:1", "k@T1:2", "s@-:1"]
    assert await sorted_labels(client, PROCESS, world.none, **latest) == P_SHARED
    expected = sorted(D_SHARED + D_T1 + D_T2 + D_T3)
    assert await sorted_labels(client, DECISION, world.admin, **latest) == expected
    # a newer shared version does not hide the tenants' latest, nor the reverse
    await deployed(client, world.admin, {"k.bpmn": bpmn("k", "Shared K 2")})
    shared = {"key": "k", "withoutTenantId": "true"}
    assert await labels(client, PROCESS, world.t1, **shared, **latest) == ["k@-:2"]
    assert await sorted_labels(client, PROCESS, world.t1, key="k", **latest) == ["k@-:2", "k@T1:2"]


@pytest.mark.parametrize(
    ("path", "params", "mentions"),
    [
        (PROCESS, {"sortBy": "bogus"}, "sortBy"),
        (DECISION, {"sortBy": "startableInTasklist"}, "sortBy"),
        (PROCESS, {"sortOrder": "asc"}, "sortBy"),
        (PROCESS, {"tenantIdIn": "T1", "withoutTenantId": "true"}, "withoutTenantId"),
        (DECISION, {"tenantIdIn": "T1", "withoutTenantId": "true"}, "withoutTenantId"),
    ],
)
async def test_invalid_definition_list_parameters_are_400(
    client: httpx.AsyncClient, admin: Headers, path: str, params: dict[str, str], mentions: str
) -> None:
    body = assert_problem(await client.get(path, params=params, headers=admin), 400)
    assert mentions in body["detail"]
    if "tenantIdIn" in params:
        counted = await client.get(f"{path}/count", params=params, headers=admin)
        assert mentions in assert_problem(counted, 400)["detail"]


# --------------------------------------------------------------------------- B3


async def test_b3_versions_count_per_tenant_or_shared_and_key(
    client: httpx.AsyncClient, world: World
) -> None:
    """World: k is shared v1, T1 v2, T2 v1, T3 v1; dk is v1 everywhere."""

    async def version(headers: Headers, tenant: str | None, files: dict[str, bytes]) -> list[str]:
        body = await deployed(client, headers, files, tenant=tenant)
        processes = (body["deployedProcessDefinitions"] or {}).values()
        return [
            label(d) for d in [*processes, *(body["deployedDecisionDefinitions"] or {}).values()]
        ]

    assert await version(world.admin, None, {"k.bpmn": bpmn("k")}) == ["k@-:2"]
    assert await version(world.t2, "T2", {"k.bpmn": bpmn("k")}) == ["k@T2:2"]
    assert await version(world.t1, "T1", {"k.bpmn": bpmn("k"), "dk.dmn": dmn("dk")}) == [
        "k@T1:3",
        "dk@T1:2",
    ]
    assert await effective(client, world.t1, "k") == "k@T1:3"
    assert await effective(client, world.t2, "k") == "k@T2:2"
    assert await effective(client, world.admin, "k", tenant="T3") == "k@T3:1"
    assert await effective(client, world.none, "k") == "k@-:2"
    assert await effective(client, world.t2, "dk", kind="decision") == "dk@T2:1"


async def test_b3_concurrent_deployments_take_distinct_versions(
    client: httpx.AsyncClient, world: World
) -> None:
    jobs = [(world.t1, "T1")] * 3 + [(world.t2, "T2")] * 2
    bodies = await asyncio.gather(
        *(deployed(client, h, {"c.bpmn": bpmn("c")}, tenant=t) for h, t in jobs)
    )
    versions = sorted(label(d) for b in bodies for d in b["deployedProcessDefinitions"].values())
    assert versions == ["c@T1:1", "c@T1:2", "c@T1:3", "c@T2:1", "c@T2:2"]


# --------------------------------------------------------------------------- read one, XML


async def test_definition_shapes_and_xml(client: httpx.AsyncClient, world: World) -> None:
    process_id = world.process_id("t1-b", "k")
    process = (await client.get(f"{PROCESS}/{process_id}", headers=world.t1)).json()
    assert set(process) == PROCESS_FIELDS
    assert process == world.deployments["t1-b"]["deployedProcessDefinitions"][process_id]
    assert (process["key"], process["version"], process["tenantId"]) == ("k", 2, "T1")
    assert (process["resource"], process["versionTag"]) == ("k.bpmn", "2.0")
    assert process["category"] == "http://tessera.test/bpmn"
    xml = (await client.get(f"{PROCESS}/{process_id}/xml", headers=world.t1)).json()
    assert xml == {"id": process_id, "bpmn20Xml": bpmn("k", "T1 K", version_tag="2.0").decode()}
    by_key = (await client.get(f"{PROCESS}/key/k/xml", headers=world.t1)).json()
    assert by_key == xml

    decision_id = world.decision_id("t2-a", "dk")
    decision = (await client.get(f"{DECISION}/{decision_id}", headers=world.t2)).json()
    assert set(decision) == DECISION_FIELDS
    assert (decision["key"], decision["tenantId"], decision["resource"]) == ("dk", "T2", "dk.dmn")
    assert decision["category"] == "http://tessera.test/dmn"


async def test_dmn_deployment_registers_decisions_and_serves_dmn_xml(
    client: httpx.AsyncClient, world: World
) -> None:
    content = dmn("approve", "Approve")
    body = await deployed(client, world.t1, {"approve.dmn": content}, tenant="T1")
    assert body["deployedProcessDefinitions"] is None
    [decision] = body["deployedDecisionDefinitions"].values()
    assert (decision["key"], decision["name"], decision["version"]) == ("approve", "Approve", 1)
    expected = {"id": decision["id"], "dmnXml": content.decode()}
    for path in ("/key/approve/xml", f"/{decision['id']}/xml", "/key/approve/tenant-id/T1/xml"):
        response = await client.get(f"{DECISION}{path}", headers=world.t1)
        assert response.json() == expected, path
    assert (await client.get(f"{DECISION}/key/approve", headers=world.t1)).json() == decision
    shared_xml = await client.get(f"{DECISION}/key/dk/xml?withoutTenantId=true", headers=world.t1)
    assert shared_xml.json()["dmnXml"] == dmn("dk", "Shared DK").decode()


# --------------------------------------------------------------------------- B6


@pytest.mark.parametrize("path", [PROCESS, DECISION])
@pytest.mark.parametrize("suffix", ["", "/xml"])
async def test_b6_another_tenants_definition_is_404_like_a_random_id(
    client: httpx.AsyncClient, world: World, path: str, suffix: str
) -> None:
    theirs = world.process_id("t2-a", "k") if path == PROCESS else world.decision_id("t2-a", "dk")
    hidden = await client.get(f"{path}/{theirs}{suffix}", headers=world.t1)
    assert_problem(hidden, 404)
    for random in ("k:1:00000000-0000-0000-0000-000000000000", "nope"):
        missing = await client.get(f"{path}/{random}{suffix}", headers=world.t1)
        assert missing.content == hidden.content
    assert (await client.get(f"{path}/{theirs}{suffix}", headers=world.t2)).status_code == 200


@pytest.mark.parametrize("suffix", ["", "/xml"])
async def test_b6_a_key_only_another_tenant_has_is_404_like_an_unknown_key(
    client: httpx.AsyncClient, world: World, suffix: str
) -> None:
    hidden = await client.get(f"{PROCESS}/key/only2{suffix}", headers=world.t1)
    assert_problem(hidden, 404)
    missing = await client.get(f"{PROCESS}/key/nope{suffix}", headers=world.t1)
    assert missing.content == hidden.content
    assert await effective(client, world.t2, "only2") == "only2@T2:1"


# --------------------------------------------------------------------------- B7


@pytest.mark.parametrize("kind", ["process", "decision"])
async def test_b7_effective_definition_by_key(
    client: httpx.AsyncClient, world: World, kind: str
) -> None:
    """Key b7: shared v1 and v2, T1's own v1; T2 has none."""
    files = {"b7.bpmn": bpmn("b7")} if kind == "process" else {"b7.dmn": dmn("b7")}
    await deployed(client, world.admin, files)
    shared_v2 = await deployed(client, world.admin, files, name="again")
    own_v1 = await deployed(client, world.t1, files, tenant="T1")

    async def resolved(headers: Headers, tenant: str | None = None, **params: Any) -> str:
        return await effective(client, headers, "b7", tenant=tenant, kind=kind, **params)

    assert await resolved(world.t1) == "b7@T1:1"  # T1's own overrides the newer shared
    assert await resolved(world.t2) == "b7@-:2"  # T2 has none: latest shared
    assert await resolved(world.none) == "b7@-:2"
    assert await resolved(world.admin) == "b7@-:2"  # an admin of no tenant: shared
    required = await client.get(f"/{kind}-definition/key/b7", headers=world.t12)
    assert assert_problem(required, 400)["title"] == "Tenant required"
    assert await resolved(world.t12, "T2") == "b7@-:2"
    assert await resolved(world.t12, "T1") == "b7@T1:1"
    assert await resolved(world.admin, "T1") == "b7@T1:1"
    assert await resolved(world.t1, withoutTenantId="true") == "b7@-:2"
    assert await resolved(world.t12, withoutTenantId="true") == "b7@-:2"
    # the XML follows the same resolution
    xml_field = "bpmn20Xml" if kind == "process" else "dmnXml"
    created = "deployedProcessDefinitions" if kind == "process" else "deployedDecisionDefinitions"
    [own_id], [shared_id] = own_v1[created], shared_v2[created]
    own = await client.get(f"/{kind}-definition/key/b7/xml", headers=world.t1)
    [content] = files.values()
    assert own.json() == {"id": own_id, xml_field: content.decode()}
    by_tenant = await client.get(f"/{kind}-definition/key/b7/tenant-id/T2/xml", headers=world.t12)
    assert by_tenant.json()["id"] == shared_id


@pytest.mark.parametrize("suffix", ["", "/xml"])
@pytest.mark.parametrize("path", [PROCESS, DECISION])
async def test_b7_explicit_tenant_the_caller_is_not_a_member_of_is_403(
    client: httpx.AsyncClient, world: World, suffix: str, path: str
) -> None:
    """The same 403 whether the tenant exists (T2, which has the key) or not (T9)."""
    key = "k" if path == PROCESS else "dk"
    foreign, unknown = [
        await client.get(f"{path}/key/{key}/tenant-id/{tenant}{suffix}", headers=world.t1)
        for tenant in ("T2", "T9")
    ]
    assert_problem(foreign, 403)
    assert foreign.content == unknown.content
