"""Helpers for the API tests: an app + client, seeding through the system context, the
callers (admin, member, and two tenants with a member each: `tenant_a` and `tenant_b`),
problem+json checks and row snapshots."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import SessionFactory, unit_of_work
from app.core.security import hash_password
from app.core.tenancy import TenancyContext
from app.main import create_app
from app.models import (
    Group,
    GroupMembership,
    Tenant,
    TenantGroupMembership,
    TenantUserMembership,
    User,
)
from tests.conftest import add_tenants, add_user, bearer

ADMIN_ID = "root"
ADMIN_PASSWORD = "root-password-123"
Headers = dict[str, str]
Seed = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@asynccontextmanager
async def open_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A fresh app for `settings`, started like the server starts it, and a client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tessera") as client:
            yield app, client


@pytest.fixture
async def app_and_client(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with open_client(settings) as pair:
        yield pair


@pytest.fixture
def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


@pytest.fixture
def seed(session_factory: SessionFactory, settings: Settings) -> Seed:
    """`async with seed() as session:` — a system-context unit of work, committed at exit."""
    return lambda: unit_of_work(session_factory, TenancyContext.system(), settings=settings)


@pytest.fixture
async def admin(seed: Seed, settings: Settings) -> Headers:
    """Headers of an admin (member of the `admin` group) whose password is ADMIN_PASSWORD."""
    async with seed() as session:
        user = await add_user(session, ADMIN_ID, admin=True)
        user.password_hash = await _admin_password_hash()
    return bearer(settings, user)


_ADMIN_HASH: list[str] = []


async def _admin_password_hash() -> str:
    """argon2 is slow on purpose: hash once per run."""
    if not _ADMIN_HASH:
        _ADMIN_HASH.append(await hash_password(ADMIN_PASSWORD))
    return _ADMIN_HASH[0]


async def member(
    seed: Seed,
    settings: Settings,
    user_id: str,
    *,
    tenants: Iterable[str] = (),
    groups: Iterable[str] = (),
    password: str | None = None,
) -> Headers:
    """Create a non-admin user (tenants must exist) and return its bearer headers."""
    async with seed() as session:
        user = await add_user(session, user_id, tenants=tenants, groups=groups, password=password)
    return bearer(settings, user)


def record_statements(app: FastAPI) -> list[str]:
    """A list that fills with every SQL statement `app` sends from now on."""
    statements: list[str] = []
    engine: AsyncEngine = app.state.engine

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    return statements


@dataclass(frozen=True, slots=True)
class TenantMember:
    """A tenant and one ordinary member of it, who belongs to the tenant directly and
    through a group of its own (the group is a member of the tenant too)."""

    tenant_id: str
    user_id: str
    group_id: str
    headers: Headers


async def tenant_with_member(
    seed: Seed, settings: Settings, tenant_id: str, *, user_id: str, group_id: str
) -> TenantMember:
    async with seed() as session:
        await add_tenants(session, tenant_id)
        user = await add_user(session, user_id, tenants=[tenant_id], groups=[group_id])
        session.add(TenantGroupMembership(tenant_id=tenant_id, group_id=group_id))
    return TenantMember(tenant_id, user_id, group_id, bearer(settings, user))


@pytest.fixture
async def tenant_a(seed: Seed, settings: Settings) -> TenantMember:
    """T1 and its member `t1-user` (directly and through group `t1-group`): the caller."""
    return await tenant_with_member(seed, settings, "T1", user_id="t1-user", group_id="t1-group")


@pytest.fixture
async def tenant_b(seed: Seed, settings: Settings) -> TenantMember:
    """T2 and its member `t2-user` (group `t2-group`): the other tenant, whose rows a
    member of T1 must neither see nor change."""
    return await tenant_with_member(seed, settings, "T2", user_id="t2-user", group_id="t2-group")


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with `status`, and no stack trace anywhere in the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    for field in ("type", "title", "detail"):
        assert isinstance(body[field], str) and body[field], field
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


async def ids(client: httpx.AsyncClient, path: str, headers: Headers, **params: Any) -> list[str]:
    """Ids of a list endpoint, in response order."""
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()]


async def ids_and_count(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[str]:
    """Ids of the unpaged list, after checking that `{path}/count` counts exactly those (A12)."""
    found = await ids(client, path, headers, **params)
    response = await client.get(f"{path}/count", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"count": len(found)}, params
    return found


_IDENTITY_MODELS = (
    Tenant,
    User,
    Group,
    GroupMembership,
    TenantUserMembership,
    TenantGroupMembership,
)


async def table_rows(seed: Seed, models: Iterable[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of each model's table (all columns), read in the system context."""
    snapshot: dict[str, list[tuple[Any, ...]]] = {}
    async with seed() as session:
        for model in models:
            table = model.__table__
            statement = select(*table.columns).order_by(*table.primary_key.columns)
            snapshot[table.name] = [
                tuple(_hashable(value) for value in row) for row in await session.execute(statement)
            ]
    return snapshot


def _hashable(value: Any) -> Any:
    """Array columns come back as lists: compared as tuples, rows stay usable in sets."""
    return tuple(value) if isinstance(value, list) else value


async def identity_rows(seed: Seed) -> dict[str, list[tuple[Any, ...]]]:
    """Every identity row (all columns, timestamps and password hashes included)."""
    return await table_rows(seed, _IDENTITY_MODELS)


async def assert_refused_like_unknown(
    client: httpx.AsyncClient,
    seed: Seed,
    caller: Headers,
    request: tuple[str, str, dict[str, Any] | None],
    *,
    foreign_id: str,
    unknown_id: str,
) -> None:
    """A write aimed at another tenant's identity row is 403 with exactly the body of the
    same write aimed at an id that does not exist, and changes no identity row."""
    method, path, body = request
    before = await identity_rows(seed)
    foreign = await client.request(method, path.format(foreign_id), json=body, headers=caller)
    unknown = await client.request(method, path.format(unknown_id), json=body, headers=caller)
    assert_problem(foreign, 403)
    assert foreign.content == unknown.content
    assert await identity_rows(seed) == before


async def membership_count(seed: Seed) -> int:
    rows = await identity_rows(seed)
    return sum(
        len(rows[m.__table__.name])
        for m in (GroupMembership, TenantUserMembership, TenantGroupMembership)
    )
