"""The per-process principal cache (app.services.principal): warm requests read no
membership, and every identity change takes effect on the very next request — also when
the change was made through another API process (A14, A15).

Two apps on one database stand for two API replicas: `writer` makes the change, `reader`
has the caller's principal cached and must notice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from tests.api.conftest import (
    Headers,
    Seed,
    assert_problem,
    ids,
    member,
    open_client,
    record_statements,
)
from tests.conftest import add_tenants

Replica = tuple[FastAPI, httpx.AsyncClient]


@pytest.fixture
async def writer(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(settings) as (_, client):
        yield client


@pytest.fixture
async def reader(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Replica]:
    async with open_client(settings) as pair:
        yield pair


async def test_a_warm_request_reads_no_membership(
    reader: Replica, seed: Seed, settings: Settings
) -> None:
    app, client = reader
    async with seed() as session:
        await add_tenants(session, "T1")
    headers = await member(seed, settings, "u", tenants=["T1"])
    statements = record_statements(app)
    assert await ids(client, "/tenant", headers) == ["T1"]  # cold: the principal is read
    assert any("group_memberships" in s for s in statements)
    statements.clear()
    assert await ids(client, "/tenant", headers) == ["T1"]  # warm: settings + the query
    assert len(statements) == 2, statements
    assert "principal_version" in statements[0] and "set_config" in statements[0]
    assert not any("group_memberships" in s for s in statements)


async def test_a15_removed_tenant_membership_seen_by_the_other_replica(
    writer: httpx.AsyncClient, reader: Replica, seed: Seed, settings: Settings, admin: Headers
) -> None:
    _, client = reader
    async with seed() as session:
        await add_tenants(session, "T1", "T2")
    user = await member(seed, settings, "u", tenants=["T1", "T2"])
    assert await ids(client, "/tenant", user) == ["T1", "T2"]
    assert (await writer.delete("/tenant/T1/user-members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T2"]
    assert_problem(await client.get("/tenant/T1", headers=user), 404)


async def test_a15_group_removed_from_a_tenant_seen_by_the_other_replica(
    writer: httpx.AsyncClient, reader: Replica, seed: Seed, settings: Settings, admin: Headers
) -> None:
    _, client = reader
    async with seed() as session:
        await add_tenants(session, "T1", "T2")
    user = await member(seed, settings, "u", tenants=["T2"], groups=["g"])
    assert (await writer.put("/tenant/T1/group-members/g", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T1", "T2"]
    assert (await writer.delete("/tenant/T1/group-members/g", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T2"]


async def test_a15_group_deleted_seen_by_the_other_replica(
    writer: httpx.AsyncClient, reader: Replica, seed: Seed, settings: Settings, admin: Headers
) -> None:
    _, client = reader
    async with seed() as session:
        await add_tenants(session, "T1")
    user = await member(seed, settings, "u", groups=["g"])
    assert (await writer.put("/tenant/T1/group-members/g", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T1"]
    assert (await writer.delete("/group/g", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == []


async def test_a14_user_deleted_is_401_on_the_other_replica(
    writer: httpx.AsyncClient, reader: Replica, seed: Seed, settings: Settings, admin: Headers
) -> None:
    _, client = reader
    user = await member(seed, settings, "u")
    assert (await client.get("/user/u/profile", headers=user)).status_code == 200
    assert (await writer.delete("/user/u", headers=admin)).status_code == 204
    assert_problem(await client.get("/user/u/profile", headers=user), 401)


async def test_a15_user_moved_into_and_out_of_the_admin_group_on_the_other_replica(
    writer: httpx.AsyncClient, reader: Replica, seed: Seed, settings: Settings, admin: Headers
) -> None:
    _, client = reader
    async with seed() as session:
        await add_tenants(session, "T1", "T2")
    user = await member(seed, settings, "u", tenants=["T1"])
    assert await ids(client, "/tenant", user) == ["T1"]
    assert (await writer.put("/group/admin/members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T1", "T2"]
    assert (await client.post("/tenant/create", json={"id": "T3"}, headers=user)).status_code == 204
    assert (await writer.delete("/group/admin/members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T1"]
    assert_problem(await client.post("/tenant/create", json={"id": "T4"}, headers=user), 403)


async def test_a15_membership_added_seen_by_the_other_replica(
    writer: httpx.AsyncClient, reader: Replica, seed: Seed, settings: Settings, admin: Headers
) -> None:
    _, client = reader
    async with seed() as session:
        await add_tenants(session, "T1")
    user = await member(seed, settings, "u")
    assert await ids(client, "/tenant", user) == []
    assert (await writer.put("/tenant/T1/user-members/u", headers=admin)).status_code == 204
    assert await ids(client, "/tenant", user) == ["T1"]
