"""The baseline of bench_http_get: a bare FastAPI + asyncpg app (no ORM, no tenancy).

Served by uvicorn exactly like Tessera (`--factory`, one worker). Configuration comes from
the environment: `BENCH_BARE_DSN` (asyncpg DSN of the runtime role), `BENCH_SECRET` (JWT
key, for the round-trip variant) and `BENCH_POOL_MIN`/`BENCH_POOL_MAX`.

Routes:
  * `GET /ping`: no database; the ceiling of client + HTTP stack on this machine.
  * `GET /tenant/{id}`: `SELECT id, name FROM tenants WHERE id = $1` on the pool.
  * `GET /tx/tenant/{id}`: what a Tessera request sends to PostgreSQL, by hand: JWT check,
    BEGIN, the principal query of `load_principal`, set_config of the RLS settings, the
    tenant query, COMMIT. Tessera minus this = Python stack cost (DI, ORM, tenancy, schemas).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
from fastapi import FastAPI, HTTPException, Request

TENANT_SQL = "SELECT id, name FROM tenants WHERE id = $1"

# The statement `app.services.identity.load_principal` builds, written out.
PRINCIPAL_SQL = """
SELECT users.id,
       (SELECT array_agg(gm.group_id) FROM group_memberships gm WHERE gm.user_id = $1),
       (SELECT array_agg(t.tenant_id) FROM (
            SELECT tum.tenant_id FROM tenant_user_memberships tum WHERE tum.user_id = $1
            UNION
            SELECT tgm.tenant_id FROM tenant_group_memberships tgm
            JOIN group_memberships gm ON gm.group_id = tgm.group_id
            WHERE gm.user_id = $1) AS t)
FROM users WHERE users.id = $1 AND date_trunc('second', users.created_at) <= $2
"""

SETTINGS_SQL = (
    "SELECT set_config('tessera.tenant_ids', $1, true), set_config('tessera.bypass', $2, true)"
)


def create_app() -> FastAPI:
    dsn = os.environ["BENCH_BARE_DSN"]
    secret = os.environ["BENCH_SECRET"]
    pool_min = int(os.environ.get("BENCH_POOL_MIN", "10"))
    pool_max = int(os.environ.get("BENCH_POOL_MAX", "20"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=pool_min, max_size=pool_max)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/tenant/{tenant_id}")
    async def get_tenant(tenant_id: str, request: Request) -> dict[str, Any]:
        pool: asyncpg.Pool = request.app.state.pool
        row = await pool.fetchrow(TENANT_SQL, tenant_id)
        if row is None:
            raise HTTPException(404)
        return {"id": row["id"], "name": row["name"]}

    @app.get("/tx/tenant/{tenant_id}")
    async def get_tenant_with_round_trips(tenant_id: str, request: Request) -> dict[str, Any]:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = jwt.decode(token, secret, algorithms=["HS256"])
        issued_at = datetime.fromtimestamp(claims["iat"], UTC)
        pool: asyncpg.Pool = request.app.state.pool
        async with pool.acquire() as connection, connection.transaction():
            principal = await connection.fetchrow(PRINCIPAL_SQL, claims["sub"], issued_at)
            if principal is None:
                raise HTTPException(401)
            tenants = sorted(principal[2] or ())
            await connection.fetchrow(SETTINGS_SQL, ",".join(tenants), "off")
            row = await connection.fetchrow(TENANT_SQL, tenant_id)
        if row is None or tenant_id not in tenants:
            raise HTTPException(404)
        return {"id": row["id"], "name": row["name"]}

    return app
