"""Platform tables (tenants, users, groups) follow the tenancy core's one rule.

Reads: whoever `sees_everything()` — an admin, a command with the check disabled, or
everyone with `TENANT_CHECK_ENABLED=false` — sees every tenant, user and group (A4, A5,
A6); anyone else its own tenants, groups and itself (F4). Writes: `may_manage_platform()`
— admins, the system context and a command with the check disabled; the global switch
turns off isolation, not authorization (F4).
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import SessionFactory, unit_of_work
from app.core.errors import Forbidden
from app.core.tenancy import TenancyContext, check_disabled
from app.services import tenants
from tests.api.conftest import Seed, assert_problem, ids, member, open_client
from tests.conftest import add_tenants, make_settings
from tests.core.conftest import member_of


async def _world(seed: Seed) -> None:
    async with seed() as session:
        await add_tenants(session, "T1", "T2")


async def test_a6_switch_off_every_user_sees_every_tenant_user_and_group(
    seed: Seed, engine: AsyncEngine
) -> None:
    settings = make_settings(tenant_check_enabled=False)
    await _world(seed)
    headers = await member(seed, settings, "u1", tenants=["T1"], groups=["g1"])
    await member(seed, settings, "u2", tenants=["T2"], groups=["g2"])
    async with open_client(settings) as (_, client):
        assert await ids(client, "/tenant", headers) == ["T1", "T2"]
        assert await ids(client, "/group", headers) == ["g1", "g2"]
        users = await client.get("/user", headers=headers)
        assert [u["id"] for u in users.json()] == ["u1", "u2"]
        assert (await client.get("/tenant/T2", headers=headers)).status_code == 200


async def test_f4_switch_off_still_lets_no_member_manage_identity(
    seed: Seed, engine: AsyncEngine
) -> None:
    settings = make_settings(tenant_check_enabled=False)
    await _world(seed)
    headers = await member(seed, settings, "u1", tenants=["T1"])
    async with open_client(settings) as (_, client):
        for method, path, body in (
            ("POST", "/tenant/create", {"id": "T3"}),
            ("PUT", "/tenant/T2", {"name": "renamed"}),
            ("DELETE", "/tenant/T2", None),
            ("PUT", "/tenant/T2/user-members/u1", None),
            ("POST", "/group/create", {"id": "g9"}),
            ("POST", "/user/create", {"profile": {"id": "u9"}}),
        ):
            response = await client.request(method, path, json=body, headers=headers)
            assert_problem(response, 403)
        assert await ids(client, "/tenant", headers) == ["T1", "T2"]


async def test_f4_member_sees_only_its_own_tenants_with_the_switch_on(
    client: httpx.AsyncClient, seed: Seed, settings: Settings
) -> None:
    await _world(seed)
    headers = await member(seed, settings, "u1", tenants=["T1"])
    assert await ids(client, "/tenant", headers) == ["T1"]
    assert_problem(await client.get("/tenant/T2", headers=headers), 404)


async def test_a5_check_disabled_is_trusted_code_that_may_manage_identity(
    seed: Seed, session_factory: SessionFactory
) -> None:
    settings = make_settings()
    await _world(seed)
    async with unit_of_work(session_factory, member_of("T1"), settings=settings) as session:
        with pytest.raises(Forbidden):
            await tenants.create_tenant(session, tenant_id="T3", name=None)
        async with check_disabled(session, reason="test: maintenance creates a tenant"):
            await tenants.create_tenant(session, tenant_id="T3", name=None)
            assert (await tenants.get_tenant(session, "T2")).id == "T2"
        with pytest.raises(Forbidden):
            await tenants.create_tenant(session, tenant_id="T4", name=None)
    async with unit_of_work(session_factory, TenancyContext.system(), settings=settings) as s:
        assert (await tenants.get_tenant(s, "T3")).id == "T3"
