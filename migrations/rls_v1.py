"""Row-level security DDL, version 1: frozen as migrations 0001 and 0002 ran it.

Migrations call this module, never `app.core.tenancy`, so changing the live declaration
cannot rewrite what an old migration did. A change of the policies gets a `rls_v2.py` and
a migration that moves existing tables to it; `tests/test_migration_drift.py` fails until
the migrated database matches what `app.core.tenancy.row_level_security_ddl` declares.
"""

from typing import Literal

RLS_TENANT_IDS = "tessera.tenant_ids"
RLS_BYPASS = "tessera.bypass"

TENANT_ID_IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION tessera_tenant_id_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        RAISE EXCEPTION 'tenant_id of % cannot change', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$
"""


def row_level_security_ddl(table: str, kind: Literal["owned", "shareable"]) -> list[str]:
    """ENABLE + FORCE RLS, one policy per command, and the tenant_id immutability trigger."""
    # The id list is unnested once per statement (a hashed subplan), not re-parsed per row.
    member = (
        f"(current_setting('{RLS_BYPASS}', true) = 'on' OR tenant_id IN "
        f"(SELECT unnest(string_to_array(current_setting('{RLS_TENANT_IDS}', true), ','))))"
    )
    # Shared rows need a context too: the bypass setting is 'on' or 'off' once one is set.
    shared = f"(tenant_id IS NULL AND current_setting('{RLS_BYPASS}', true) IN ('on', 'off'))"
    readable = member if kind == "owned" else f"({shared} OR {member})"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_select ON {table} FOR SELECT USING {readable}",
        f"CREATE POLICY tenant_insert ON {table} FOR INSERT WITH CHECK {member}",
        f"CREATE POLICY tenant_update ON {table} FOR UPDATE USING {member} WITH CHECK {member}",
        f"CREATE POLICY tenant_delete ON {table} FOR DELETE USING {member}",
        f"CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION tessera_tenant_id_immutable()",
    ]
