"""`/health` (the process answers) and `/ready` (its database and Redis answer). No token.

`/ready` also tells how the background worker is doing, for information (the API serves
without a worker; background work then waits): its last heartbeat, whether one beat in the
last two minutes, and the backlog — the oldest due piece of work and how many seconds
behind that is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import ping_database, unit_of_work
from app.core.heartbeat import last_heartbeat
from app.core.tenancy import TenancyContext
from app.services import backlog

router = APIRouter(tags=["Health"])

_CHECK_TIMEOUT_SECONDS = 2.0


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "A dependency does not answer"}})
async def ready(request: Request) -> JSONResponse:
    engine: AsyncEngine = request.app.state.engine
    checks = {
        "database": await _answers(ping_database(engine)),
        "redis": await _answers(request.app.state.redis.ping()),
    }
    healthy = all(checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if healthy:
        body["worker"] = await _worker(request)
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _worker(request: Request) -> dict[str, Any]:
    beat = await last_heartbeat(request.app.state.redis)
    # System context: the backlog of the whole platform, which no tenant's view shows.
    context = TenancyContext.system()
    async with unit_of_work(
        request.app.state.session_factory, context, settings=request.app.state.settings
    ) as session:
        oldest = await backlog.oldest_due(session)
    lag = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    return {
        "lastHeartbeat": beat,
        "alive": beat is not None,
        "oldestDueWork": oldest.isoformat() if oldest is not None else None,
        "lagSeconds": round(max(lag, 0.0), 3),
    }


async def _answers(check: object) -> bool:
    try:
        await asyncio.wait_for(check, _CHECK_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception:
        return False
    return True
