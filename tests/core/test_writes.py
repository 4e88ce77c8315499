"""Writes through the tenancy core: stamping, refusals, immutability, cross-tenant links."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.core.errors import Forbidden, NotFound, TenantImmutable, TenantRequired
from app.core.tenancy import (
    TenancyContext,
    check_disabled,
    resolution_tenant,
)
from tests.core.conftest import OpenSession, Rows, admin, member_of
from tests.core.models import Note, NoteComment, Template


async def test_new_row_takes_the_callers_only_tenant(open_session: OpenSession, rows: Rows) -> None:
    async with open_session(member_of("t1")) as session:
        note = Note(title="stamped")
        session.add(note)
        await session.flush()
        assert note.tenant_id == "t1"


async def test_new_row_without_tenant_for_caller_with_several_is_tenant_required(
    open_session: OpenSession, rows: Rows
) -> None:
    with pytest.raises(TenantRequired):
        async with open_session(member_of("t1", "t2")) as session:
            session.add(Note(title="which tenant?"))
            await session.flush()
    async with open_session(admin()) as session:
        assert await session.scalar(select(Note).where(Note.title == "which tenant?")) is None


async def test_new_row_for_a_tenant_the_caller_is_not_member_of_is_forbidden(
    open_session: OpenSession, rows: Rows
) -> None:
    with pytest.raises(Forbidden):
        async with open_session(member_of("t1")) as session:
            session.add(Note(tenant_id="t2", title="smuggled"))
    async with open_session(admin()) as session:
        titles = set((await session.scalars(select(Note.title))).all())
    assert titles == {"note of t1", "note of t2"}


async def test_non_admin_cannot_create_change_or_delete_shared_rows(
    open_session: OpenSession, rows: Rows
) -> None:
    with pytest.raises(Forbidden):
        async with open_session(member_of("t1")) as session:
            session.add(Template(tenant_id=None, key="new shared"))
    with pytest.raises(Forbidden):
        async with open_session(member_of("t1")) as session:
            shared = await session.get(Template, rows.template_shared.id)
            assert shared is not None
            shared.key = "changed"
    with pytest.raises(Forbidden):
        async with open_session(member_of("t1")) as session:
            shared = await session.get(Template, rows.template_shared.id)
            await session.delete(shared)
    async with open_session(admin()) as session:
        keys = {tuple(r) for r in await session.execute(select(Template.id, Template.key))}
        shared = await session.get(Template, rows.template_shared.id)
        assert shared is not None
        shared.key = "changed by admin"
    assert keys == {(r.id, "k") for r in (rows.template_t1, rows.template_t2, rows.template_shared)}
    async with open_session(admin()) as session:
        assert (
            await session.scalar(select(Template.key).where(Template.id == rows.template_shared.id))
            == "changed by admin"
        )


async def test_bulk_update_and_delete_never_touch_other_tenants(
    open_session: OpenSession, rows: Rows
) -> None:
    async with open_session(member_of("t1")) as session:
        changed = await session.execute(update(Note).values(title="renamed"))
        removed = await session.execute(delete(Template).where(Template.tenant_id == "t2"))
    assert changed.rowcount == 1  # type: ignore[attr-defined]
    assert removed.rowcount == 0  # type: ignore[attr-defined]
    async with open_session(admin()) as session:
        titles = set((await session.scalars(select(Note.title))).all())
        templates = (await session.scalars(select(Template.tenant_id))).all()
    assert titles == {"renamed", "note of t2"}
    assert sorted(templates, key=lambda t: t or "") == [None, "t1", "t2"]


async def test_changing_a_foreign_row_loaded_while_disabled_is_not_found(
    open_session: OpenSession, rows: Rows
) -> None:
    """A foreign object still held by the caller cannot be written once the check is back."""
    with pytest.raises(NotFound):
        async with open_session(member_of("t1")) as session:
            async with check_disabled(session, reason="test: stale handle"):
                foreign = await session.get(Note, rows.note_t2.id)
            assert foreign is not None
            session.add(foreign)
            foreign.title = "tampered"
    async with open_session(admin()) as session:
        note = await session.get(Note, rows.note_t2.id)
        assert note is not None and note.title == "note of t2"


async def test_c10_tenant_of_a_row_cannot_change(open_session: OpenSession, rows: Rows) -> None:
    with pytest.raises(TenantImmutable):
        async with open_session(admin()) as session:
            note = await session.get(Note, rows.note_t1.id)
            assert note is not None
            note.tenant_id = "t2"


async def test_tenant_change_refused_by_the_database_too(
    open_session: OpenSession, rows: Rows
) -> None:
    """Raw SQL as admin (ORM guard out of the way): the trigger refuses it."""
    with pytest.raises(IntegrityError, match="cannot change"):
        async with open_session(admin()) as session:
            await session.execute(
                text("UPDATE core_test_notes SET tenant_id = 't2' WHERE id = :id"),
                {"id": rows.note_t1.id},
            )


async def test_cross_tenant_link_refused_by_the_database(
    open_session: OpenSession, rows: Rows
) -> None:
    """Even with every check off, a comment of T2 cannot point at a note of T1."""
    with pytest.raises(IntegrityError, match="fk_core_test_note_comments"):
        async with open_session(admin()) as session:
            session.add(NoteComment(tenant_id="t2", note_id=rows.note_t1.id, body="link"))
    async with open_session(member_of("t1")) as session:
        session.add(NoteComment(note_id=rows.note_t1.id, body="same tenant is fine"))


async def test_background_tenant_context_sees_exactly_its_tenant(
    open_session: OpenSession, rows: Rows
) -> None:
    async with open_session(TenancyContext.for_tenant("t2", user_id="u9")) as session:
        titles = set((await session.scalars(select(Note.title))).all())
        session.add(Note(title="by job"))
        await session.flush()
    assert titles == {"note of t2"}
    async with open_session(admin()) as session:
        job_note = await session.scalar(select(Note).where(Note.title == "by job"))
    assert job_note is not None and job_note.tenant_id == "t2"


async def test_database_refuses_a_write_the_orm_guard_would_miss(
    open_session: OpenSession, rows: Rows
) -> None:
    """RLS WITH CHECK: raw insert of a T2 row by a member of T1 fails in PostgreSQL."""
    with pytest.raises(DBAPIError, match="row-level security"):
        async with open_session(member_of("t1")) as session:
            await session.execute(
                text(
                    "INSERT INTO core_test_notes (id, tenant_id, title) "
                    "VALUES (gen_random_uuid(), 't2', 'raw')"
                )
            )


async def test_resolution_by_key_tenant_rules(open_session: OpenSession, rows: Rows) -> None:
    """Whose version a key means: explicit (member only), only tenant, none → shared, or 400."""
    async with open_session(member_of("t1", "t2")) as session:
        assert resolution_tenant(session, "t2") == "t2"
        with pytest.raises(Forbidden):
            resolution_tenant(session, "t3")
        with pytest.raises(Forbidden):
            resolution_tenant(session, "does-not-exist")
        with pytest.raises(TenantRequired):
            resolution_tenant(session, None)
    async with open_session(member_of("t1")) as session:
        assert resolution_tenant(session, None) == "t1"
    async with open_session(admin()) as session:
        assert resolution_tenant(session, None) is None
        assert resolution_tenant(session, "t3") == "t3"
