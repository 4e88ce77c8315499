"""The worker's heartbeat: a unix time in Redis, written by the worker's cron job and
shown (for information, not as a readiness condition) by `/ready`."""

from __future__ import annotations

import time

from redis.asyncio import Redis

HEARTBEAT_KEY = "tessera:worker:heartbeat"
# Kept for several missed beats (a worker beats every 30 s, app.worker).
HEARTBEAT_TTL_SECONDS = 120


async def record_heartbeat(redis: Redis) -> None:
    await redis.set(HEARTBEAT_KEY, str(int(time.time())), ex=HEARTBEAT_TTL_SECONDS)


async def last_heartbeat(redis: Redis) -> int | None:
    """Unix time of the last beat, or None if no worker beat in the last two minutes."""
    value = await redis.get(HEARTBEAT_KEY)
    return int(value) if value is not None else None
