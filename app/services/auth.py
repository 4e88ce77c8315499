"""Sign-in: password check with per-user throttling, and the bearer token it returns.

Attempts are counted in Redis per user id (also for ids that do not exist, so the
answer never tells which ids exist), shared by every API replica. After
LOGIN_MAX_FAILURES failures inside LOGIN_FAILURE_WINDOW_SECONDS the user is refused with
429 until the window has passed; a successful sign-in clears the count.
"""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import TooManyRequests, Unauthorized
from app.core.security import create_access_token, verify_password
from app.models.identity import User


def _failures_key(user_id: str) -> str:
    return f"tessera:login-failures:{user_id}"


async def sign_in(
    session: AsyncSession, redis: Redis, *, settings: Settings, user_id: str, password: str
) -> tuple[str, int]:
    """A token and its lifetime for valid credentials; 401 otherwise, 429 when throttled.

    The attempt is counted *before* the password is checked, so parallel guesses cannot
    all slip in under the limit; a successful sign-in clears the count.
    """
    key = _failures_key(user_id)
    # The window starts at the first attempt; INCR keeps the TTL that SET NX gave.
    # (Redis 6.2 compatible: EXPIRE ... NX needs Redis 7.)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(key, 0, ex=settings.login_failure_window_seconds, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _, attempts, ttl = await pipe.execute()
    if attempts > settings.login_max_failures:
        raise TooManyRequests(
            "Too many failed sign-ins for this user; try again later.",
            headers={"Retry-After": str(max(int(ttl), 1))},
        )
    user = await session.get(User, user_id) if len(user_id) <= 255 else None
    if not await verify_password(password, user.password_hash if user else None):
        raise Unauthorized("Wrong user id or password.")
    await redis.delete(key)
    assert user is not None
    return create_access_token(settings, user.id, user.token_generation)
