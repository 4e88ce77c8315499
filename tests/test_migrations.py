"""Migrations: one head; upgrade head; models and migrations agree (`alembic check`);
downgrade to base leaves nothing behind; upgrade again. On a scratch database of its own,
so the suite's schema is untouched."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.models import Base
from tests.conftest import alembic_config


@pytest.fixture
async def scratch_database_url(settings: Settings) -> AsyncIterator[str]:
    superuser_url = os.environ.get("DATABASE_SUPERUSER_URL")
    if not superuser_url:
        pytest.skip("DATABASE_SUPERUSER_URL is not set (make test sets it for its own server)")
    owner_url = make_url(settings.migration_database_url)
    name = f"tessera_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(superuser_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE {name} OWNER "{owner_url.username}"'))
    try:
        yield owner_url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        await admin.dispose()


async def _table_names(url: str) -> set[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        )
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


def test_one_head() -> None:
    script = ScriptDirectory.from_config(alembic_config("postgresql+asyncpg://unused/x"))
    assert len(script.get_heads()) == 1


async def test_upgrade_check_downgrade_upgrade(scratch_database_url: str) -> None:
    config = alembic_config(scratch_database_url)
    await asyncio.to_thread(command.upgrade, config, "head")
    tables = await _table_names(scratch_database_url)
    assert tables == {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
    await asyncio.to_thread(command.check, config)
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await _table_names(scratch_database_url) == {"alembic_version"}
    await asyncio.to_thread(command.upgrade, config, "head")
    assert await _table_names(scratch_database_url) == tables
