"""Bad requests are RFC 9457 problems (400, 413, 422) that change nothing in the database,
also when they are aimed at another tenant's rows (then the same problem as for an id that
does not exist, so that bad input cannot probe what T2 has)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.core.config import Settings
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, identity_rows
from tests.api.repository_fixtures import bpmn, deployed, repository_rows
from tests.conftest import add_tenants, add_user

JSON = {"content-type": "application/json"}


@pytest.fixture
async def world(seed: Seed, admin: Headers) -> dict[str, Any]:
    """T1, a user u (password "u-password") in T1 and group g; returns the rows as they are."""
    async with seed() as session:
        await add_tenants(session, "T1")
        await add_user(session, "u", tenants=["T1"], groups=["g"], password="u-password")
    return await identity_rows(seed)


async def _send(
    client: httpx.AsyncClient, method: str, path: str, headers: Headers, **kwargs: Any
) -> httpx.Response:
    return await client.request(method, path, headers=headers, **kwargs)


WRITES = [
    ("POST", "/tenant/create"),
    ("PUT", "/tenant/T1"),
    ("POST", "/user/create"),
    ("PUT", "/user/u/profile"),
    ("PUT", "/user/u/credentials"),
    ("POST", "/group/create"),
    ("PUT", "/group/g"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
async def test_malformed_json_is_400(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    method: str,
    path: str,
) -> None:
    for content in (b'{"id": ', b"{'id': 'T9'}", b"not json", b'{"id": "T9"]'):
        response = await _send(client, method, path, {**admin, **JSON}, content=content)
        body = assert_problem(response, 400)
        assert [e["type"] for e in body["errors"]] == ["json_invalid"], content
    assert await identity_rows(seed) == world


def _padded_tenant(size: int) -> bytes:
    """A valid tenant body of exactly `size` bytes (JSON allows trailing whitespace)."""
    body = b'{"id": "T9", "name": "big"}'
    return body + b" " * (size - len(body))


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_oversized_json_with_content_length_is_413(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    settings: Settings,
) -> None:
    content = _padded_tenant(settings.max_json_body_bytes + 1)
    response = await client.post("/tenant/create", content=content, headers={**admin, **JSON})
    assert_problem(response, 413)
    assert "x-request-id" in response.headers
    assert await identity_rows(seed) == world


async def test_body_of_exactly_the_limit_is_accepted(
    client: httpx.AsyncClient, admin: Headers, seed: Seed, settings: Settings
) -> None:
    content = _padded_tenant(settings.max_json_body_bytes)
    response = await client.post("/tenant/create", content=content, headers={**admin, **JSON})
    assert response.status_code == 204, response.text
    streamed = _chunks(content.replace(b"T9", b"T8"))
    response = await client.post("/tenant/create", content=streamed, headers={**admin, **JSON})
    assert response.status_code == 204, response.text
    assert (await client.get("/tenant/count", headers=admin)).json() == {"count": 2}


async def test_oversized_streamed_json_is_413(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    settings: Settings,
) -> None:
    streamed = _chunks(_padded_tenant(4 * settings.max_json_body_bytes))
    response = await client.post("/tenant/create", content=streamed, headers={**admin, **JSON})
    assert "content-length" not in response.request.headers
    assert await identity_rows(seed) == world
    assert_problem(response, 413)


@pytest.mark.parametrize(
    ("method", "path", "body", "location"),
    [
        ("POST", "/tenant/create", {"id": "T9", "tenantId": "T1"}, ["body", "tenantId"]),
        ("PUT", "/tenant/T1", {"name": "x", "tenantId": "T2"}, ["body", "tenantId"]),
        ("POST", "/group/create", {"id": "g9", "tenantId": "T1"}, ["body", "tenantId"]),
        ("POST", "/group/create", {"id": "g9", "members": ["u"]}, ["body", "members"]),
        (
            "POST",
            "/user/create",
            {"profile": {"id": "eve", "tenantId": "T1"}},
            ["body", "profile", "tenantId"],
        ),
        ("POST", "/user/create", {"profile": {"id": "eve"}, "isAdmin": True}, ["body", "isAdmin"]),
        ("PUT", "/user/u/profile", {"firstName": "U", "groups": ["admin"]}, ["body", "groups"]),
        (
            "PUT",
            "/user/u/credentials",
            {"password": "new-password", "authenticatedUserPassword": "x", "userId": "root"},
            ["body", "userId"],
        ),
    ],
)
async def test_tenant_id_or_unknown_field_is_422_listing_it(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    method: str,
    path: str,
    body: dict[str, Any],
    location: list[str],
) -> None:
    response = await _send(client, method, path, admin, json=body)
    problem = assert_problem(response, 422)
    errors = [(e["location"], e["type"]) for e in problem["errors"]]
    assert errors == [(location, "extra_forbidden")]
    assert await identity_rows(seed) == world


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/tenant/create", {"id": 5}),
        ("/tenant/create", {"id": "T9", "name": ["x"]}),
        ("/tenant/create", {"id": None}),
        ("/tenant/create", {}),
        ("/tenant/create", []),
        ("/tenant/create", "T9"),
        ("/tenant/create", {"id": "T9", "name": "n" * 256}),
        ("/group/create", {"id": "g9", "type": {"x": 1}}),
        ("/user/create", {"profile": "eve"}),
        ("/user/create", {"profile": {"id": "eve"}, "credentials": {"password": 12345678}}),
        ("/user/create", {"credentials": {"password": "long-enough"}}),
    ],
)
async def test_wrong_types_are_422(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    path: str,
    body: Any,
) -> None:
    problem = assert_problem(await client.post(path, json=body, headers=admin), 422)
    assert problem["errors"] and all(e["location"][0] == "body" for e in problem["errors"])
    assert await identity_rows(seed) == world


BAD_PATH_IDS = ["bad%20id", "x" * 65, "-lead", "a%21", "%C3%A9", "T1%0A", "%00"]


@pytest.mark.parametrize(
    ("method", "template", "body"),
    [
        ("GET", "/tenant/{}", None),
        ("PUT", "/tenant/{}", {"name": "x"}),
        ("DELETE", "/tenant/{}", None),
        ("PUT", "/tenant/T1/user-members/{}", None),
        ("DELETE", "/tenant/{}/group-members/g", None),
        ("GET", "/user/{}/profile", None),
        ("DELETE", "/user/{}", None),
        ("PUT", "/group/{}", {"name": "x"}),
        ("PUT", "/group/g/members/{}", None),
    ],
)
async def test_path_id_outside_the_pattern_is_400(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    for bad in BAD_PATH_IDS:
        response = await _send(client, method, template.format(bad), admin, json=body)
        problem = assert_problem(response, 400)
        assert [e["location"][0] for e in problem["errors"]] == ["path"], bad
    # an encoded slash splits the path instead: no route has that many segments
    response = await _send(client, method, template.format("a%2Fb"), admin, json=body)
    assert assert_problem(response, 404)["detail"] == "Not Found"
    assert await identity_rows(seed) == world


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/no-such-route", 404), ("PATCH", "/tenant/T1", 405)],
)
async def test_unknown_routes_and_methods_are_problems(
    client: httpx.AsyncClient, admin: Headers, method: str, path: str, status: int
) -> None:
    assert_problem(await _send(client, method, path, admin), status)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/tenant/create", {"json": {"id": "T9", "name": "a\u0000b"}}),
        ("PUT", "/user/u/profile", {"json": {"firstName": "a\u0000b"}}),
        ("GET", "/tenant", {"params": {"name": "a\u0000b"}}),
        ("GET", "/user", {"params": {"firstResult": str(2**63)}}),
        ("GET", "/group", {"params": {"firstResult": str(10**20)}}),
        ("POST", "/auth/token", {"data": {"username": "u\u0000", "password": "u-password"}}),
    ],
)
async def test_values_the_database_cannot_take_are_400(
    client: httpx.AsyncClient,
    admin: Headers,
    seed: Seed,
    world: dict[str, Any],
    method: str,
    path: str,
    kwargs: dict[str, Any],
) -> None:
    response = await _send(client, method, path, admin, **kwargs)
    assert await identity_rows(seed) == world
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/tenant/create", {"id": "x" * 256}),
        ("/group/create", {"id": "x" * 256}),
        ("/user/create", {"profile": {"id": "x" * 256}}),
    ],
)
async def test_f1_overlong_id_is_400_like_any_invalid_id(
    client: httpx.AsyncClient, admin: Headers, seed: Seed, path: str, body: dict[str, Any]
) -> None:
    before = await identity_rows(seed)
    response = await client.post(path, json=body, headers=admin)
    assert await identity_rows(seed) == before
    assert_problem(response, 400)


# --------------------------------------------------------------------------- another tenant


@dataclass(frozen=True)
class Targets:
    """Ids that `{placeholders}` in a request template are filled with."""

    tenant: str
    user: str
    group: str
    deployment: str
    resource: str
    definition: str


@pytest.fixture
async def t2_rows(
    client: httpx.AsyncClient, tenant_a: TenantMember, tenant_b: TenantMember
) -> Targets:
    """T2's own rows (tenant, member, group, a deployment with its resource and process),
    next to T1 and its member, the caller."""
    body = await deployed(client, tenant_b.headers, {"k.bpmn": bpmn("k")}, tenant="T2")
    path = f"/deployment/{body['id']}/resources"
    [resource] = (await client.get(path, headers=tenant_b.headers)).json()
    [definition] = body["deployedProcessDefinitions"]
    return Targets("T2", "t2-user", "t2-group", body["id"], resource["id"], definition)


def _random_targets() -> Targets:
    return Targets(
        "T9", "nobody", "nogroup", str(uuid.uuid4()), str(uuid.uuid4()), f"k:1:{uuid.uuid4()}"
    )


def _filled(value: Any, targets: Targets) -> Any:
    if isinstance(value, str):
        return value.format(**vars(targets))
    if isinstance(value, dict):
        return {k: _filled(v, targets) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, targets) for v in value]
    return value


FOREIGN_BAD_INPUT: list[tuple[str, str, dict[str, Any], int]] = [
    ("PUT", "/tenant/{tenant}", {"content": b'{"name": '}, 400),
    ("PUT", "/tenant/{tenant}", {"json": {"name": "x", "tenantId": "T1"}}, 422),
    ("PUT", "/tenant/{tenant}/user-members/bad%20id", {}, 400),
    ("GET", "/tenant", {"params": {"userMember": "{user}", "includingGroupsOfUser": "x"}}, 400),
    ("PUT", "/user/{user}/profile", {"json": {"firstName": ["x"]}}, 422),
    ("PUT", "/user/{user}/profile", {"json": {"firstName": "a\u0000b"}}, 403),
    ("PUT", "/user/{user}/credentials", {"json": {"password": "short"}}, 422),
    ("GET", "/user", {"params": {"memberOfTenant": "{tenant}", "firstResult": "-1"}}, 400),
    ("PUT", "/group/{group}", {"content": b"not json"}, 400),
    ("DELETE", "/group/{group}/members/-lead", {}, 400),
    ("GET", "/group", {"params": {"memberOfTenant": "{tenant}", "sortBy": "members"}}, 400),
    ("POST", "/deployment/{deployment}/redeploy", {"content": b'{"source": '}, 400),
    ("POST", "/deployment/{deployment}/redeploy", {"json": {"resourceNames": "k.bpmn"}}, 422),
    ("POST", "/deployment/{deployment}/redeploy", {"json": {"tenantId": "T1"}}, 422),
    # well-formed, but names no resource of it: "not found", never "no such resource"
    ("POST", "/deployment/{deployment}/redeploy", {"json": {"resourceNames": ["x.bpmn"]}}, 404),
    ("DELETE", "/deployment/{deployment}", {"params": {"cascade": "maybe"}}, 400),
    ("GET", "/deployment/{deployment}/resources/not-a-uuid", {}, 404),
    ("GET", "/deployment/{deployment}/resources/{resource}/data", {}, 404),
    ("GET", "/deployment", {"params": {"id": "{deployment}", "sortBy": "bogus"}}, 400),
    ("GET", "/process-definition/{definition}/xml", {}, 404),
    ("GET", "/process-definition/key/k/tenant-id/{tenant}", {}, 403),
    (
        "GET",
        "/process-definition",
        {
            "params": {
                "deploymentId": "{deployment}",
                "tenantIdIn": "{tenant}",
                "withoutTenantId": "true",
            }
        },
        400,
    ),
]


@pytest.mark.parametrize(
    ("method", "template", "request_kwargs", "status"),
    FOREIGN_BAD_INPUT,
    ids=[f"{m} {t} {s}" for m, t, _, s in FOREIGN_BAD_INPUT],
)
async def test_b6_f4_bad_input_aimed_at_another_tenants_rows_is_the_problem_of_a_random_id(
    client: httpx.AsyncClient,
    seed: Seed,
    tenant_a: TenantMember,
    t2_rows: Targets,
    method: str,
    template: str,
    request_kwargs: dict[str, Any],
    status: int,
) -> None:
    headers = {**tenant_a.headers, **(JSON if "content" in request_kwargs else {})}
    before = (await identity_rows(seed), await repository_rows(seed))
    responses = [
        await client.request(
            method,
            template.format(**vars(targets)),
            headers=headers,
            **_filled(request_kwargs, targets),
        )
        for targets in (t2_rows, _random_targets())
    ]
    assert_problem(responses[0], status)
    assert responses[0].content == responses[1].content
    assert (await identity_rows(seed), await repository_rows(seed)) == before
