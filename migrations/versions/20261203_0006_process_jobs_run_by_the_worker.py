"""Process jobs (timers, async continuations) carry their definition, as Camunda's /job shows.

Why: the background worker now runs these jobs (issue "background work"), and `/job` lists
them with processDefinitionId/Key. Existing rows take their instance's definition.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 16:04:45.368372
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("process_definition_id", sa.String(length=320), nullable=True))
    op.add_column("jobs", sa.Column("process_definition_key", sa.String(length=255), nullable=True))
    op.create_foreign_key(
        op.f("fk_jobs_process_definition_id_process_definitions"),
        "jobs",
        "process_definitions",
        ["process_definition_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.execute(
        "UPDATE jobs SET process_definition_id = p.process_definition_id, "
        "process_definition_key = p.process_definition_key "
        "FROM process_instances p WHERE p.id = jobs.process_instance_id"
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_jobs_process_definition_id_process_definitions"), "jobs", type_="foreignkey"
    )
    op.drop_column("jobs", "process_definition_key")
    op.drop_column("jobs", "process_definition_id")
