"""`refuse_privileged_role`: the API and the worker refuse to serve as a role that skips
row-level security (superuser or BYPASSRLS), and accept the runtime role.

The privileged roles come from `DATABASE_SUPERUSER_URL`, which `make test` sets for the
throwaway server it starts (the owner role cannot create roles: NOCREATEROLE, see
scripts/devservices/). Without it those tests are skipped, never faked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings
from app.core.db import refuse_privileged_role
from tests.api.conftest import open_client
from tests.conftest import make_settings

REFUSAL = "superuser or BYPASSRLS role"


@pytest.fixture
def superuser_url() -> str:
    url = os.environ.get("DATABASE_SUPERUSER_URL")
    if not url:
        pytest.skip("DATABASE_SUPERUSER_URL is not set (make test sets it for its own server)")
    return url


@pytest.fixture
async def bypassrls_url(superuser_url: str, settings: Settings) -> AsyncIterator[str]:
    """A throwaway LOGIN role with BYPASSRLS only (no superuser), on the app's database."""
    role = f"tessera_bypass_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(superuser_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER BYPASSRLS"))
    try:
        yield (
            make_url(settings.database_url).set(username=role).render_as_string(hide_password=False)
        )
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f"DROP ROLE {role}"))
        await admin.dispose()


async def _refuses(url: str) -> bool:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        await refuse_privileged_role(engine)
    except RuntimeError as refused:
        assert REFUSAL in str(refused)
        return True
    finally:
        await engine.dispose()
    return False


async def _attributes(url: str) -> tuple[bool, bool]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                )
            ).one()
    finally:
        await engine.dispose()
    return bool(row[0]), bool(row[1])


async def test_accepts_the_runtime_role(engine: AsyncEngine, settings: Settings) -> None:
    await refuse_privileged_role(engine)  # raises if refused
    assert not await _refuses(settings.database_url)


async def test_refuses_a_superuser(superuser_url: str) -> None:
    assert (await _attributes(superuser_url))[0] is True
    assert await _refuses(superuser_url)


async def test_refuses_a_bypassrls_role_that_is_not_a_superuser(bypassrls_url: str) -> None:
    assert await _attributes(bypassrls_url) == (False, True)
    assert await _refuses(bypassrls_url)


async def test_the_app_does_not_start_as_a_privileged_role(bypassrls_url: str) -> None:
    """The lifespan calls it: no request is ever served with RLS skipped."""
    with pytest.raises(RuntimeError, match=REFUSAL):
        async with open_client(make_settings(database_url=bypassrls_url)):
            pytest.fail("the app started as a BYPASSRLS role")
