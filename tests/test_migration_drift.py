"""The migrated database enforces what the models declare (issue: frozen migrations).

Migrations carry a frozen copy of the row-level security DDL they ran
(`migrations/rls_v1.py`), so editing `app.core.tenancy.row_level_security_ddl` changes no
old migration. This test is what makes such an edit visible: for every tenant-scoped
table it builds a probe table of the same shape, applies today's declaration to it, and
compares PostgreSQL's own rendering of the policies, the RLS flags and the triggers with
those of the migrated table. A declaration change without a migration fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.core.tenancy import row_level_security_ddl, tenant_scoped_tables
from app.models import Base

TABLES = tenant_scoped_tables(Base.registry.mappers)
PROBE = "drift_probe"


async def _enforcement(connection: AsyncConnection, table: str) -> dict[str, Any]:
    """Policies (as PostgreSQL renders them), RLS flags and triggers of `table`."""
    policies = await connection.execute(
        text(
            "SELECT policyname, cmd, permissive, roles::text, qual, with_check FROM pg_policies "
            "WHERE tablename = :table ORDER BY policyname"
        ),
        {"table": table},
    )
    flags = await connection.execute(
        text(
            "SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname = :table AND relpersistence IN ('p', 't') ORDER BY relpersistence"
        ),
        {"table": table},
    )
    triggers = await connection.execute(
        text(
            "SELECT t.tgname, p.proname, t.tgtype, t.tgattr::text FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE c.relname = :table AND NOT t.tgisinternal ORDER BY t.tgname"
        ),
        {"table": table},
    )
    return {
        "policies": [tuple(r) for r in policies],
        "flags": [tuple(r) for r in flags],
        "triggers": [tuple(r) for r in triggers],
    }


def test_every_tenant_scoped_model_is_covered() -> None:
    assert {name for name, _ in TABLES} >= {"deployments", "process_definitions"}


@pytest.mark.parametrize(("table", "kind"), TABLES, ids=[name for name, _ in TABLES])
async def test_migrated_table_enforces_what_the_model_declares(
    owner_engine: AsyncEngine, table: str, kind: Any
) -> None:
    async with owner_engine.connect() as connection:
        transaction = await connection.begin()
        try:
            migrated = await _enforcement(connection, table)
            await connection.execute(text(f"CREATE TEMP TABLE {PROBE} (LIKE {table})"))
            for statement in row_level_security_ddl(PROBE, kind):
                await connection.execute(text(statement))
            declared = await _enforcement(connection, PROBE)
        finally:
            await transaction.rollback()
    assert migrated["policies"], f"{table} has no row-level security policies"
    assert migrated == declared


async def test_the_comparison_sees_a_changed_policy(owner_engine: AsyncEngine) -> None:
    """The probe is not blind: a policy that differs from the declaration shows."""
    table, kind = TABLES[0]
    async with owner_engine.connect() as connection:
        transaction = await connection.begin()
        try:
            await connection.execute(text(f"CREATE TEMP TABLE {PROBE} (LIKE {table})"))
            for statement in row_level_security_ddl(PROBE, kind):
                await connection.execute(text(statement))
            declared = await _enforcement(connection, PROBE)
            await connection.execute(text(f"DROP POLICY tenant_delete ON {PROBE}"))
            await connection.execute(
                text(f"CREATE POLICY tenant_delete ON {PROBE} FOR DELETE USING (true)")
            )
            changed = await _enforcement(connection, PROBE)
        finally:
            await transaction.rollback()
    assert changed["policies"] != declared["policies"]
