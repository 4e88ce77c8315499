"""`/group` and `/identity/groups` (CONFORMANCE F1, F3, F4)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.models import Group, TenantGroupMembership
from tests.api.conftest import (
    Headers,
    Seed,
    TenantMember,
    assert_problem,
    assert_refused_like_unknown,
    identity_rows,
    ids,
    ids_and_count,
    member,
    membership_count,
)
from tests.conftest import add_tenants, add_user

pytestmark = pytest.mark.usefixtures("admin")


async def _groups(seed: Seed) -> None:
    """g1 "Sales" WORKFLOW {ann, bob} in T1; g2 "Support" WORKFLOW {bob}; g3 "Staff" SYSTEM."""
    async with seed() as session:
        await add_tenants(session, "T1")
        session.add_all(
            [
                Group(id="g1", name="Sales", type="WORKFLOW"),
                Group(id="g2", name="Support", type="WORKFLOW"),
                Group(id="g3", name="Staff", type="SYSTEM"),
            ]
        )
        await session.flush()
        ann = await add_user(session, "ann", groups=["g1"])
        ann.first_name, ann.last_name = "Ann", "Archer"
        await add_user(session, "bob", groups=["g1", "g2"])
        session.add(TenantGroupMembership(tenant_id="T1", group_id="g1"))


async def test_f1_group_create_read_update_delete(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    body = {"id": "g1", "name": "Sales", "type": "WORKFLOW"}
    created = await client.post("/group/create", json=body, headers=admin)
    assert created.status_code == 204, created.text
    assert (await client.get("/group/g1", headers=admin)).json() == body

    change = {"id": "g1", "name": "Sales EU", "type": "SYSTEM"}
    assert (await client.put("/group/g1", json=change, headers=admin)).status_code == 204
    assert (await client.get("/group/g1", headers=admin)).json() == change
    assert_problem(await client.put("/group/g1", json={"id": "g2"}, headers=admin), 400)

    assert (await client.delete("/group/g1", headers=admin)).status_code == 204
    assert_problem(await client.get("/group/g1", headers=admin), 404)
    assert_problem(await client.delete("/group/g1", headers=admin), 404)


async def test_f1_duplicate_group_id_is_409_and_keeps_the_first(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    await client.post("/group/create", json={"id": "g1", "name": "first"}, headers=admin)
    again = await client.post("/group/create", json={"id": "g1", "name": "second"}, headers=admin)
    assert_problem(again, 409)
    assert (await client.get("/group/g1", headers=admin)).json()["name"] == "first"


@pytest.mark.parametrize("bad_id", ["bad id!", "", "x" * 65, "_under", "g1\n"])
async def test_f1_invalid_group_id_is_400_and_creates_nothing(
    client: httpx.AsyncClient, admin: Headers, bad_id: str
) -> None:
    response = await client.post("/group/create", json={"id": bad_id}, headers=admin)
    assert_problem(response, 400)
    assert await ids_and_count(client, "/group", admin) == ["admin"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["admin", "g1", "g2", "g3"]),
        ({"id": "g2"}, ["g2"]),
        ({"idIn": "g1,g3"}, ["g1", "g3"]),
        ({"name": "Staff"}, ["g3"]),
        ({"nameLike": "S%"}, ["g1", "g2", "g3"]),
        ({"nameLike": "Su%"}, ["g2"]),
        ({"type": "WORKFLOW"}, ["g1", "g2"]),
        ({"member": "bob"}, ["g1", "g2"]),
        ({"member": "ann", "type": "WORKFLOW"}, ["g1"]),
        ({"memberOfTenant": "T1"}, ["g1"]),
        ({"member": "nobody"}, []),
    ],
)
async def test_f1_group_list_filters_and_count(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    params: dict[str, str],
    expected: list[str],
) -> None:
    await _groups(seed)
    assert await ids_and_count(client, "/group", admin, **params) == expected


async def test_f1_group_sorting_and_paging(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _groups(seed)
    by_name = await ids(client, "/group", admin, sortBy="name", nameLike="S%")
    assert by_name == ["g1", "g3", "g2"]  # Sales, Staff, Support
    desc = await ids(client, "/group", admin, sortBy="name", sortOrder="desc", nameLike="S%")
    assert desc == by_name[::-1]
    by_type = await ids(client, "/group", admin, sortBy="type", sortOrder="desc", idIn="g1,g2,g3")
    assert by_type == ["g2", "g1", "g3"]  # WORKFLOW (id desc as tiebreak), SYSTEM
    assert await ids(client, "/group", admin, sortBy="id", firstResult=2, maxResults=1) == ["g2"]
    assert_problem(await client.get("/group", params={"sortBy": "members"}, headers=admin), 400)


async def test_f1_group_members_put_and_delete(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _groups(seed)
    assert (await client.put("/group/g3/members/ann", headers=admin)).status_code == 204
    assert (await client.put("/group/g3/members/ann", headers=admin)).status_code == 204
    assert await ids_and_count(client, "/user", admin, memberOfGroup="g3") == ["ann"]
    assert await ids_and_count(client, "/group", admin, member="ann") == ["g1", "g3"]
    assert (await client.delete("/group/g3/members/ann", headers=admin)).status_code == 204
    assert await ids(client, "/user", admin, memberOfGroup="g3") == []
    before = await identity_rows(seed)
    assert_problem(await client.put("/group/g3/members/nobody", headers=admin), 404)
    assert_problem(await client.put("/group/nope/members/ann", headers=admin), 404)
    assert await identity_rows(seed) == before


async def test_f3_deleting_a_group_removes_its_memberships(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _groups(seed)
    before = await membership_count(seed)
    assert (await client.delete("/group/g1", headers=admin)).status_code == 204
    assert await membership_count(seed) == before - 3  # ann→g1, bob→g1, g1→T1
    assert await ids(client, "/group", admin, member="bob") == ["g2"]
    assert await ids(client, "/tenant", admin, userMember="ann", includingGroupsOfUser=True) == []
    # a new group with the same id does not inherit the old members
    await client.post("/group/create", json={"id": "g1"}, headers=admin)
    assert await ids(client, "/user", admin, memberOfGroup="g1") == []
    assert await ids(client, "/tenant", admin, groupMember="g1") == []


async def test_f4_non_admin_reads_only_its_groups(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await _groups(seed)
    user = await member(seed, settings, "dee", groups=["g2"])
    assert await ids_and_count(client, "/group", user) == ["g2"]
    assert await ids_and_count(client, "/group", user, member="bob") == ["g2"]
    assert (await client.get("/group/g2", headers=user)).status_code == 200
    hidden = await client.get("/group/g1", headers=user)
    missing = await client.get("/group/nope", headers=user)
    assert_problem(hidden, 404)
    assert hidden.content == missing.content


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["t1-group"]),
        ({"memberOfTenant": "T2"}, []),
        ({"memberOfTenant": "T1"}, ["t1-group"]),
        ({"member": "t2-user"}, []),
        ({"id": "t2-group"}, []),
        ({"idIn": "t1-group,t2-group"}, ["t1-group"]),
        ({"sortBy": "id", "sortOrder": "desc"}, ["t1-group"]),
    ],
)
async def test_f4_member_of_t1_never_lists_or_counts_t2s_groups(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    params: dict[str, str],
    expected: list[str],
) -> None:
    """Only its own groups, whatever the filter: a filter on T2 never widens (A7)."""
    assert await ids_and_count(client, "/group", tenant_a.headers, **params) == expected
    assert await ids_and_count(client, "/group", admin, memberOfTenant="T2") == ["t2-group"]


async def test_f4_member_of_t1_reading_t2s_group_is_404_like_an_unknown_id(
    client: httpx.AsyncClient, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    hidden = await client.get("/group/t2-group", headers=tenant_a.headers)
    missing = await client.get("/group/nogroup", headers=tenant_a.headers)
    assert_problem(hidden, 404)
    assert hidden.content == missing.content
    own = await client.get("/group/t1-group", headers=tenant_a.headers)
    assert own.json()["id"] == "t1-group"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/group/{}", {"name": "renamed"}),
        ("DELETE", "/group/{}", None),
        ("PUT", "/group/{}/members/t1-user", None),  # joining T2 through its group
        ("DELETE", "/group/{}/members/t2-user", None),
        ("PUT", "/tenant/T1/group-members/{}", None),
        ("DELETE", "/tenant/T2/group-members/{}", None),
    ],
)
async def test_f4_member_of_t1_changing_t2s_group_is_403_like_an_unknown_id(
    client: httpx.AsyncClient,
    seed: Seed,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    caller = tenant_a.headers
    await assert_refused_like_unknown(
        client, seed, caller, (method, path, body), foreign_id="t2-group", unknown_id="nogroup"
    )
    assert await ids_and_count(client, "/tenant", caller) == ["T1"]


_GROUP_WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/group/create", {"id": "g9", "name": "new"}),
    ("PUT", "/group/g2", {"id": "g2", "name": "renamed"}),
    ("PUT", "/group/g1", {"name": "renamed"}),
    ("DELETE", "/group/g2", None),
    ("DELETE", "/group/g1", None),
    ("PUT", "/group/admin/members/dee", None),
    ("PUT", "/group/g1/members/dee", None),
    ("DELETE", "/group/g2/members/bob", None),
    ("DELETE", "/group/g2/members/dee", None),
]


@pytest.mark.parametrize(("method", "path", "body"), _GROUP_WRITES)
async def test_f4_non_admin_group_writes_are_403_and_change_nothing(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    await _groups(seed)
    user = await member(seed, settings, "dee", groups=["g2"])
    before = await identity_rows(seed)
    response = await client.request(method, path, json=body, headers=user)
    assert_problem(response, 403)
    assert await identity_rows(seed) == before


async def test_identity_groups_of_a_user_with_their_members(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers
) -> None:
    await _groups(seed)
    dee = await member(seed, settings, "dee", groups=["g2"])
    expected = {
        "groups": [{"id": "g1", "name": "Sales"}],
        "groupUsers": [
            {"id": "ann", "firstName": "Ann", "lastName": "Archer", "displayName": "Ann Archer"},
            {"id": "bob", "firstName": None, "lastName": None, "displayName": "bob"},
        ],
    }
    response = await client.get("/identity/groups", params={"userId": "ann"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json() == expected

    own = await client.get("/identity/groups", params={"userId": "dee"}, headers=dee)
    assert own.json()["groups"] == [{"id": "g2", "name": "Support"}]
    assert [u["id"] for u in own.json()["groupUsers"]] == ["bob", "dee"]
    other = await client.get("/identity/groups", params={"userId": "ann"}, headers=dee)
    assert_problem(other, 404)
    assert_problem(await client.get("/identity/groups", headers=admin), 400)
    bad = await client.get("/identity/groups", params={"userId": "bad id"}, headers=admin)
    assert_problem(bad, 400)
