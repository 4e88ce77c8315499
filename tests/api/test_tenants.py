"""`/tenant` (CONFORMANCE F1–F4): Camunda 7 shapes, filters, memberships, admin-only writes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.models import Tenant, TenantGroupMembership
from tests.api.conftest import (
    Headers,
    Seed,
    assert_problem,
    identity_rows,
    ids,
    ids_and_count,
    member,
    membership_count,
)
from tests.conftest import add_tenants, add_user

pytestmark = pytest.mark.usefixtures("admin")


async def _world(seed: Seed) -> None:
    """T1 "Alpha" (u directly), T2 "Beta" (via group g), T3 "Alphabet" (nobody)."""
    async with seed() as session:
        session.add_all(
            Tenant(id=t, name=n) for t, n in (("T1", "Alpha"), ("T2", "Beta"), ("T3", "Alphabet"))
        )
        await session.flush()
        await add_user(session, "u", tenants=["T1"], groups=["g"])
        session.add(TenantGroupMembership(tenant_id="T2", group_id="g"))


async def test_f1_tenant_create_read_update_delete(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    created = await client.post("/tenant/create", json={"id": "T1", "name": "One"}, headers=admin)
    assert created.status_code == 204, created.text
    assert created.content == b""
    assert (await client.get("/tenant/T1", headers=admin)).json() == {"id": "T1", "name": "One"}

    updated = await client.put("/tenant/T1", json={"id": "T1", "name": "Uno"}, headers=admin)
    assert updated.status_code == 204, updated.text
    assert (await client.get("/tenant/T1", headers=admin)).json() == {"id": "T1", "name": "Uno"}

    other_id = await client.put("/tenant/T1", json={"id": "T9", "name": "x"}, headers=admin)
    assert_problem(other_id, 400)
    assert (await client.get("/tenant/T1", headers=admin)).json()["name"] == "Uno"

    assert (await client.delete("/tenant/T1", headers=admin)).status_code == 204
    assert_problem(await client.get("/tenant/T1", headers=admin), 404)
    assert_problem(await client.delete("/tenant/T1", headers=admin), 404)
    assert_problem(await client.put("/tenant/T1", json={"name": "x"}, headers=admin), 404)


async def test_f1_duplicate_tenant_id_is_409_and_keeps_the_first(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    await client.post("/tenant/create", json={"id": "T1", "name": "first"}, headers=admin)
    again = await client.post("/tenant/create", json={"id": "T1", "name": "second"}, headers=admin)
    assert_problem(again, 409)
    assert (await client.get("/tenant/T1", headers=admin)).json()["name"] == "first"


@pytest.mark.parametrize("bad_id", ["bad id!", "", "x" * 65, "-dash", "a/b", "é"])
async def test_f1_invalid_tenant_id_is_400_and_creates_nothing(
    client: httpx.AsyncClient, admin: Headers, bad_id: str
) -> None:
    response = await client.post("/tenant/create", json={"id": bad_id}, headers=admin)
    assert_problem(response, 400)
    assert await ids_and_count(client, "/tenant", admin) == []


async def test_f1_longest_valid_tenant_id_is_accepted(
    client: httpx.AsyncClient, admin: Headers
) -> None:
    long_id = "a" * 64
    response = await client.post("/tenant/create", json={"id": long_id}, headers=admin)
    assert response.status_code == 204, response.text
    assert await ids(client, "/tenant", admin) == [long_id]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["T1", "T2", "T3"]),
        ({"id": "T2"}, ["T2"]),
        ({"idIn": "T1,T3,nope"}, ["T1", "T3"]),
        ({"name": "Alpha"}, ["T1"]),
        ({"nameLike": "Alpha%"}, ["T1", "T3"]),
        ({"userMember": "u"}, ["T1"]),
        ({"userMember": "u", "includingGroupsOfUser": "true"}, ["T1", "T2"]),
        ({"userMember": "u", "includingGroupsOfUser": "false"}, ["T1"]),
        ({"groupMember": "g"}, ["T2"]),
        ({"nameLike": "Alpha%", "userMember": "u"}, ["T1"]),
        ({"userMember": "nobody"}, []),
    ],
)
async def test_f1_tenant_list_filters_and_count(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    params: dict[str, str],
    expected: list[str],
) -> None:
    await _world(seed)
    assert await ids_and_count(client, "/tenant", admin, **params) == expected


async def test_f1_tenant_sorting_and_paging(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _world(seed)
    by_name = await ids(client, "/tenant", admin, sortBy="name", sortOrder="asc")
    assert by_name == ["T1", "T3", "T2"]  # Alpha, Alphabet, Beta
    assert await ids(client, "/tenant", admin, sortBy="name", sortOrder="desc") == by_name[::-1]
    assert await ids(client, "/tenant", admin, sortBy="id", sortOrder="desc") == ["T3", "T2", "T1"]
    page = await ids(client, "/tenant", admin, sortBy="id", firstResult=1, maxResults=1)
    assert page == ["T2"]
    assert await ids(client, "/tenant", admin, firstResult=3) == []
    assert await ids(client, "/tenant", admin, maxResults=0) == []
    # count ignores paging: it counts what the unpaged list returns
    count = await client.get("/tenant/count", params={"maxResults": 1}, headers=admin)
    assert count.json() == {"count": 3}


@pytest.mark.parametrize(
    "params",
    [
        {"sortBy": "bogus"},
        {"sortBy": "userId"},
        {"sortBy": "id", "sortOrder": "sideways"},
        {"sortOrder": "asc"},
        {"firstResult": "-1"},
        {"maxResults": "-1"},
        {"firstResult": "abc"},
        {"includingGroupsOfUser": "maybe"},
    ],
)
async def test_f1_invalid_list_parameters_are_400(
    client: httpx.AsyncClient, admin: Headers, params: dict[str, str]
) -> None:
    assert_problem(await client.get("/tenant", params=params, headers=admin), 400)


async def test_f2_user_and_group_members_put_and_delete(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    async with seed() as session:
        await add_tenants(session, "T1")
        await add_user(session, "u", groups=["g"])
    put_user = await client.put("/tenant/T1/user-members/u", headers=admin)
    assert put_user.status_code == 204, put_user.text
    assert (await client.put("/tenant/T1/user-members/u", headers=admin)).status_code == 204
    assert (await client.put("/tenant/T1/group-members/g", headers=admin)).status_code == 204
    assert await ids_and_count(client, "/tenant", admin, userMember="u") == ["T1"]
    assert await ids_and_count(client, "/tenant", admin, groupMember="g") == ["T1"]
    assert await ids_and_count(client, "/user", admin, memberOfTenant="T1") == ["u"]
    assert await ids_and_count(client, "/group", admin, memberOfTenant="T1") == ["g"]

    assert (await client.delete("/tenant/T1/user-members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", admin, userMember="u") == []
    # still a member through g
    assert await ids(client, "/tenant", admin, userMember="u", includingGroupsOfUser=True) == ["T1"]
    assert (await client.delete("/tenant/T1/group-members/g", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", admin, userMember="u", includingGroupsOfUser=True) == []
    assert await ids(client, "/group", admin, memberOfTenant="T1") == []


@pytest.mark.parametrize(
    "path",
    [
        "/tenant/nope/user-members/u",
        "/tenant/T1/user-members/nobody",
        "/tenant/nope/group-members/g",
        "/tenant/T1/group-members/nogroup",
    ],
)
async def test_f2_membership_of_unknown_tenant_user_or_group_is_404(
    client: httpx.AsyncClient, admin: Headers, seed: Seed, path: str
) -> None:
    async with seed() as session:
        await add_tenants(session, "T1")
        await add_user(session, "u", groups=["g"])
    before = await identity_rows(seed)
    assert_problem(await client.put(path, headers=admin), 404)
    assert_problem(await client.delete(path, headers=admin), 404)
    assert await identity_rows(seed) == before


async def test_f2_including_groups_of_user_finds_tenants_only_when_asked(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    async with seed() as session:
        await add_tenants(session, "T1")
        await add_user(session, "u", groups=["g"])
    await client.put("/tenant/T1/group-members/g", headers=admin)
    via_groups = {"userMember": "u", "includingGroupsOfUser": "true"}
    assert await ids_and_count(client, "/tenant", admin, **via_groups) == ["T1"]
    assert await ids_and_count(client, "/tenant", admin, userMember="u") == []


async def test_f3_deleting_a_tenant_removes_its_memberships(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _world(seed)
    before = await membership_count(seed)
    assert (await client.delete("/tenant/T1", headers=admin)).status_code == 204
    assert (await client.delete("/tenant/T2", headers=admin)).status_code == 204
    assert await membership_count(seed) == before - 2  # u→T1, g→T2; u→g stays
    # a new tenant with the same id does not inherit the old members
    for tenant_id in ("T1", "T2"):
        await client.post("/tenant/create", json={"id": tenant_id}, headers=admin)
        assert await ids(client, "/user", admin, memberOfTenant=tenant_id) == []
        assert await ids(client, "/group", admin, memberOfTenant=tenant_id) == []
    assert await ids(client, "/tenant", admin, userMember="u", includingGroupsOfUser=True) == []


async def test_f4_non_admin_sees_only_its_tenants(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await _world(seed)
    user = await member(seed, settings, "v", tenants=["T1"], groups=["g"])
    assert await ids_and_count(client, "/tenant", user) == ["T1", "T2"]
    assert await ids_and_count(client, "/tenant", user, id="T3") == []
    assert await ids_and_count(client, "/tenant", user, idIn="T1,T3") == ["T1"]
    assert await ids_and_count(client, "/tenant", user, nameLike="Alpha%") == ["T1"]
    assert (await client.get("/tenant/T2", headers=user)).json() == {"id": "T2", "name": "Beta"}

    hidden = await client.get("/tenant/T3", headers=user)
    missing = await client.get("/tenant/NOPE", headers=user)
    assert_problem(hidden, 404)
    assert hidden.content == missing.content


async def test_f4_user_without_tenants_lists_none(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await _world(seed)
    user = await member(seed, settings, "loner")
    assert await ids_and_count(client, "/tenant", user) == []


_TENANT_WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/tenant/create", {"id": "T9", "name": "new"}),
    ("PUT", "/tenant/T1", {"id": "T1", "name": "renamed"}),
    ("PUT", "/tenant/T3", {"name": "renamed"}),
    ("DELETE", "/tenant/T1", None),
    ("DELETE", "/tenant/T3", None),
    ("PUT", "/tenant/T1/user-members/v", None),
    ("PUT", "/tenant/T3/user-members/v", None),
    ("DELETE", "/tenant/T1/user-members/u", None),
    ("PUT", "/tenant/T3/group-members/g", None),
    ("DELETE", "/tenant/T2/group-members/g", None),
]


@pytest.mark.parametrize(("method", "path", "body"), _TENANT_WRITES)
async def test_f4_non_admin_tenant_writes_are_403_and_change_nothing(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    await _world(seed)
    user = await member(seed, settings, "v", tenants=["T1"], groups=["g"])
    before = await identity_rows(seed)
    response = await client.request(method, path, json=body, headers=user)
    assert_problem(response, 403)
    assert await identity_rows(seed) == before
