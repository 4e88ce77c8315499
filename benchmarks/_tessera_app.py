"""Tessera as bench_request_path serves it: `app.main.create_app()` plus `POST /bench-notes`.

Tessera has no small tenant-owned resource yet, so the benchmark brings one, declared the way
`tests/core/models.py` declares its tables: a metadata of its own (never seen by
`alembic check`), the `TenantOwned` mixin, RLS from `row_level_security_ddl` (the benchmark
creates the table as the owner and grants it to the runtime role). The route is written as
any Tessera route: the request's unit of work, the caller's principal, no tenant in the body
(the tenancy core stamps the caller's only tenant at flush).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, FastAPI, status
from pydantic import Field
from sqlalchemy import Column, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import main
from app.api.deps import SessionDep
from app.core.tenancy import TenantOwned
from app.models.base import NAMING_CONVENTION
from app.schemas.base import InputSchema, Schema


class BenchBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Stand-in for the platform `tenants` table so the mixin's foreign key resolves; never created.
Table("tenants", BenchBase.metadata, Column("id", String(64), primary_key=True))


class BenchNote(TenantOwned, BenchBase):
    __tablename__ = "bench_notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))


class NoteCreate(InputSchema):
    title: str = Field(min_length=1, max_length=200)


class NoteCreated(Schema):
    id: uuid.UUID


notes_router = APIRouter(tags=["Benchmark"])


@notes_router.post("/bench-notes", status_code=status.HTTP_201_CREATED, response_model=NoteCreated)
async def create_note(
    body: NoteCreate,
    session: SessionDep,
) -> NoteCreated:
    note = BenchNote(id=uuid.uuid4(), title=body.title)
    session.add(note)  # flushed and committed by the unit of work, before the response
    return NoteCreated(id=note.id)


def create_app() -> FastAPI:
    app = main.create_app()
    app.include_router(notes_router)
    return app
