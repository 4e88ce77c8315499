"""The second layer: PostgreSQL row-level security holds on its own, and so does the ORM.

Each test knocks one layer out and shows the other still returns no foreign row.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.tenancy import tenant_scoped_tables
from app.models import Base
from tests.core.conftest import OpenSession, Rows, member_of
from tests.core.models import CoreTestBase, Note, Template


async def test_rls_alone_hides_foreign_rows_when_the_orm_filter_is_off(
    open_session: OpenSession, rows: Rows
) -> None:
    """Simulates a bug in layer 1: the ORM thinks the check is off, the database does not."""
    async with open_session(member_of("t1")) as session:
        await session.execute(select(func.now()))  # settings for member of t1 are now set
        session.info["tessera.tenant_check_enabled"] = False
        titles = set((await session.scalars(select(Note.title))).all())
        templates = set((await session.scalars(select(Template.tenant_id))).all())
        raw = (await session.execute(text("SELECT title FROM core_test_notes"))).scalars().all()
    assert titles == {"note of t1"}
    assert templates == {None, "t1"}
    assert raw == ["note of t1"]


async def test_orm_alone_hides_foreign_rows_when_rls_is_bypassed(
    open_session: OpenSession, rows: Rows
) -> None:
    """Simulates a bug in layer 2: the database bypass is on, the ORM criteria still apply."""
    async with open_session(member_of("t1")) as session:
        await session.execute(select(func.set_config("tessera.bypass", "on", True)))
        raw_count = await session.scalar(text("SELECT count(*) FROM core_test_notes"))
        titles = set((await session.scalars(select(Note.title))).all())
    assert raw_count == 2  # RLS really is out of the way here
    assert titles == {"note of t1"}


async def test_settings_are_transaction_local(open_session: OpenSession, rows: Rows) -> None:
    """A pooled connection never carries one caller's tenants into the next transaction."""
    async with open_session(member_of("t1", "t2")) as session:
        assert await session.scalar(text("SELECT count(*) FROM core_test_notes")) == 2
    async with open_session(member_of("t3")) as session:
        assert await session.scalar(text("SELECT count(*) FROM core_test_notes")) == 0


async def test_every_tenant_scoped_table_has_forced_rls_and_policies(
    owner_engine: AsyncEngine,
) -> None:
    tables = tenant_scoped_tables([*Base.registry.mappers, *CoreTestBase.registry.mappers])
    assert tables
    async with owner_engine.connect() as connection:
        for table, _kind in tables:
            row = (
                await connection.execute(
                    text(
                        "SELECT c.relrowsecurity, c.relforcerowsecurity, "
                        "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
                        "FROM pg_class c WHERE c.relname = :t"
                    ),
                    {"t": table},
                )
            ).one()
            assert tuple(row) == (True, True, 4), table


async def test_runtime_role_neither_owns_tables_nor_bypasses_rls(
    engine: AsyncEngine, settings: Settings
) -> None:
    async with engine.connect() as connection:
        privileged = await connection.scalar(
            text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        )
        owned = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                "AND tableowner = current_user"
            )
        )
    assert (
        make_url(settings.database_url).username
        != make_url(settings.migration_database_url).username
    )
    assert privileged is False
    assert owned == 0
