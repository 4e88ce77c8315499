"""Small models that exercise the tenancy core on their own tables.

They use the real mixins and `row_level_security_ddl`, on a metadata of their own so that
`alembic check` (which compares the app's metadata with the migrations) never sees them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Column, ForeignKey, MetaData, String, Table, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.core.tenancy import (
    Shareable,
    TenantOwned,
    row_level_security_ddl,
    tenant_reference,
    tenant_scoped_tables,
)
from app.models.base import NAMING_CONVENTION


class CoreTestBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Stand-in for the real `tenants` table so the mixins' foreign keys resolve; never created.
Table("tenants", CoreTestBase.metadata, Column("id", String(64), primary_key=True))


class Template(Shareable, CoreTestBase):
    """Shareable: tenant_id NULL = shared."""

    __tablename__ = "core_test_templates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(64))


class Note(TenantOwned, CoreTestBase):
    __tablename__ = "core_test_notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("core_test_templates.id"))

    comments: Mapped[list[NoteComment]] = relationship(
        back_populates="note", lazy="raise", overlaps="note"
    )


class NoteComment(TenantOwned, CoreTestBase):
    """Child of a note: the composite key makes a comment of T2 on a note of T1 impossible."""

    __tablename__ = "core_test_note_comments"
    __tenant_table_args__ = (tenant_reference("note_id", "core_test_notes"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    note_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(String(200))

    note: Mapped[Note] = relationship(back_populates="comments", lazy="raise", overlaps="comments")


async def create_core_test_tables(connection: AsyncConnection, *, runtime_url: str) -> None:
    """Create the tables as the owner, under RLS, and grant the runtime role DML on them."""
    tables = [t for t in CoreTestBase.metadata.sorted_tables if t.name != "tenants"]
    await connection.run_sync(CoreTestBase.metadata.create_all, tables=tables)
    for table, kind in tenant_scoped_tables(CoreTestBase.registry.mappers):
        for statement in row_level_security_ddl(table, kind):
            await connection.execute(text(statement))
    runtime_role = make_url(runtime_url).username
    names = ", ".join(t.name for t in tables)
    await connection.execute(
        text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {names} TO "{runtime_role}"')
    )
