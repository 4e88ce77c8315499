"""`/deployment` (CONFORMANCE A1–A4, A7–A12 and B1, B2, B4–B6): create (files and
archives), list, read, download, delete and redeploy, with Camunda 7 shapes."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, member
from tests.api.repository_fixtures import (
    World,
    bpmn,
    build_world,
    deploy,
    deployed,
    dmn,
    effective,
    labels,
    repository_rows,
    rows,
    rows_and_count,
    stored,
    zipped,
)

DEPLOYMENT_FIELDS = {"id", "name", "source", "deploymentTime", "tenantId", "links"}
CREATED_FIELDS = DEPLOYMENT_FIELDS | {
    "deployedProcessDefinitions",
    "deployedDecisionDefinitions",
    "deployedCaseDefinitions",
    "deployedDecisionRequirementsDefinitions",
}
CAMUNDA_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")
ALL = ["shared-a", "t1-a", "t1-b", "t2-a", "t3-a", "shared-b"]


@pytest.fixture
async def world(client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers) -> World:
    return await build_world(client, seed, settings, admin)


@pytest.fixture
def t1_user(tenant_a: TenantMember, tenant_b: TenantMember, admin: Headers) -> Headers:
    """A member of T1 (T1 and T2 exist, each with a member); `admin` exists too."""
    return tenant_a.headers


# --------------------------------------------------------------------------- create


async def test_b1_tenant_deployment_and_its_definitions_belong_to_the_tenant(
    client: httpx.AsyncClient, admin: Headers, t1_user: Headers, seed: Seed
) -> None:
    files = {"k.bpmn": bpmn("k", "K", version_tag="1.0"), "dk.dmn": dmn("dk", "DK")}
    body = await deployed(client, t1_user, files, tenant="T1", name="n", deployment_source="s")
    assert set(body) == CREATED_FIELDS
    assert (body["name"], body["source"], body["tenantId"]) == ("n", "s", "T1")
    assert CAMUNDA_TIME.match(body["deploymentTime"]), body["deploymentTime"]
    assert (
        body["deployedCaseDefinitions"] is body["deployedDecisionRequirementsDefinitions"] is None
    )
    [process] = body["deployedProcessDefinitions"].values()
    [decision] = body["deployedDecisionDefinitions"].values()
    for definition, key, resource in ((process, "k", "k.bpmn"), (decision, "dk", "dk.dmn")):
        values = [definition[f] for f in ("tenantId", "deploymentId", "key", "version", "resource")]
        assert values == ["T1", body["id"], key, 1, resource]
    assert body["deployedProcessDefinitions"] == {process["id"]: process}
    assert process["versionTag"] == "1.0" and process["name"] == "K"
    assert process["suspended"] is False and process["startableInTasklist"] is True

    read = (await client.get(f"/deployment/{body['id']}", headers=t1_user)).json()
    assert {k: read[k] for k in DEPLOYMENT_FIELDS} == {k: body[k] for k in DEPLOYMENT_FIELDS}
    by_id = await client.get(f"/process-definition/{process['id']}", headers=t1_user)
    assert by_id.json() == process
    assert (
        await client.get(f"/decision-definition/{decision['id']}", headers=admin)
    ).json() == decision
    assert await stored(seed) == rows(1, 2, 1, 1)
    resources = (await client.get(f"/deployment/{body['id']}/resources", headers=admin)).json()
    assert sorted(r["name"] for r in resources) == ["dk.dmn", "k.bpmn"]


async def test_b2_deployment_without_tenant_by_admin_is_shared(
    client: httpx.AsyncClient, admin: Headers, t1_user: Headers, seed: Seed, settings: Settings
) -> None:
    body = await deployed(client, admin, {"k.bpmn": bpmn("k"), "dk.dmn": dmn("dk")})
    assert body["tenantId"] is None
    [process] = body["deployedProcessDefinitions"].values()
    [decision] = body["deployedDecisionDefinitions"].values()
    assert process["tenantId"] is None and decision["tenantId"] is None
    loner = await member(seed, settings, "loner")
    for caller in (t1_user, loner):  # shared: every tenant (and no tenant) sees it
        assert (await client.get(f"/deployment/{body['id']}", headers=caller)).status_code == 200
        for path, definition in (("process", process), ("decision", decision)):
            read = await client.get(f"/{path}-definition/{definition['id']}", headers=caller)
            assert read.json() == definition
        assert await labels(client, "/deployment", caller) == ["d"]


async def test_b5_deploying_for_a_tenant_the_caller_is_not_a_member_of_is_403(
    client: httpx.AsyncClient, t1_user: Headers, tenant_b: TenantMember, seed: Seed
) -> None:
    """The same 403 whether the tenant exists (T2) or not (T9), and nothing is stored."""
    theirs = await deployed(client, tenant_b.headers, {"k.bpmn": bpmn("k")}, tenant="T2")
    before = await repository_rows(seed)
    foreign = await deploy(client, t1_user, {"k.bpmn": bpmn("k")}, tenant="T2")
    unknown = await deploy(client, t1_user, {"k.bpmn": bpmn("k")}, tenant="T9")
    assert_problem(foreign, 403)
    assert foreign.content == unknown.content
    assert theirs["id"] not in foreign.text
    assert await repository_rows(seed) == before


async def test_b5_deploying_shared_requires_an_admin(
    client: httpx.AsyncClient, admin: Headers, t1_user: Headers, seed: Seed, settings: Settings
) -> None:
    loner = await member(seed, settings, "loner")
    for caller in (t1_user, loner):
        assert_problem(await deploy(client, caller, {"k.bpmn": bpmn("k")}), 403)
    assert await stored(seed, client, admin) == rows(0, 0, 0, 0)
    ok = await deploy(client, t1_user, {"k.bpmn": bpmn("k")}, tenant="T1")
    assert ok.status_code == 200, ok.text


async def test_zip_deployment_registers_every_model_in_it(
    client: httpx.AsyncClient, admin: Headers, t1_user: Headers
) -> None:
    archive = zipped(
        {"a.bpmn": bpmn("a"), "sub/b.bpmn": bpmn("b"), "c.dmn": dmn("c"), "notes.txt": b"x"}
    )
    body = await deployed(client, t1_user, {"models.zip": archive}, tenant="T1")
    processes = body["deployedProcessDefinitions"].values()
    assert sorted((d["key"], d["resource"], d["tenantId"]) for d in processes) == [
        ("a", "a.bpmn", "T1"),
        ("b", "sub/b.bpmn", "T1"),
    ]
    assert [d["key"] for d in body["deployedDecisionDefinitions"].values()] == ["c"]
    for definition in processes:
        read = await client.get(f"/process-definition/{definition['id']}", headers=t1_user)
        assert read.json() == definition
    bar = await deployed(client, t1_user, {"m.bar": zipped({"a.bpmn": bpmn("a")})}, tenant="T1")
    assert [d["version"] for d in bar["deployedProcessDefinitions"].values()] == [2]


_BROKEN_BPMN = bpmn("bad").replace(b'targetRef="end"', b'targetRef="nowhere"')


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("broken.bpmn", b"<bpmn:definitions"),
        ("broken.bpmn", bpmn("bad").replace(b'isExecutable="true"', b'isExecutable="false"')),
        ("broken.bpmn", _BROKEN_BPMN),
        ("broken.dmn", dmn("bad").replace(b"<decisionTable", b"<decisionTablx", 1)),
        ("broken.zip", zipped({"fine.bpmn": bpmn("fine"), "broken.bpmn": _BROKEN_BPMN})),
    ],
)
async def test_invalid_model_is_400_naming_the_file_and_stores_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    t1_user: Headers,
    seed: Seed,
    filename: str,
    content: bytes,
) -> None:
    await deployed(client, t1_user, {"k.bpmn": bpmn("k")}, tenant="T1")
    before = await stored(seed, client, admin)
    files = {"good.bpmn": bpmn("good"), "good.dmn": dmn("good"), filename: content}
    response = await deploy(client, t1_user, files, tenant="T1")
    body = assert_problem(response, 400)
    assert filename.replace(".zip", ".bpmn") in body["detail"]
    assert await stored(seed, client, admin) == before


# --------------------------------------------------------------------------- B4


async def test_b4_duplicate_filtering_compares_within_the_same_tenant(
    client: httpx.AsyncClient, admin: Headers, t1_user: Headers, seed: Seed
) -> None:
    files = {"k.bpmn": bpmn("k"), "dk.dmn": dmn("dk")}
    first = await deployed(client, t1_user, files, tenant="T1")
    again = await deployed(client, t1_user, files, tenant="T1", enable_duplicate_filtering="true")
    assert again["id"] == first["id"]
    assert again["deployedProcessDefinitions"] is None
    assert again["deployedDecisionDefinitions"] is None
    assert await effective(client, t1_user, "k") == "k@T1:1"
    assert await effective(client, t1_user, "dk", kind="decision") == "dk@T1:1"
    assert await stored(seed, client, admin) == rows(1, 2, 1, 1)

    # The admin sees T1's deployment, yet T2 and shared are compared with their own only.
    in_t2 = await deployed(client, admin, files, tenant="T2", enable_duplicate_filtering="true")
    shared = await deployed(client, admin, files, enable_duplicate_filtering="true")
    assert len({first["id"], in_t2["id"], shared["id"]}) == 3
    assert [d["tenantId"] for d in in_t2["deployedProcessDefinitions"].values()] == ["T2"]
    assert [d["version"] for d in shared["deployedProcessDefinitions"].values()] == [1]
    assert await effective(client, admin, "k", tenant="T2") == "k@T2:1"
    assert await effective(client, admin, "k", withoutTenantId=True) == "k@-:1"
    assert (await stored(seed))["process_definitions"] == 3

    # Changed content, or another deployment name, is a new deployment.
    changed = {"k.bpmn": bpmn("k", "renamed"), "dk.dmn": dmn("dk")}
    new = await deployed(client, t1_user, changed, tenant="T1", enable_duplicate_filtering="true")
    assert new["id"] != first["id"]
    assert sorted(d["version"] for d in new["deployedProcessDefinitions"].values()) == [2]
    renamed = await deployed(
        client, t1_user, changed, tenant="T1", name="other", enable_duplicate_filtering="true"
    )
    assert renamed["id"] != new["id"] and renamed["deployedProcessDefinitions"] is not None


async def test_b4_deploy_changed_only_deploys_only_the_changed_resource(
    client: httpx.AsyncClient, admin: Headers, t1_user: Headers
) -> None:
    await deployed(client, t1_user, {"a.bpmn": bpmn("a"), "b.bpmn": bpmn("b")}, tenant="T1")
    files = {"a.bpmn": bpmn("a"), "b.bpmn": bpmn("b", "changed")}
    body = await deployed(client, t1_user, files, tenant="T1", deploy_changed_only="true")
    assert [(d["key"], d["version"]) for d in body["deployedProcessDefinitions"].values()] == [
        ("b", 2)
    ]
    resources = (await client.get(f"/deployment/{body['id']}/resources", headers=t1_user)).json()
    assert [r["name"] for r in resources] == ["b.bpmn"]
    assert await effective(client, t1_user, "a") == "a@T1:1"
    assert await effective(client, t1_user, "b") == "b@T1:2"


# --------------------------------------------------------------------------- read, download


async def test_resources_list_read_and_download(
    client: httpx.AsyncClient, t1_user: Headers
) -> None:
    content = bpmn("k")
    body = await deployed(client, t1_user, {"k.bpmn": content, "dk.dmn": dmn("dk")}, tenant="T1")
    base = f"/deployment/{body['id']}/resources"
    resources = (await client.get(base, headers=t1_user)).json()
    assert [set(r) for r in resources] == [{"id", "name", "deploymentId"}] * 2
    assert {r["deploymentId"] for r in resources} == {body["id"]}
    [resource] = [r for r in resources if r["name"] == "k.bpmn"]
    assert (await client.get(f"{base}/{resource['id']}", headers=t1_user)).json() == resource
    data = await client.get(f"{base}/{resource['id']}/data", headers=t1_user)
    assert data.status_code == 200
    assert data.content == content


# --------------------------------------------------------------------------- B6, delete


def _operations(deployment: str, resource: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", f"/deployment/{deployment}", None),
        ("GET", f"/deployment/{deployment}/resources", None),
        ("GET", f"/deployment/{deployment}/resources/{resource}", None),
        ("GET", f"/deployment/{deployment}/resources/{resource}/data", None),
        ("POST", f"/deployment/{deployment}/redeploy", {}),
        ("DELETE", f"/deployment/{deployment}", None),
    ]


@pytest.mark.parametrize("operation", range(6))
async def test_b6_another_tenants_deployment_is_404_like_a_random_id(
    client: httpx.AsyncClient, world: World, operation: int
) -> None:
    theirs = world.deployments["t2-a"]["id"]
    their_resource = (await client.get(f"/deployment/{theirs}/resources", headers=world.t2)).json()
    method, path, body = _operations(theirs, their_resource[0]["id"])[operation]
    random = _operations(str(uuid.uuid4()), str(uuid.uuid4()))[operation]
    malformed = _operations("not-a-uuid", "nope")[operation]
    hidden = await client.request(method, path, json=body, headers=world.t1)
    assert_problem(hidden, 404)
    for other in (random, malformed):
        missing = await client.request(other[0], other[1], json=other[2], headers=world.t1)
        assert missing.content == hidden.content, other
    # Nothing happened to it.
    assert (await client.get(f"/deployment/{theirs}", headers=world.t2)).status_code == 200
    assert await labels(client, "/deployment", world.admin, sortBy="name") == sorted(ALL)
    for key in ("k", "only2"):
        definition_id = world.process_id("t2-a", key)
        read = await client.get(f"/process-definition/{definition_id}", headers=world.t2)
        assert read.status_code == 200, read.text


async def test_b6_another_tenants_resource_under_my_deployment_is_404_like_a_random_id(
    client: httpx.AsyncClient, world: World
) -> None:
    mine = world.deployments["t1-a"]["id"]
    theirs = world.deployments["t2-a"]["id"]
    their_rid = (await client.get(f"/deployment/{theirs}/resources", headers=world.t2)).json()[0]
    for suffix in ("", "/data"):
        hidden = await client.get(
            f"/deployment/{mine}/resources/{their_rid['id']}{suffix}", headers=world.t1
        )
        missing = await client.get(
            f"/deployment/{mine}/resources/{uuid.uuid4()}{suffix}", headers=world.t1
        )
        assert_problem(hidden, 404)
        assert hidden.content == missing.content


async def test_non_admin_deleting_a_shared_deployment_is_403_and_it_stays(
    client: httpx.AsyncClient, world: World
) -> None:
    shared = world.deployments["shared-a"]["id"]
    assert_problem(await client.delete(f"/deployment/{shared}", headers=world.t1), 403)
    assert (await client.get(f"/deployment/{shared}", headers=world.t1)).status_code == 200
    definition_id = world.process_id("shared-a", "k")
    read = await client.get(f"/process-definition/{definition_id}", headers=world.t1)
    assert read.status_code == 200, read.text
    assert await effective(client, world.t1, "dk", kind="decision", withoutTenantId=True) == (
        "dk@-:1"
    )


async def test_deleting_a_deployment_removes_its_definitions(
    client: httpx.AsyncClient, world: World, seed: Seed
) -> None:
    assert await stored(seed) == rows(6, 11, 7, 4)
    shared = world.deployments["shared-a"]["id"]
    own = world.deployments["t1-b"]["id"]
    assert (await client.delete(f"/deployment/{shared}", headers=world.admin)).status_code == 204
    assert (await client.delete(f"/deployment/{own}", headers=world.t1)).status_code == 204
    for gone in (shared, own):
        assert_problem(await client.get(f"/deployment/{gone}", headers=world.admin), 404)
        assert_problem(await client.get(f"/deployment/{gone}/resources", headers=world.admin), 404)
    assert_problem(await client.delete(f"/deployment/{own}", headers=world.t1), 404)
    gone_ids = [
        ("process", world.process_id("shared-a", "k")),
        ("process", world.process_id("t1-b", "k")),
        ("decision", world.decision_id("shared-a", "dk")),
    ]
    for kind, definition_id in gone_ids:
        response = await client.get(f"/{kind}-definition/{definition_id}", headers=world.admin)
        assert_problem(response, 404)
    assert await stored(seed) == rows(4, 8, 5, 3)
    # T1 falls back to its v1; without the shared k, a caller of no tenant finds none.
    assert await effective(client, world.t1, "k") == "k@T1:1"
    assert_problem(await client.get("/process-definition/key/k", headers=world.none), 404)
    assert await labels(client, "/deployment", world.admin, sortBy="name") == sorted(
        set(ALL) - {"shared-a", "t1-b"}
    )


# --------------------------------------------------------------------------- redeploy


async def test_redeploy_creates_a_new_version_in_the_same_tenant(
    client: httpx.AsyncClient, world: World
) -> None:
    original = world.deployments["t1-a"]
    response = await client.post(
        f"/deployment/{original['id']}/redeploy",
        json={"resourceNames": ["k.bpmn"], "source": "again"},
        headers=world.t1,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["tenantId"], body["name"], body["source"]) == ("T1", "t1-a", "again")
    assert body["id"] != original["id"]
    assert [(d["key"], d["version"]) for d in body["deployedProcessDefinitions"].values()] == [
        ("k", 3)
    ]
    assert body["deployedDecisionDefinitions"] is None
    shared = world.deployments["shared-a"]["id"]
    denied = await client.post(f"/deployment/{shared}/redeploy", json={}, headers=world.t1)
    assert_problem(denied, 403)
    assert await effective(client, world.admin, "k", withoutTenantId=True) == "k@-:1"
    assert await effective(client, world.t1, "k") == "k@T1:3"


# --------------------------------------------------------------------------- lists


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("t1", ["shared-a", "shared-b", "t1-a", "t1-b"]),  # A1
        ("t12", ["shared-a", "shared-b", "t1-a", "t1-b", "t2-a"]),  # A2
        ("none", ["shared-a", "shared-b"]),  # A3
        ("admin", sorted(ALL)),  # A4
    ],
)
async def test_a1_a4_deployment_visibility(
    client: httpx.AsyncClient, world: World, caller: str, expected: list[str]
) -> None:
    headers = getattr(world, caller)
    assert await labels(client, "/deployment", headers, sortBy="name") == expected


SHARED, INCLUDE = ["shared-a", "shared-b"], "includeDeploymentsWithoutTenantId"


@pytest.mark.parametrize(
    ("caller", "params", "expected"),
    [
        ("t1", {"tenantIdIn": "T2"}, []),  # A7
        ("t1", {"tenantIdIn": "T2", INCLUDE: "true"}, SHARED),
        ("admin", {"tenantIdIn": "T2,T3"}, ["t2-a", "t3-a"]),  # A8
        ("t12", {"tenantIdIn": "T1,T2,nope"}, ["t1-a", "t1-b", "t2-a"]),
        ("admin", {"tenantIdIn": "nope"}, []),
        ("admin", {"withoutTenantId": "true"}, SHARED),  # A9
        ("t1", {"withoutTenantId": "true"}, SHARED),
        ("t12", {"tenantIdIn": "T1", INCLUDE: "true"}, [*SHARED, "t1-a", "t1-b"]),  # A10
        ("admin", {"name": "t1-a"}, ["t1-a"]),
        ("t2", {"name": "t1-a"}, []),
        ("admin", {"nameLike": "shared%"}, SHARED),
        ("admin", {"source": "world", "tenantIdIn": "T1,T3"}, ["t1-a", "t1-b", "t3-a"]),
        ("t1", {"withoutSource": "true"}, SHARED),
        ("admin", {"nameLike": "%-b", INCLUDE: "true"}, ["shared-b", "t1-b"]),
    ],
)
async def test_a7_a12_deployment_filters_and_count(
    client: httpx.AsyncClient,
    world: World,
    caller: str,
    params: dict[str, str],
    expected: list[str],
) -> None:
    headers = getattr(world, caller)
    assert await labels(client, "/deployment", headers, sortBy="name", **params) == expected


async def test_a8_deployment_filter_by_id(client: httpx.AsyncClient, world: World) -> None:
    some = world.deployments["t2-a"]["id"]
    assert await labels(client, "/deployment", world.t12, id=some) == ["t2-a"]
    assert await labels(client, "/deployment", world.t1, id=some) == []
    assert await labels(client, "/deployment", world.t1, id="not-a-uuid") == []


async def test_a11_deployment_sort_by_tenant_id(client: httpx.AsyncClient, world: World) -> None:
    by_tenant = {"sortBy": "tenantId"}
    asc = await rows_and_count(client, "/deployment", world.admin, **by_tenant)
    desc = await rows_and_count(client, "/deployment", world.admin, **by_tenant, sortOrder="desc")
    assert [r["tenantId"] for r in asc] == [None, None, "T1", "T1", "T2", "T3"]
    assert [r["tenantId"] for r in desc] == ["T3", "T2", "T1", "T1", None, None]
    assert [r["id"] for r in desc] == [r["id"] for r in asc][::-1]  # id is the tie-break
    pages = [{"sortBy": "tenantId", "firstResult": first, "maxResults": 4} for first in (0, 4)]
    paged = [(await client.get("/deployment", params=p, headers=world.admin)).json() for p in pages]
    assert paged[0] + paged[1] == asc
    by_time = await labels(client, "/deployment", world.admin, sortBy="deploymentTime")
    assert by_time == ALL


@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"sortBy": "bogus"}, "sortBy must be one of"),
        ({"sortBy": "key"}, "sortBy must be one of"),
        ({"sortOrder": "desc"}, "sortOrder needs sortBy"),
        ({"tenantIdIn": "T1", "withoutTenantId": "true"}, "withoutTenantId cannot be combined"),
        ({"withoutTenantId": "maybe"}, None),  # a type error: named in `errors`
    ],
)
async def test_invalid_deployment_list_parameters_are_400(
    client: httpx.AsyncClient, admin: Headers, params: dict[str, str], mentions: str | None
) -> None:
    paths = [""] if "sortBy" in params or "sortOrder" in params else ["", "/count"]
    for path in paths:
        response = await client.get(f"/deployment{path}", params=params, headers=admin)
        body = assert_problem(response, 400)
        if mentions is not None:
            assert mentions in body["detail"], path
        else:
            errors = [(e["location"], e["type"]) for e in body["errors"]]
            assert errors == [(["query", "withoutTenantId"], "bool_parsing")], path
