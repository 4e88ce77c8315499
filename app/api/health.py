"""`/health` (the process answers) and `/ready` (its database and Redis answer). No token."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.db import ping_database
from app.core.heartbeat import last_heartbeat

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
    if checks["redis"]:
        # Information only: the API serves without a worker, background work then waits.
        body["worker"] = {"lastHeartbeat": await last_heartbeat(request.app.state.redis)}
    return JSONResponse(body, status_code=200 if healthy else 503)


async def _answers(check: object) -> bool:
    try:
        await asyncio.wait_for(check, _CHECK_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception:
        return False
    return True
