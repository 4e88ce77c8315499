"""Engine, sessions and the unit of work.

One unit of work per request or job: a session bound to a tenancy context, committed
once when the work succeeds and rolled back on any error. Services never commit (the one
exception: a long poll ends its empty read transaction before it waits, see
`end_read_transaction`). What must happen only once the work is durable (a notification,
an enqueue) is registered with `after_commit()`: run after the commit, dropped on rollback.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.core.config import Settings
from app.core.tenancy import TenancyContext, bind_context

SessionFactory = async_sessionmaker[AsyncSession]
AfterCommit = Callable[[], Awaitable[None]]
# Opens a unit of work in a given context: what a worker hands to services that need
# several units of work (one per job run or delivery), each in its own context.
Work = Callable[[TenancyContext], AbstractAsyncContextManager[AsyncSession]]

logger = logging.getLogger(__name__)
_AFTER_COMMIT: Final = "tessera.after_commit"


def create_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    return create_async_engine(
        url or settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_pre_ping=False,
    )


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    # expire_on_commit=False: objects stay readable after the unit of work commits.
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=True)


@asynccontextmanager
async def unit_of_work(
    factory: SessionFactory, context: TenancyContext, *, settings: Settings
) -> AsyncIterator[AsyncSession]:
    """A session in `context` that commits on success and rolls back on any error."""
    async with factory() as session:
        bind_context(session, context, check_enabled=settings.tenant_check_enabled)
        try:
            yield session
            await session.commit()
        except BaseException:
            session.info.pop(_AFTER_COMMIT, None)
            await session.rollback()
            raise
        await _run_after_commit(session)


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run `callback` once this unit of work has committed; never if it rolls back."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


async def _run_after_commit(session: AsyncSession) -> None:
    for callback in session.info.pop(_AFTER_COMMIT, []):
        try:
            await callback()
        except Exception:  # the work is committed; a failed follow-up must not undo the reply
            logger.exception("after-commit callback failed")


async def end_read_transaction(session: AsyncSession) -> None:
    """Commit a transaction that changed nothing, so that its connection returns to the
    pool: a long poll waits without holding one. The next statement begins a new
    transaction (with the tenancy settings set again, `app.core.tenancy`)."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_read_transaction() on a session with pending changes")
    await session.commit()


async def refuse_privileged_role(engine: AsyncEngine) -> None:
    """Refuse to serve as a role that skips row-level security (the second tenancy layer).

    Superusers and BYPASSRLS roles ignore RLS even when it is forced; the table owner is
    subject to it only because every policy table is FORCEd, but we still want a
    separate role so that a bad migration cannot be run from the API's credentials.
    """
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
            )
        ).one()
    if row[0]:
        raise RuntimeError(
            "DATABASE_URL connects as a superuser or BYPASSRLS role, which skips row-level "
            "security. Connect the API and worker as an ordinary role (see README)."
        )


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def advisory_xact_lock(session: AsyncSession, name: str) -> None:
    """Serialize one critical section across processes until the transaction ends."""
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(name, 0))))
