"""Passwords (argon2 via pwdlib) and bearer tokens (JWT, HS256 with SECRET_KEY).

A token names the user and its token generation, and expires; it carries no tenants or
groups. The generation is compared for equality with the user row's (a user created again
with the same id, or a password change, gives a new one), and the groups and tenants are
the database's current ones, checked on every request (`app.core.tenancy`), so a removed
membership or a deleted user takes effect on the very next request (CONFORMANCE A14, A15).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash

from app.core.config import Settings
from app.core.errors import Unauthorized

ALGORITHM = "HS256"
_password_hash = PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the user has no password, so both paths take the same time.
    Made on first use: argon2 costs real CPU, which importing this module should not."""
    return _password_hash.hash("tessera-dummy-password")


async def hash_password(password: str) -> str:
    """argon2 costs tens of milliseconds of CPU: run it off the event loop."""
    return await asyncio.to_thread(_password_hash.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    """False for a user without a password, after the same work as a real check."""
    if password_hash is None:
        await asyncio.to_thread(_password_hash.verify, password, _dummy_hash())
        return False
    return await asyncio.to_thread(_password_hash.verify, password, password_hash)


def create_access_token(settings: Settings, user_id: str, generation: uuid.UUID) -> tuple[str, int]:
    """A signed token for `user_id` at its token `generation`, and its lifetime in seconds."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    now = datetime.now(UTC)
    claims = {
        "sub": user_id,
        "gen": str(generation),
        "iat": now,
        "exp": now + lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, settings.secret_key.get_secret_value(), algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: str
    generation: str
    expires_at: int


def read_access_token(settings: Settings, token: str) -> TokenClaims:
    """The claims of a valid token; 401 for any malformed, forged or expired one.

    Only HS256 is accepted, so `alg=none` and algorithm-confusion tokens fail here. A
    client sends the same token many times: its verified claims are kept (bounded), and
    only the expiry is checked again on each use.
    """
    claims = _verified_claims(settings.secret_key.get_secret_value(), token)
    if claims.expires_at <= time.time():
        raise Unauthorized("The token has expired.")
    return claims


@lru_cache(maxsize=4096)
def _verified_claims(secret: str, token: str) -> TokenClaims:
    """Signature and shape check (raises, and so caches nothing, for a bad token)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "gen", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired.") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("The token is invalid.") from None
    subject, generation, expires_at = claims.get("sub"), claims.get("gen"), claims.get("exp")
    if not (isinstance(subject, str) and subject and isinstance(expires_at, int)):
        raise Unauthorized("The token is invalid.")
    return TokenClaims(subject, _canonical_uuid(generation), expires_at)


def _canonical_uuid(value: object) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise Unauthorized("The token is invalid.") from None
