"""Users: token generation and principal version (a cacheable, revocable principal).

Why: a bearer token named only a user id, so a user deleted and created again with the
same id was signed in by its old tokens, and every request read the caller's groups and
tenants again. Now:

* `users.token_generation` is a random value tokens carry and the API compares for
  equality. A user created again gets a new one; a password change sets a new one. Either
  way, the old tokens stop working on their next request.
* `users.principal_version` is bumped, in the same transaction, by a trigger on every
  change of the user's group or tenant memberships and of the tenant memberships of its
  groups (deletes of users, groups and tenants cascade into those tables, so they count
  too). An API process may keep a principal as long as the version it was read at is still
  the user's: one value read in the round trip that sets the RLS settings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MEMBERSHIP_TABLES = ("group_memberships", "tenant_user_memberships", "tenant_group_memberships")

# Row-level AFTER trigger. OLD is NULL on INSERT and NEW on DELETE (PostgreSQL >= 11), so
# `IN (OLD.x, NEW.x)` covers all three commands.
BUMP_FUNCTION = """
CREATE FUNCTION tessera_bump_principal_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tenant_group_memberships' THEN
        UPDATE users SET principal_version = principal_version + 1
        WHERE id IN (SELECT user_id FROM group_memberships
                     WHERE group_id IN (OLD.group_id, NEW.group_id));
    ELSE
        UPDATE users SET principal_version = principal_version + 1
        WHERE id IN (OLD.user_id, NEW.user_id);
    END IF;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "token_generation",
            sa.Uuid(),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
    )
    op.add_column(
        "users",
        sa.Column("principal_version", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.execute(BUMP_FUNCTION)
    for table in MEMBERSHIP_TABLES:
        op.execute(
            f"CREATE TRIGGER bump_principal_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION tessera_bump_principal_version()"
        )


def downgrade() -> None:
    for table in MEMBERSHIP_TABLES:
        op.execute(f"DROP TRIGGER bump_principal_version ON {table}")
    op.execute("DROP FUNCTION tessera_bump_principal_version()")
    op.drop_column("users", "principal_version")
    op.drop_column("users", "token_generation")
