"""Reads through the tenancy core (CONFORMANCE A1–A6), on the core's own test models."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import selectinload

from app.core.db import SessionFactory
from app.core.errors import TenancyViolation
from app.core.tenancy import TenancyContext, check_disabled
from tests.core.conftest import OpenSession, Rows, admin, member_of
from tests.core.models import Note, Template


async def _note_titles(open_session: OpenSession, context: TenancyContext, **kw: bool) -> set[str]:
    async with open_session(context, **kw) as session:
        return set((await session.scalars(select(Note.title))).all())


async def _template_tenants(
    open_session: OpenSession, context: TenancyContext, **kw: bool
) -> list[str | None]:
    async with open_session(context, **kw) as session:
        tenants = (await session.scalars(select(Template.tenant_id))).all()
    return sorted(tenants, key=lambda t: t or "")


async def test_a1_member_sees_own_and_shared_rows_never_other_tenants(
    open_session: OpenSession, rows: Rows
) -> None:
    assert await _note_titles(open_session, member_of("t1")) == {"note of t1"}
    assert await _template_tenants(open_session, member_of("t1")) == [None, "t1"]


async def test_a1_get_by_id_of_other_tenants_row_is_none(
    open_session: OpenSession, rows: Rows
) -> None:
    async with open_session(member_of("t1")) as session:
        assert await session.get(Note, rows.note_t2.id) is None
        assert await session.get(Template, rows.template_t2.id) is None
        assert await session.get(Template, rows.template_shared.id) is not None


async def test_a2_member_of_two_tenants_sees_both_plus_shared(
    open_session: OpenSession, rows: Rows
) -> None:
    context = member_of("t1", "t2")
    assert await _note_titles(open_session, context) == {"note of t1", "note of t2"}
    assert await _template_tenants(open_session, context) == [None, "t1", "t2"]


async def test_a3_user_without_tenants_sees_shared_rows_only(
    open_session: OpenSession, rows: Rows
) -> None:
    assert await _note_titles(open_session, member_of()) == set()
    assert await _template_tenants(open_session, member_of()) == [None]


async def test_a4_admin_sees_every_tenant_and_shared(open_session: OpenSession, rows: Rows) -> None:
    assert await _note_titles(open_session, admin()) == {"note of t1", "note of t2"}
    assert await _template_tenants(open_session, admin()) == [None, "t1", "t2"]


async def test_a5_check_disabled_for_one_command_then_checked_again(
    open_session: OpenSession, rows: Rows
) -> None:
    async with open_session(member_of("t1")) as session:
        async with check_disabled(session, reason="test: fan-out over all tenants"):
            inside = set((await session.scalars(select(Note.title))).all())
        after = set((await session.scalars(select(Note.title))).all())
    assert inside == {"note of t1", "note of t2"}
    assert after == {"note of t1"}


async def test_a5_check_restored_after_an_error_inside_the_block(
    open_session: OpenSession, rows: Rows
) -> None:
    async with open_session(member_of("t1")) as session:
        with pytest.raises(RuntimeError, match="boom"):
            async with check_disabled(session, reason="test: failing maintenance"):
                await session.scalars(select(Note))
                raise RuntimeError("boom")
        after = set((await session.scalars(select(Note.title))).all())
    assert after == {"note of t1"}


async def test_a5_rows_loaded_while_disabled_do_not_stay_visible(
    open_session: OpenSession, rows: Rows
) -> None:
    """The identity map would otherwise hand the foreign row out without any SQL."""
    async with open_session(member_of("t1")) as session:
        async with check_disabled(session, reason="test: identity map"):
            assert await session.get(Note, rows.note_t2.id) is not None
        assert await session.get(Note, rows.note_t2.id) is None
        assert await session.get(Note, rows.note_t1.id) is not None


async def test_a6_global_switch_off_everyone_sees_everything(
    open_session: OpenSession, rows: Rows
) -> None:
    context = member_of("t1")
    assert await _note_titles(open_session, context, check_enabled=False) == {
        "note of t1",
        "note of t2",
    }
    assert await _note_titles(open_session, member_of(), check_enabled=False) == {
        "note of t1",
        "note of t2",
    }


async def test_a6_leaving_a_disabled_block_does_not_enable_the_check(
    open_session: OpenSession, rows: Rows
) -> None:
    async with open_session(member_of("t1"), check_enabled=False) as session:
        async with check_disabled(session, reason="test: nested switch"):
            pass
        titles = set((await session.scalars(select(Note.title))).all())
    assert titles == {"note of t1", "note of t2"}


async def test_no_context_refuses_to_query(session_factory: SessionFactory, rows: Rows) -> None:
    async with session_factory() as session:
        with pytest.raises(TenancyViolation):
            await session.scalars(select(Note))


async def test_unauthenticated_context_sees_no_tenant_or_shared_row(
    open_session: OpenSession, rows: Rows
) -> None:
    context = TenancyContext.unauthenticated()
    assert await _note_titles(open_session, context) == set()
    assert await _template_tenants(open_session, context) == []


async def test_relationship_loads_carry_the_tenant_predicate(
    open_session: OpenSession, rows: Rows
) -> None:
    statements: list[str] = []
    async with open_session(member_of("t1")) as session:
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        engine = session.bind.sync_engine  # type: ignore[union-attr]
        event.listen(engine, "before_cursor_execute", listener)
        try:
            notes = (await session.scalars(select(Note).options(selectinload(Note.comments)))).all()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert [n.title for n in notes] == ["note of t1"]
    comment_loads = [s for s in statements if "core_test_note_comments" in s]
    assert comment_loads, statements
    assert all("core_test_note_comments.tenant_id = " in s for s in comment_loads)
