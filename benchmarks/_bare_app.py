"""The baselines' apps: the same routes as Tessera's, without Tessera.

Two uvicorn factories, served exactly like Tessera (`--factory`, one worker):

* `create_raw_app`: FastAPI + an asyncpg pool, the SQL written by hand;
* `create_orm_app`: FastAPI + a plain async SQLAlchemy session (its own DeclarativeBase
  mapping the same tables; the session comes from a yield dependency, as in FastAPI's SQL
  tutorial): `session.get` by id, `select` for the list, `session.add` + `commit`.

Neither authenticates nor checks tenants in Python, and neither imports `app` (whose
tenancy listeners would attach to every SQLAlchemy session). Both connect as the runtime
role, under row-level security: the RLS settings are fixed per connection
(`server_settings`) to `BENCH_TENANT`, so PostgreSQL shows them exactly the rows Tessera
shows a member of that tenant, and their writes are that tenant's.

Environment: `DATABASE_URL` (runtime role), `BENCH_TENANT`, `DATABASE_POOL_SIZE`.

Routes (both apps unless noted): `GET /ping` (no database: the client's ceiling),
`GET /deployment/{id}`, `GET /deployment?maxResults=N`, `GET /deployment/count`,
`POST /bench-notes` (201 and the id), and (raw only) `POST /deployment/create`: the rows of
one deployment of a `<key>.bpmn` file by hand (no model parsing), for bench_deploy.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import DateTime, func, or_, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from starlette.datastructures import UploadFile

GET_SQL = "SELECT id, name, source, deployment_time, tenant_id FROM deployments WHERE id = $1"
LIST_SQL = (
    "SELECT id, name, source, deployment_time, tenant_id FROM deployments"
    " WHERE tenant_id = $1 OR tenant_id IS NULL ORDER BY id LIMIT $2"
)
COUNT_SQL = "SELECT count(*) FROM deployments WHERE tenant_id = $1 OR tenant_id IS NULL"
NOTE_SQL = "INSERT INTO bench_notes (id, tenant_id, title) VALUES ($1, $2, $3)"
DEPLOY_SQL = [
    "INSERT INTO deployments (id, name, source, tenant_id) VALUES ($1, $2, NULL, $3)",
    "INSERT INTO deployment_resources (id, deployment_id, name, content, checksum, tenant_id)"
    " VALUES ($1, $2, $3, $4, $5, $6)",
    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
    "SELECT max(version) FROM process_definitions WHERE key = $1 AND tenant_id = $2",
    "INSERT INTO process_definitions (id, tenant_id, deployment_id, key, name, version,"
    " version_tag, category, resource_name, history_time_to_live, suspended, startable)"
    " VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, NULL, false, true)",
]


class NoteIn(BaseModel):
    title: str


def _config() -> tuple[str, str, int]:
    tenant = os.environ["BENCH_TENANT"]
    return os.environ["DATABASE_URL"], tenant, int(os.environ.get("DATABASE_POOL_SIZE", "10"))


def _rls(tenant: str) -> dict[str, str]:
    return {"tessera.tenant_ids": tenant, "tessera.bypass": "off"}


def _deployment(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "source": row["source"],
        "deploymentTime": row["deployment_time"],
        "tenantId": row["tenant_id"],
        "links": [],
    }


def _app(lifespan: Any) -> FastAPI:
    app = FastAPI(lifespan=lifespan, openapi_url=None)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    return app


# --------------------------------------------------------------------------- raw asyncpg


def create_raw_app() -> FastAPI:
    url, tenant, size = _config()
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    pools: list[asyncpg.Pool] = []

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(
            dsn, min_size=size, max_size=size, server_settings=_rls(tenant)
        )
        pools.append(pool)
        try:
            yield
        finally:
            await pool.close()

    app = _app(lifespan)

    @app.get("/deployment/count")
    async def count() -> dict[str, int]:
        return {"count": await pools[0].fetchval(COUNT_SQL, tenant)}

    @app.get("/deployment")
    async def list_deployments(maxResults: int = 50) -> list[dict[str, Any]]:
        return [_deployment(r) for r in await pools[0].fetch(LIST_SQL, tenant, maxResults)]

    @app.get("/deployment/{id}")
    async def get_deployment(id: uuid.UUID) -> dict[str, Any]:
        if (row := await pools[0].fetchrow(GET_SQL, id)) is None:
            raise HTTPException(404)
        return _deployment(row)

    @app.post("/bench-notes", status_code=201)
    async def create_note(body: NoteIn) -> dict[str, uuid.UUID]:
        note = uuid.uuid4()
        await pools[0].execute(NOTE_SQL, note, tenant, body.title)  # one statement: committed
        return {"id": note}

    @app.post("/deployment/create")
    async def deploy(request: Request) -> dict[str, uuid.UUID]:
        async with request.form() as form:
            upload = form["data"]
            assert isinstance(upload, UploadFile) and upload.filename
            name, content = upload.filename, await upload.read()
            label = str(form.get("deployment-name") or "")
        key, deployment = name.removesuffix(".bpmn"), uuid.uuid4()
        async with pools[0].acquire() as connection, connection.transaction():
            await connection.execute(DEPLOY_SQL[0], deployment, label, tenant)
            checksum = hashlib.sha256(content).hexdigest()
            await connection.execute(
                DEPLOY_SQL[1], uuid.uuid4(), deployment, name, content, checksum, tenant
            )
            await connection.fetchval(DEPLOY_SQL[2], f"process_definitions:{tenant}:{key}")
            version = (await connection.fetchval(DEPLOY_SQL[3], key, tenant) or 0) + 1
            definition = f"{key}:{version}:{uuid.uuid4()}"
            await connection.execute(
                DEPLOY_SQL[4], definition, tenant, deployment, key, key, version, "bench", name
            )
        return {"id": deployment}

    return app


# --------------------------------------------------------------------------- plain ORM


class PlainBase(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True)}


class PlainDeployment(PlainBase):
    __tablename__ = "deployments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str | None]
    source: Mapped[str | None]
    deployment_time: Mapped[datetime]
    tenant_id: Mapped[str | None]


class PlainNote(PlainBase):
    __tablename__ = "bench_notes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[str]
    title: Mapped[str]


def _plain(d: PlainDeployment) -> dict[str, Any]:
    return _deployment(
        {c: getattr(d, c) for c in ("id", "name", "source", "deployment_time", "tenant_id")}
    )


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.session_factory() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


def create_orm_app() -> FastAPI:
    url, tenant, size = _config()
    engine = create_async_engine(
        url, pool_size=size, max_overflow=0, connect_args={"server_settings": _rls(tenant)}
    )
    factory = async_sessionmaker(engine, expire_on_commit=False)
    visible = or_(PlainDeployment.tenant_id == tenant, PlainDeployment.tenant_id.is_(None))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.dispose()

    app = _app(lifespan)
    app.state.session_factory = factory

    @app.get("/deployment/count")
    async def count(session: Session) -> dict[str, int]:
        statement = select(func.count()).select_from(PlainDeployment).where(visible)
        return {"count": int(await session.scalar(statement) or 0)}

    @app.get("/deployment")
    async def list_deployments(session: Session, maxResults: int = 50) -> list[dict[str, Any]]:
        statement = select(PlainDeployment).where(visible).order_by(PlainDeployment.id)
        return [_plain(d) for d in await session.scalars(statement.limit(maxResults))]

    @app.get("/deployment/{id}")
    async def get_deployment(id: uuid.UUID, session: Session) -> dict[str, Any]:
        if (deployment := await session.get(PlainDeployment, id)) is None:
            raise HTTPException(404)
        return _plain(deployment)

    @app.post("/bench-notes", status_code=201)
    async def create_note(body: NoteIn, session: Session) -> dict[str, uuid.UUID]:
        note = PlainNote(id=uuid.uuid4(), tenant_id=tenant, title=body.title)
        session.add(note)
        await session.commit()
        return {"id": note.id}

    return app
