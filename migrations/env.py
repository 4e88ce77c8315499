"""Alembic environment (async). Runs as the table owner: DATABASE_OWNER_URL, else DATABASE_URL.

After upgrading, the runtime role (the user of DATABASE_URL), if it is a different role,
is granted DML on every table: it must be able to read and write rows, under row-level
security, but never own or alter the tables.
"""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401 - registers every model on the metadata
from app.core.config import get_settings
from app.models.base import Base

target_metadata = Base.metadata


def _grant_runtime_role(connection: Connection, runtime_user: str | None) -> None:
    owner = connection.execute(text("SELECT current_user")).scalar_one()
    if not runtime_user or runtime_user == owner:
        return
    role = connection.dialect.identifier_preparer.quote(runtime_user)
    connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {role}"))
    connection.execute(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    )
    connection.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
        if (
            not context.is_offline_mode()
            and context.get_x_argument(as_dictionary=True).get("grant", "true") != "false"
        ):
            _grant_runtime_role(connection, make_url(get_settings().database_url).username)


async def _run_online() -> None:
    settings = get_settings()
    url = context.config.attributes.get("database_url") or settings.migration_database_url
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(
        url=get_settings().migration_database_url,
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_online())
