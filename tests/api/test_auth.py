"""Sign-in (`POST /auth/token`), its throttling, and authentication of every route
(CONFORMANCE A14, A15)."""

from __future__ import annotations

import asyncio
import re
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import fastapi.routing
import httpx
import jwt
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import BaseRoute, Mount, Route

from app.api.deps import PUBLIC_PATHS as APP_PUBLIC_PATHS
from app.core.config import Settings
from app.main import create_app
from app.models import User
from tests.api.conftest import (
    Headers,
    Seed,
    assert_problem,
    ids,
    member,
    open_client,
    record_statements,
)
from tests.conftest import TEST_SECRET, add_tenants, make_settings

PUBLIC_PATHS = {"/auth/token", "/health", "/ready", "/docs", "/docs/oauth2-redirect", "/redoc"}
Replica = tuple[FastAPI, httpx.AsyncClient]


def test_a14_the_public_list_is_exactly_the_expected_one() -> None:
    assert APP_PUBLIC_PATHS == PUBLIC_PATHS


async def _sign_in(client: httpx.AsyncClient, user_id: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"username": user_id, "password": password})


# --------------------------------------------------------------------------- sign-in


async def test_token_is_an_oauth2_bearer_token_that_works(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await member(seed, settings, "u", password="right-password")
    response = await _sign_in(client, "u", "right-password")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == settings.access_token_minutes * 60
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    profile = await client.get("/user/u/profile", headers=headers)
    assert profile.status_code == 200
    assert profile.json()["id"] == "u"


async def test_wrong_password_and_unknown_user_are_the_same_401(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await member(seed, settings, "u", password="right-password")
    wrong = await _sign_in(client, "u", "wrong-password")
    unknown = await _sign_in(client, "nobody", "wrong-password")
    assert_problem(wrong, 401)
    assert wrong.content == unknown.content
    assert "access_token" not in wrong.text


async def test_sign_in_is_throttled_after_max_failures(seed: Seed, engine: AsyncEngine) -> None:
    settings = make_settings(login_max_failures=3)
    await member(seed, settings, "u", password="right-password")
    await member(seed, settings, "v", password="right-password")
    async with open_client(settings) as (_, client):
        for _ in range(3):
            assert_problem(await _sign_in(client, "u", "wrong-password"), 401)
        throttled = await _sign_in(client, "u", "right-password")
        assert_problem(throttled, 429)
        assert 1 <= int(throttled.headers["Retry-After"]) <= settings.login_failure_window_seconds
        assert "access_token" not in throttled.text
        # per user: another user still signs in
        assert (await _sign_in(client, "v", "right-password")).status_code == 200


async def test_successful_sign_in_clears_the_failure_count(seed: Seed, engine: AsyncEngine) -> None:
    settings = make_settings(login_max_failures=3)
    await member(seed, settings, "u", password="right-password")
    async with open_client(settings) as (_, client):
        for _ in range(2):
            assert_problem(await _sign_in(client, "u", "wrong-password"), 401)
        assert (await _sign_in(client, "u", "right-password")).status_code == 200
        for _ in range(2):  # would be the 3rd and 4th failure without the reset: 429
            assert_problem(await _sign_in(client, "u", "wrong-password"), 401)
        assert (await _sign_in(client, "u", "right-password")).status_code == 200


async def test_parallel_guesses_are_throttled_too(seed: Seed, engine: AsyncEngine) -> None:
    settings = make_settings(login_max_failures=3)
    await member(seed, settings, "u", password="right-password")
    async with open_client(settings) as (_, client):
        guesses = [_sign_in(client, "u", f"guess-{i}") for i in range(10)]
        statuses = sorted(r.status_code for r in await asyncio.gather(*guesses))
    assert statuses == [401] * 3 + [429] * 7


# --------------------------------------------------------------------------- A14


def _jwt(key: str | None = TEST_SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": "u",
        "gen": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    with warnings.catch_warnings():  # the right secret is "short" for HS512: that is fine here
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm)


BAD_AUTHORIZATION: dict[str, Callable[[], str | None]] = {
    "no token": lambda: None,
    "empty bearer": lambda: "Bearer ",
    "garbage": lambda: "Bearer not-a-jwt",
    "basic scheme": lambda: "Basic dTpyaWdodC1wYXNzd29yZA==",
    "expired": lambda: (
        "Bearer "
        + _jwt(
            iat=datetime.now(UTC) - timedelta(hours=2), exp=datetime.now(UTC) - timedelta(hours=1)
        )
    ),
    "wrong key": lambda: "Bearer " + _jwt(key="another-secret-key-of-sufficient-length-0123456"),
    "alg none": lambda: "Bearer " + _jwt(key=None, algorithm="none"),
    "alg HS512": lambda: "Bearer " + _jwt(algorithm="HS512"),
    "no exp": lambda: "Bearer " + _jwt(exp=None),
    "no sub": lambda: "Bearer " + _jwt(sub=None),
    "no generation": lambda: "Bearer " + _jwt(gen=None),
    "malformed generation": lambda: "Bearer " + _jwt(gen="not-a-uuid"),
    "unknown user": lambda: "Bearer " + _jwt(sub="nobody"),
    "known user, other generation": lambda: "Bearer " + _jwt(sub="u"),
}


def _routes(app: FastAPI) -> list[tuple[BaseRoute, str | None, set[str] | None]]:
    """(route, full path, methods) of every route, routers included with their prefix.

    Newer FastAPI keeps included routers as one entry in `app.routes`, so flatten them the
    way its OpenAPI generator does.
    """
    iterate = getattr(fastapi.routing, "iter_route_contexts", None)
    if iterate is None:
        return [(r, getattr(r, "path", None), getattr(r, "methods", None)) for r in app.routes]
    return [(c.original_route, c.path, c.methods) for c in iterate(app.routes)]


def _protected_requests(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route except the public ones, path parameters filled in.

    Fails if the app has a route the walk does not understand, so none can slip past it.
    """
    requests: list[tuple[str, str]] = []
    public: set[str] = set()
    for route, path, methods in _routes(app):
        assert path is not None, route
        if isinstance(route, APIRoute):
            assert methods, route
            if path in PUBLIC_PATHS:
                public.add(path)
                continue
            concrete = re.sub(r"\{[^}]+\}", "T1", path)
            requests += [(method, concrete) for method in sorted(methods)]
        elif isinstance(route, Route) and path == "/openapi.json":
            public.add(path)
        else:
            assert isinstance(route, Mount) and path == "/static-offline-docs", route
    assert public == PUBLIC_PATHS | {"/openapi.json"}
    assert len(requests) >= 25, requests
    return requests


@pytest.mark.parametrize("kind", BAD_AUTHORIZATION)
async def test_a14_every_route_is_401_without_a_valid_token(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], seed: Seed, kind: str
) -> None:
    app, client = app_and_client
    async with seed() as session:
        await add_tenants(session, "T1")
        session.add(User(id="u"))
    authorization = BAD_AUTHORIZATION[kind]()
    headers = {"Authorization": authorization} if authorization else {}
    statements = record_statements(app)
    for method, path in _protected_requests(app):
        body = {} if method in ("POST", "PUT", "PATCH") else None
        response = await client.request(method, path, json=body, headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer", (method, path)
    if not kind.startswith(("unknown user", "known user")):
        # a user id is only looked up for a well-signed token
        assert statements == [], "a query ran before authentication"


async def test_a14_token_of_a_deleted_user_is_401_everywhere(
    app_and_client: tuple[FastAPI, httpx.AsyncClient], seed: Seed, settings: Settings
) -> None:
    app, client = app_and_client
    headers = await member(seed, settings, "u")
    assert (await client.get("/user/u/profile", headers=headers)).status_code == 200
    async with seed() as session:
        await session.delete(await session.get_one(User, "u"))
    for method, path in _protected_requests(app):
        response = await client.request(method, path, headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a14_a_new_route_without_any_parameter_is_authenticated(
    settings: Settings, engine: AsyncEngine, seed: Seed
) -> None:
    """Authentication is the app's, not the handler's: a route that names no dependency at
    all, added directly or through a router, still answers 401 to an anonymous caller."""
    app = create_app(settings)

    @app.get("/throwaway")
    async def throwaway() -> dict[str, str]:
        return {"ran": "yes"}

    router = APIRouter(prefix="/throwaway-router")
    router.add_api_route("/item", throwaway)
    app.include_router(router)
    headers = await member(seed, settings, "u")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tessera") as client:
            for path in ("/throwaway", "/throwaway-router/item"):
                assert_problem(await client.get(path), 401)
                signed_in = await client.get(path, headers=headers)
                assert signed_in.json() == {"ran": "yes"}


def test_a14_docs_show_the_lock_on_protected_routes_only(app_and_client: Replica) -> None:
    schema = app_and_client[0].openapi()
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            assert ("security" in operation) == (path not in PUBLIC_PATHS), path


@pytest.mark.parametrize("path", [*sorted(PUBLIC_PATHS - {"/auth/token"}), "/openapi.json"])
async def test_a14_health_and_docs_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


# --------------------------------------------------------------------------- A15


async def test_a15_removed_membership_applies_to_the_very_next_request(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers
) -> None:
    async with seed() as session:
        await add_tenants(session, "T1", "T2", "T3")
    user = await member(seed, settings, "u", tenants=["T1", "T2"], groups=["g"])
    await client.put("/tenant/T3/group-members/g", headers=admin)
    assert await ids(client, "/tenant", user) == ["T1", "T2", "T3"]

    assert (await client.delete("/tenant/T1/user-members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T2", "T3"]
    assert_problem(await client.get("/tenant/T1", headers=user), 404)

    assert (await client.delete("/group/g/members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T2"]
    assert_problem(await client.get("/tenant/T3", headers=user), 404)


async def test_a15_demoted_admin_loses_admin_rights_on_the_next_request(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers
) -> None:
    async with seed() as session:
        await add_tenants(session, "T1")
    other = await member(seed, settings, "boss", groups=["admin"])
    assert (await client.get("/tenant/T1", headers=other)).status_code == 200
    assert (await client.delete("/group/admin/members/boss", headers=admin)).status_code == 204
    assert_problem(await client.get("/tenant/T1", headers=other), 404)
    assert_problem(await client.post("/tenant/create", json={"id": "T2"}, headers=other), 403)


async def test_a15_deleted_users_token_is_401_on_the_next_request(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers
) -> None:
    async with seed() as session:
        await add_tenants(session, "T1")
    user = await member(seed, settings, "u", tenants=["T1"])
    assert await ids(client, "/tenant", user) == ["T1"]
    assert (await client.delete("/user/u", headers=admin)).status_code == 204
    assert_problem(await client.get("/tenant", headers=user), 401)


async def test_a14_token_of_a_deleted_user_stays_dead_when_the_id_is_reused(
    client: httpx.AsyncClient, seed: Seed, settings: Settings, admin: Headers
) -> None:
    """In the same second: the token is bound to the user row's generation, not to its id
    or a timestamp, so the new account with the old id is not signed in by the old token."""
    async with seed() as session:
        await add_tenants(session, "T1")
    old_token = await member(seed, settings, "u")
    assert (await client.get("/user/u/profile", headers=old_token)).status_code == 200
    issued_at = jwt.decode(old_token["Authorization"][7:], options={"verify_signature": False})
    assert (await client.delete("/user/u", headers=admin)).status_code == 204
    recreated = {"profile": {"id": "u"}, "credentials": {"password": "new-owner-pw"}}
    assert (await client.post("/user/create", json=recreated, headers=admin)).status_code == 204
    await client.put("/tenant/T1/user-members/u", headers=admin)
    async with seed() as session:
        user = await session.get_one(User, "u")
        assert int(user.created_at.timestamp()) - issued_at["iat"] <= 1  # no sleep needed
    assert_problem(await client.get("/tenant", headers=old_token), 401)
    new_token = await _sign_in(client, "u", "new-owner-pw")
    new_headers = {"Authorization": f"Bearer {new_token.json()['access_token']}"}
    assert await ids(client, "/tenant", new_headers) == ["T1"]


async def test_a14_password_change_revokes_the_users_earlier_tokens(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await member(seed, settings, "u", password="old-password-1")
    before = await _sign_in(client, "u", "old-password-1")
    headers = {"Authorization": f"Bearer {before.json()['access_token']}"}
    change = {"password": "new-password-2", "authenticatedUserPassword": "old-password-1"}
    assert (
        await client.put("/user/u/credentials", json=change, headers=headers)
    ).status_code == 204
    assert_problem(await client.get("/user/u/profile", headers=headers), 401)
    after = await _sign_in(client, "u", "new-password-2")
    fresh = {"Authorization": f"Bearer {after.json()['access_token']}"}
    assert (await client.get("/user/u/profile", headers=fresh)).status_code == 200
