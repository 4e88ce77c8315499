"""Shared fixtures: real PostgreSQL and Redis (started by `make test`), schema from Alembic.

Every test commits for real (the tenancy layers and the unit of work are what is under
test); after each test all tables are truncated by the owner role and Redis is flushed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterable

import pytest
from alembic import command
from alembic.config import Config
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory
from app.core.security import create_access_token, hash_password
from app.models import Base, Group, GroupMembership, Tenant, TenantUserMembership, User
from tests.core.models import CoreTestBase, create_core_test_tables

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite with `make test`.", returncode=2)
    return value


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": _required_env("DATABASE_URL"),
        "database_owner_url": os.environ.get("DATABASE_OWNER_URL"),
        "redis_url": _required_env("REDIS_URL"),
        "secret_key": TEST_SECRET,
        "log_json": False,
        "log_level": "WARNING",
        "database_pool_size": 5,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def alembic_config(database_url: str) -> Config:
    config = Config(os.path.join(REPO_ROOT, "alembic.ini"))
    config.attributes["database_url"] = database_url
    return config


@pytest.fixture(scope="session")
def settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
async def owner_engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The table owner: runs migrations and cleans up between tests."""
    engine = create_async_engine(settings.migration_database_url, poolclass=NullPool)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await _upgrade(settings.migration_database_url)
    async with engine.begin() as connection:
        await create_core_test_tables(connection, runtime_url=settings.database_url)
    yield engine
    await engine.dispose()


async def _upgrade(url: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


@pytest.fixture(scope="session")
async def engine(settings: Settings, owner_engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """The runtime role's engine (not owner, not superuser): RLS applies to it."""
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@pytest.fixture(autouse=True)
async def _clean_state(owner_engine: AsyncEngine, settings: Settings) -> AsyncIterator[None]:
    """Each test starts from empty tables and an empty Redis database."""
    yield
    tables = [t.name for t in (*Base.metadata.sorted_tables, *CoreTestBase.metadata.sorted_tables)]
    async with owner_engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {', '.join(sorted(set(tables)))} CASCADE"))
    redis = Redis.from_url(settings.redis_url)
    await redis.flushdb()
    await redis.aclose()


# --------------------------------------------------------------------------- factories


async def add_tenants(session: AsyncSession, *tenant_ids: str) -> None:
    session.add_all(Tenant(id=t, name=f"Tenant {t}") for t in tenant_ids)
    await session.flush()


async def add_user(
    session: AsyncSession,
    user_id: str,
    *,
    tenants: Iterable[str] = (),
    groups: Iterable[str] = (),
    password: str | None = None,
    admin: bool = False,
) -> User:
    """A user with direct tenant memberships and group memberships (groups created if new)."""
    user = User(id=user_id, password_hash=await hash_password(password) if password else None)
    session.add(user)
    await session.flush()
    group_ids = [*groups, *(["admin"] if admin else [])]
    for group_id in group_ids:
        if await session.get(Group, group_id) is None:
            session.add(Group(id=group_id, name=group_id))
            await session.flush()
        session.add(GroupMembership(group_id=group_id, user_id=user_id))
    session.add_all(TenantUserMembership(tenant_id=t, user_id=user_id) for t in tenants)
    await session.flush()
    return user


def bearer(settings: Settings, user: User) -> dict[str, str]:
    """Headers with a valid token of `user` (at its current token generation)."""
    token, _ = create_access_token(settings, user.id, user.token_generation)
    return {"Authorization": f"Bearer {token}"}
