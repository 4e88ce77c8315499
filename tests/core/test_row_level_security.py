"""The second layer: PostgreSQL row-level security holds on its own, and so does the ORM.

Each test knocks one layer out and shows the other still returns no foreign row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.db import create_engine, create_session_factory, unit_of_work
from app.core.tenancy import RLS_BYPASS, TenancyContext, bind_context, tenant_scoped_tables
from app.models import Base
from tests.core.conftest import OpenSession, Rows, admin, member_of
from tests.core.models import CoreTestBase, Note, Template


async def _orm_layer_off(session: AsyncSession, context: TenancyContext) -> None:
    """Simulate a bug in layer 1: start the transaction in `context` (so PostgreSQL gets
    the context's settings), then rebind the session with the ORM check off. The database
    settings are not refreshed by `bind_context`, so only row-level security is left."""
    await session.execute(select(func.now()))
    bind_context(session, context, check_enabled=False)


async def _rows_as_owner(owner_engine: AsyncEngine, query: str) -> set[tuple[Any, ...]]:
    """Rows of `query` read by the table owner with the bypass on (FORCE applies to it too)."""
    async with owner_engine.begin() as connection:
        await connection.execute(select(func.set_config(RLS_BYPASS, "on", True)))
        return {tuple(row) for row in await connection.execute(text(query))}


async def test_rls_alone_hides_foreign_rows_when_the_orm_filter_is_off(
    open_session: OpenSession, rows: Rows
) -> None:
    """Simulates a bug in layer 1: the ORM thinks the check is off, the database does not."""
    async with open_session(member_of("t1")) as session:
        await _orm_layer_off(session, member_of("t1"))
        titles = set((await session.scalars(select(Note.title))).all())
        templates = set((await session.scalars(select(Template.tenant_id))).all())
        raw = (await session.execute(text("SELECT title FROM core_test_notes"))).scalars().all()
    assert titles == {"note of t1"}
    assert templates == {None, "t1"}
    assert raw == ["note of t1"]


async def test_rls_alone_blocks_update_and_delete_of_foreign_rows(
    open_session: OpenSession, rows: Rows, owner_engine: AsyncEngine
) -> None:
    """Layer 1 off: UPDATE and DELETE aimed at T2's rows (and at shared rows, which need the
    bypass to be written) from a T1 context reach 0 rows, by ORM statement and by raw SQL;
    the caller's own row stays writable, so the zeros are the policies, not a dead session."""
    notes = "SELECT id, tenant_id, title FROM core_test_notes"
    templates = "SELECT id, tenant_id, key FROM core_test_templates"
    templates_before = await _rows_as_owner(owner_engine, templates)
    assert templates_before == {
        (rows.template_t1.id, "t1", "k"),
        (rows.template_t2.id, "t2", "k"),
        (rows.template_shared.id, None, "k"),
    }
    foreign = rows.note_t2.id
    not_t1 = Template.tenant_id.is_distinct_from("t1")
    async with open_session(member_of("t1")) as session:
        await _orm_layer_off(session, member_of("t1"))
        affected = [
            await session.execute(update(Note).where(Note.id == foreign).values(title="x")),
            await session.execute(update(Note).where(Note.tenant_id == "t2").values(title="x")),
            await session.execute(update(Template).where(not_t1).values(key="x")),
            await session.execute(delete(Note).where(Note.id == foreign)),
            await session.execute(delete(Template).where(not_t1)),
            await session.execute(
                text("UPDATE core_test_notes SET title = 'x' WHERE id = :id"), {"id": foreign}
            ),
            await session.execute(
                text(
                    "UPDATE core_test_templates SET key = 'x' WHERE tenant_id IS DISTINCT FROM 't1'"
                )
            ),
            await session.execute(text("DELETE FROM core_test_notes WHERE tenant_id <> 't1'")),
            await session.execute(text("DELETE FROM core_test_templates WHERE tenant_id IS NULL")),
        ]
        own = await session.execute(update(Note).values(title="edited"))
    assert [r.rowcount for r in affected] == [0] * len(affected)  # type: ignore[attr-defined]
    assert own.rowcount == 1  # type: ignore[attr-defined]
    assert await _rows_as_owner(owner_engine, notes) == {
        (rows.note_t1.id, "t1", "edited"),
        (rows.note_t2.id, "t2", "note of t2"),
    }
    assert await _rows_as_owner(owner_engine, templates) == templates_before


async def test_orm_alone_hides_foreign_rows_when_rls_is_bypassed(
    open_session: OpenSession, rows: Rows
) -> None:
    """Simulates a bug in layer 2: the database bypass is on, the ORM criteria still apply."""
    async with open_session(member_of("t1")) as session:
        await session.execute(select(func.set_config(RLS_BYPASS, "on", True)))
        raw_count = await session.scalar(text("SELECT count(*) FROM core_test_notes"))
        titles = set((await session.scalars(select(Note.title))).all())
    assert raw_count == 2  # RLS really is out of the way here
    assert titles == {"note of t1"}


async def test_settings_are_transaction_local(settings: Settings, rows: Rows) -> None:
    """A pooled connection never carries one caller's settings into the next transaction.

    One connection in the pool, so the second unit of work provably reuses the first's; it
    is unauthenticated, the one context that sets nothing itself (it relies on the settings
    being gone), after an admin, whose bypass would show every row if it had stayed."""
    one_connection = settings.model_copy(update={"database_pool_size": 1})
    engine = create_engine(one_connection.model_copy(update={"database_max_overflow": 0}))
    factory = create_session_factory(engine)
    backend = select(func.pg_backend_pid())
    count = text("SELECT count(*) FROM core_test_notes")
    try:
        async with unit_of_work(factory, admin(), settings=settings) as session:
            first_pid = await session.scalar(backend)
            assert await session.scalar(count) == 2
        async with unit_of_work(
            factory, TenancyContext.unauthenticated(), settings=settings
        ) as session:
            assert await session.scalar(backend) == first_pid
            assert await session.scalar(count) == 0
            bypass = await session.scalar(select(func.current_setting(RLS_BYPASS, True)))
            assert bypass in (None, "")
    finally:
        await engine.dispose()


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
