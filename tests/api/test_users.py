"""`/user` (CONFORMANCE F1, F3, F4): profiles, credentials, filters, admin-only writes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.core.config import Settings
from app.core.security import verify_password
from app.models import User
from tests.api.conftest import (
    ADMIN_PASSWORD,
    Headers,
    Seed,
    TenantMember,
    assert_problem,
    assert_refused_like_unknown,
    identity_rows,
    ids,
    ids_and_count,
    member,
)
from tests.conftest import add_tenants, add_user

pytestmark = pytest.mark.usefixtures("admin")


def _new_user(user_id: str, password: str | None = "password-123", **profile: str) -> Any:
    body: dict[str, Any] = {"profile": {"id": user_id, **profile}}
    if password is not None:
        body["credentials"] = {"password": password}
    return body


async def _password_is(seed: Seed, user_id: str, password: str) -> bool:
    """Checked against the stored hash, so that this file does not depend on sign-in."""
    async with seed() as session:
        user = await session.get(User, user_id)
    return user is not None and await verify_password(password, user.password_hash)


async def _people(seed: Seed) -> None:
    """ann (T1, group g), bob (group g), cid (T2 only)."""
    async with seed() as session:
        await add_tenants(session, "T1", "T2")
        people = {
            "ann": ("Ann", "Archer", "ann@example.com", ["T1"], ["g"]),
            "bob": ("Bob", "Baker", "bob@example.org", [], ["g"]),
            "cid": ("Cid", "Archer", None, ["T2"], []),
        }
        for user_id, (first, last, email, tenants, groups) in people.items():
            user = await add_user(session, user_id, tenants=tenants, groups=groups)
            user.first_name, user.last_name, user.email = first, last, email


async def test_f1_user_create_read_update_delete(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    body = _new_user("ann", firstName="Ann", lastName="Archer", email="ann@example.com")
    created = await client.post("/user/create", json=body, headers=admin)
    assert created.status_code == 204, created.text
    profile = await client.get("/user/ann/profile", headers=admin)
    assert profile.json() == {
        "id": "ann",
        "firstName": "Ann",
        "lastName": "Archer",
        "email": "ann@example.com",
    }
    assert await _password_is(seed, "ann", "password-123")
    token = await client.post("/auth/token", data={"username": "ann", "password": "password-123"})
    assert token.status_code == 200, token.text

    new_profile = {"id": "ann", "firstName": "Anna", "lastName": "Archer", "email": None}
    updated = await client.put("/user/ann/profile", json=new_profile, headers=admin)
    assert updated.status_code == 204, updated.text
    assert (await client.get("/user/ann/profile", headers=admin)).json() == new_profile
    assert_problem(await client.put("/user/ann/profile", json={"id": "bob"}, headers=admin), 400)

    assert (await client.delete("/user/ann", headers=admin)).status_code == 204
    assert_problem(await client.get("/user/ann/profile", headers=admin), 404)
    assert_problem(await client.delete("/user/ann", headers=admin), 404)
    assert not await _password_is(seed, "ann", "password-123")


async def test_f1_user_created_without_credentials_has_no_password(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    response = await client.post("/user/create", json=_new_user("ann", None), headers=admin)
    assert response.status_code == 204, response.text
    assert await ids(client, "/user", admin, id="ann") == ["ann"]
    async with seed() as session:
        assert (await session.get_one(User, "ann")).password_hash is None


async def test_f1_admin_sets_a_users_password_with_its_own_password(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await client.post("/user/create", json=_new_user("ann"), headers=admin)
    wrong = {"password": "brand-new-pw", "authenticatedUserPassword": "password-123"}
    assert_problem(await client.put("/user/ann/credentials", json=wrong, headers=admin), 400)
    assert not await _password_is(seed, "ann", "brand-new-pw")

    right = {"password": "brand-new-pw", "authenticatedUserPassword": ADMIN_PASSWORD}
    response = await client.put("/user/ann/credentials", json=right, headers=admin)
    assert response.status_code == 204, response.text
    assert await _password_is(seed, "ann", "brand-new-pw")
    assert not await _password_is(seed, "ann", "password-123")
    missing = await client.put("/user/nobody/credentials", json=right, headers=admin)
    assert_problem(missing, 404)


async def test_f1_duplicate_user_id_is_409_and_keeps_the_first(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await client.post("/user/create", json=_new_user("ann", firstName="First"), headers=admin)
    again = await client.post(
        "/user/create", json=_new_user("ann", "other-pass-1", firstName="Second"), headers=admin
    )
    assert_problem(again, 409)
    assert (await client.get("/user/ann/profile", headers=admin)).json()["firstName"] == "First"
    assert await _password_is(seed, "ann", "password-123")


@pytest.mark.parametrize("bad_id", ["bad id!", "", "x" * 65, ".dot", "a:b"])
async def test_f1_invalid_user_id_is_400_and_creates_nothing(
    client: httpx.AsyncClient, admin: Headers, bad_id: str
) -> None:
    response = await client.post("/user/create", json=_new_user(bad_id), headers=admin)
    assert_problem(response, 400)
    assert await ids_and_count(client, "/user", admin) == ["root"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["ann", "bob", "cid", "root"]),
        ({"id": "bob"}, ["bob"]),
        ({"idIn": "ann,cid"}, ["ann", "cid"]),
        ({"firstName": "Ann"}, ["ann"]),
        ({"firstNameLike": "%i%"}, ["cid"]),
        ({"lastName": "Archer"}, ["ann", "cid"]),
        ({"lastNameLike": "B%"}, ["bob"]),
        ({"email": "bob@example.org"}, ["bob"]),
        ({"emailLike": "%@example.com"}, ["ann"]),
        ({"memberOfGroup": "g"}, ["ann", "bob"]),
        ({"memberOfGroup": "admin"}, ["root"]),
        ({"memberOfTenant": "T1"}, ["ann"]),
        ({"memberOfTenant": "T2", "lastName": "Archer"}, ["cid"]),
        ({"memberOfGroup": "g", "lastName": "Archer"}, ["ann"]),
    ],
)
async def test_f1_user_list_filters_and_count(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    params: dict[str, str],
    expected: list[str],
) -> None:
    await _people(seed)
    assert await ids_and_count(client, "/user", admin, **params) == expected


async def test_f1_user_sorting_and_paging(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _people(seed)
    asc = await ids(client, "/user", admin, sortBy="firstName", sortOrder="asc", lastName="Archer")
    assert asc == ["ann", "cid"]
    desc = await ids(client, "/user", admin, sortBy="firstName", sortOrder="desc")
    assert desc[:3] == ["cid", "bob", "ann"]
    assert await ids(client, "/user", admin, sortBy="userId", sortOrder="desc") == [
        "root",
        "cid",
        "bob",
        "ann",
    ]
    by_last = await ids(client, "/user", admin, sortBy="lastName", idIn="ann,bob,cid")
    assert by_last == ["ann", "cid", "bob"]  # Archer, Archer (tie broken by id), Baker
    assert await ids(client, "/user", admin, sortBy="userId", firstResult=1, maxResults=2) == [
        "bob",
        "cid",
    ]
    assert_problem(await client.get("/user", params={"sortBy": "id"}, headers=admin), 400)
    assert_problem(await client.get("/user", params={"sortOrder": "up"}, headers=admin), 400)


async def test_f3_deleting_a_user_removes_its_memberships(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _people(seed)
    assert (await client.delete("/user/ann", headers=admin)).status_code == 204
    assert await ids(client, "/user", admin, memberOfGroup="g") == ["bob"]
    assert await ids(client, "/user", admin, memberOfTenant="T1") == []
    # a new user with the same id does not inherit the old memberships
    await client.post("/user/create", json=_new_user("ann"), headers=admin)
    assert await ids(client, "/tenant", admin, userMember="ann", includingGroupsOfUser=True) == []
    assert await ids(client, "/group", admin, member="ann") == []
    assert await ids(client, "/user", admin, memberOfGroup="g") == ["bob"]


async def test_f4_non_admin_reads_only_its_own_profile(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await _people(seed)
    ann = await member(seed, settings, "dee", tenants=["T1"], groups=["g"])
    own = await client.get("/user/dee/profile", headers=ann)
    assert own.status_code == 200
    assert own.json()["id"] == "dee"
    assert await ids_and_count(client, "/user", ann) == ["dee"]
    assert await ids_and_count(client, "/user", ann, memberOfGroup="g") == ["dee"]
    assert await ids_and_count(client, "/user", ann, id="bob") == []

    other = await client.get("/user/bob/profile", headers=ann)
    missing = await client.get("/user/nobody/profile", headers=ann)
    assert_problem(other, 404)
    assert other.content == missing.content


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["t1-user"]),
        ({"memberOfTenant": "T2"}, []),
        ({"memberOfTenant": "T1"}, ["t1-user"]),
        ({"memberOfGroup": "t2-group"}, []),
        ({"memberOfGroup": "t1-group"}, ["t1-user"]),
        ({"id": "t2-user"}, []),
        ({"idIn": "t1-user,t2-user"}, ["t1-user"]),
        ({"sortBy": "userId", "sortOrder": "desc"}, ["t1-user"]),
    ],
)
async def test_f4_member_of_t1_never_lists_or_counts_t2s_users(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    params: dict[str, str],
    expected: list[str],
) -> None:
    """Only itself, whatever the filter: a filter on T2 or its group never widens (A7)."""
    assert await ids_and_count(client, "/user", tenant_a.headers, **params) == expected
    # T2's member is there, for an admin
    assert await ids_and_count(client, "/user", admin, memberOfTenant="T2") == ["t2-user"]


async def test_f4_member_of_t1_reading_t2s_user_is_404_like_an_unknown_id(
    client: httpx.AsyncClient, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    for path in ("/user/{}/profile", "/identity/groups?userId={}"):
        hidden = await client.get(path.format("t2-user"), headers=tenant_a.headers)
        missing = await client.get(path.format("nobody"), headers=tenant_a.headers)
        assert_problem(hidden, 404)
        assert hidden.content == missing.content, path
    own = await client.get("/user/t1-user/profile", headers=tenant_a.headers)
    assert own.json()["id"] == "t1-user"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/user/{}/profile", {"firstName": "Hacked"}),
        (
            "PUT",
            "/user/{}/credentials",
            {"password": "hacked-pw", "authenticatedUserPassword": "x"},
        ),
        ("DELETE", "/user/{}", None),
        ("PUT", "/group/t1-group/members/{}", None),
        ("PUT", "/tenant/T1/user-members/{}", None),
        ("DELETE", "/tenant/T2/user-members/{}", None),
    ],
)
async def test_f4_member_of_t1_changing_t2s_user_is_403_like_an_unknown_id(
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
        client, seed, caller, (method, path, body), foreign_id="t2-user", unknown_id="nobody"
    )
    assert await ids_and_count(client, "/tenant", caller) == ["T1"]


async def test_f4_non_admin_changes_its_own_password(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    user = await member(seed, settings, "dee", password="old-password")
    wrong = {"password": "new-password", "authenticatedUserPassword": "not-my-password"}
    assert_problem(await client.put("/user/dee/credentials", json=wrong, headers=user), 400)
    assert await _password_is(seed, "dee", "old-password")
    assert not await _password_is(seed, "dee", "new-password")

    right = {"password": "new-password", "authenticatedUserPassword": "old-password"}
    response = await client.put("/user/dee/credentials", json=right, headers=user)
    assert response.status_code == 204, response.text
    assert await _password_is(seed, "dee", "new-password")
    assert not await _password_is(seed, "dee", "old-password")


async def test_f1_too_short_password_is_422(client: httpx.AsyncClient, admin: Headers) -> None:
    response = await client.post("/user/create", json=_new_user("ann", "short"), headers=admin)
    body = assert_problem(response, 422)
    assert ["body", "credentials", "password"] in [e["location"] for e in body["errors"]]
    assert await ids(client, "/user", admin, id="ann") == []


_USER_WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/user/create", _new_user("eve")),
    ("PUT", "/user/dee/profile", {"id": "dee", "firstName": "Me"}),
    ("PUT", "/user/bob/profile", {"firstName": "Hacked"}),
    ("PUT", "/user/bob/credentials", {"password": "hacked-pw", "authenticatedUserPassword": "pw"}),
    (
        "PUT",
        "/user/root/credentials",
        {"password": "hacked-pw", "authenticatedUserPassword": "dee-password"},
    ),
    ("DELETE", "/user/bob", None),
    ("DELETE", "/user/dee", None),
    ("DELETE", "/user/root", None),
]


@pytest.mark.parametrize(("method", "path", "body"), _USER_WRITES)
async def test_f4_non_admin_user_writes_are_403_and_change_nothing(
    client: httpx.AsyncClient,
    seed: Seed,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None,
) -> None:
    await _people(seed)
    user = await member(seed, settings, "dee", tenants=["T1"], password="dee-password")
    before = await identity_rows(seed)
    response = await client.request(method, path, json=body, headers=user)
    assert_problem(response, 403)
    assert await identity_rows(seed) == before


async def test_f1_user_list_has_camunda_shape_and_no_password(
    client: httpx.AsyncClient, admin: Headers, seed: Seed
) -> None:
    await _people(seed)
    listed = await client.get("/user", params={"id": "ann"}, headers=admin)
    assert listed.json() == [
        {"id": "ann", "firstName": "Ann", "lastName": "Archer", "email": "ann@example.com"}
    ]
    assert "password" not in listed.text.lower()
