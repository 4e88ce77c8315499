"""Repository: deployments, their resources, process and decision definitions.

Why: tenants deploy BPMN/DMN models, and admins deploy shared ones that a tenant may
override with its own version (DESIGN §3). All four tables are shareable (tenant_id NULL =
shared) and go under row-level security like every tenant-scoped table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:09:07.917215
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls_v1 import row_level_security_ddl

SHAREABLE_TABLES = (
    "deployments",
    "deployment_resources",
    "process_definitions",
    "decision_definitions",
)

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column(
            "deployment_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_deployments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_deployments_tenant_id_id")),
    )
    op.create_index(op.f("ix_deployments_name"), "deployments", ["name"], unique=False)
    op.create_index(op.f("ix_deployments_tenant_id"), "deployments", ["tenant_id"], unique=False)
    op.create_table(
        "decision_definitions",
        sa.Column("id", sa.String(length=320), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_tag", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("history_time_to_live", sa.Integer(), nullable=True),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_decision_definitions_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "deployment_id"],
            ["deployments.tenant_id", "deployments.id"],
            name=op.f("fk_decision_definitions_tenant_id_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_decision_definitions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_definitions")),
    )
    op.create_index(
        op.f("ix_decision_definitions_deployment_id"),
        "decision_definitions",
        ["deployment_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_decision_definitions_tenant_id"),
        "decision_definitions",
        ["tenant_id"],
        unique=False,
    )
    op.create_index(
        "uq_decision_definitions_shared_key_version",
        "decision_definitions",
        ["key", "version"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.create_index(
        "uq_decision_definitions_tenant_key_version",
        "decision_definitions",
        ["tenant_id", "key", "version"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.create_table(
        "deployment_resources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_resources_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "deployment_id"],
            ["deployments.tenant_id", "deployments.id"],
            name=op.f("fk_deployment_resources_tenant_id_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_deployment_resources_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_resources")),
    )
    op.create_index(
        op.f("ix_deployment_resources_deployment_id"),
        "deployment_resources",
        ["deployment_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_deployment_resources_tenant_id"),
        "deployment_resources",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "process_definitions",
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("startable", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=320), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_tag", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("resource_name", sa.String(length=255), nullable=False),
        sa.Column("history_time_to_live", sa.Integer(), nullable=True),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_process_definitions_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "deployment_id"],
            ["deployments.tenant_id", "deployments.id"],
            name=op.f("fk_process_definitions_tenant_id_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_process_definitions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_definitions")),
    )
    op.create_index(
        op.f("ix_process_definitions_deployment_id"),
        "process_definitions",
        ["deployment_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_process_definitions_tenant_id"), "process_definitions", ["tenant_id"], unique=False
    )
    op.create_index(
        "uq_process_definitions_shared_key_version",
        "process_definitions",
        ["key", "version"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.create_index(
        "uq_process_definitions_tenant_key_version",
        "process_definitions",
        ["tenant_id", "key", "version"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    for table in SHAREABLE_TABLES:
        for statement in row_level_security_ddl(table, "shareable"):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index(
        "uq_process_definitions_tenant_key_version",
        table_name="process_definitions",
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_process_definitions_shared_key_version",
        table_name="process_definitions",
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.drop_index(op.f("ix_process_definitions_tenant_id"), table_name="process_definitions")
    op.drop_index(op.f("ix_process_definitions_deployment_id"), table_name="process_definitions")
    op.drop_table("process_definitions")
    op.drop_index(op.f("ix_deployment_resources_tenant_id"), table_name="deployment_resources")
    op.drop_index(op.f("ix_deployment_resources_deployment_id"), table_name="deployment_resources")
    op.drop_table("deployment_resources")
    op.drop_index(
        "uq_decision_definitions_tenant_key_version",
        table_name="decision_definitions",
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_decision_definitions_shared_key_version",
        table_name="decision_definitions",
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.drop_index(op.f("ix_decision_definitions_tenant_id"), table_name="decision_definitions")
    op.drop_index(op.f("ix_decision_definitions_deployment_id"), table_name="decision_definitions")
    op.drop_table("decision_definitions")
    op.drop_index(op.f("ix_deployments_tenant_id"), table_name="deployments")
    op.drop_index(op.f("ix_deployments_name"), table_name="deployments")
    op.drop_table("deployments")
