"""Job definitions and their runs, listeners, the outbox of events and their deliveries.

Why: the background worker runs jobs for every tenant and delivers events to the listeners
tenants define (issue "background work"). Job runs are tenant-owned; definitions, listeners,
events and deliveries are shareable (NULL = the system space). All five go under row-level
security (rls_v1). Incidents may now belong to no instance (a job run's incident).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:27:55.997705
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls_v1 import row_level_security_ddl

TABLES = {
    "job_definitions": "shareable",
    "job_runs": "owned",
    "listeners": "shareable",
    "outbox_events": "shareable",
    "listener_deliveries": "shareable",
}

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job_definitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("handler", sa.String(length=64), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("cron", sa.String(length=120), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("max_attempts", sa.SmallInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("acting_user", sa.String(length=64), nullable=True),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_job_definitions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_definitions")),
    )
    op.create_index(
        op.f("ix_job_definitions_next_run_at"), "job_definitions", ["next_run_at"], unique=False
    )
    op.create_index(
        op.f("ix_job_definitions_tenant_id"), "job_definitions", ["tenant_id"], unique=False
    )
    op.create_index(
        "uq_job_definitions_shared_key",
        "job_definitions",
        ["key"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.create_index(
        "uq_job_definitions_tenant_key",
        "job_definitions",
        ["tenant_id", "key"],
        unique=True,
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.create_table(
        "listeners",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("secret", sa.String(length=255), nullable=True),
        sa.Column("allow_private_network", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("acting_user", sa.String(length=64), nullable=True),
        sa.Column("max_attempts", sa.SmallInteger(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_listeners_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listeners")),
    )
    op.create_index(op.f("ix_listeners_tenant_id"), "listeners", ["tenant_id"], unique=False)
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("chain", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_outbox_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    op.create_index(
        op.f("ix_outbox_events_tenant_id"), "outbox_events", ["tenant_id"], unique=False
    )
    op.create_index(
        "ix_outbox_events_undispatched",
        "outbox_events",
        ["created_at"],
        unique=False,
        postgresql_where="dispatched_at IS NULL",
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_definition_id", sa.Uuid(), nullable=True),
        sa.Column("job_key", sa.String(length=255), nullable=False),
        sa.Column("handler", sa.String(length=64), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acting_user", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("max_attempts", sa.SmallInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_definition_id"],
            ["job_definitions.id"],
            name=op.f("fk_job_runs_job_definition_id_job_definitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_job_runs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_job_runs_tenant_id_id")),
    )
    op.create_index(
        "ix_job_runs_pending_due",
        "job_runs",
        ["tenant_id", "due_at", "id"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        "ix_job_runs_tenant_id_job_key",
        "job_runs",
        ["tenant_id", "job_key", "created_at"],
        unique=False,
    )
    op.create_index(
        "uq_job_runs_definition_tenant_tick",
        "job_runs",
        ["job_definition_id", "tenant_id", "scheduled_for"],
        unique=True,
    )
    op.create_table(
        "listener_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("listener_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_status", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox_events.id"],
            name=op.f("fk_listener_deliveries_event_id_outbox_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["listener_id"],
            ["listeners.id"],
            name=op.f("fk_listener_deliveries_listener_id_listeners"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_listener_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listener_deliveries")),
    )
    op.create_index(
        op.f("ix_listener_deliveries_event_id"), "listener_deliveries", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_listener_deliveries_listener_id"),
        "listener_deliveries",
        ["listener_id"],
        unique=False,
    )
    op.create_index(
        "ix_listener_deliveries_pending_due",
        "listener_deliveries",
        ["tenant_id", "due_at"],
        unique=False,
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        op.f("ix_listener_deliveries_tenant_id"), "listener_deliveries", ["tenant_id"], unique=False
    )
    op.create_index(
        "uq_listener_deliveries_listener_event",
        "listener_deliveries",
        ["listener_id", "event_id"],
        unique=True,
    )
    op.alter_column("incidents", "process_instance_id", existing_type=sa.UUID(), nullable=True)
    for table, kind in TABLES.items():
        for statement in row_level_security_ddl(table, kind):
            op.execute(statement)


def downgrade() -> None:
    op.alter_column("incidents", "process_instance_id", existing_type=sa.UUID(), nullable=False)
    op.drop_index("uq_listener_deliveries_listener_event", table_name="listener_deliveries")
    op.drop_index(op.f("ix_listener_deliveries_tenant_id"), table_name="listener_deliveries")
    op.drop_index(
        "ix_listener_deliveries_pending_due",
        table_name="listener_deliveries",
        postgresql_where="status = 'pending'",
    )
    op.drop_index(op.f("ix_listener_deliveries_listener_id"), table_name="listener_deliveries")
    op.drop_index(op.f("ix_listener_deliveries_event_id"), table_name="listener_deliveries")
    op.drop_table("listener_deliveries")
    op.drop_index("uq_job_runs_definition_tenant_tick", table_name="job_runs")
    op.drop_index("ix_job_runs_tenant_id_job_key", table_name="job_runs")
    op.drop_index(
        "ix_job_runs_pending_due", table_name="job_runs", postgresql_where="status = 'pending'"
    )
    op.drop_table("job_runs")
    op.drop_index(
        "ix_outbox_events_undispatched",
        table_name="outbox_events",
        postgresql_where="dispatched_at IS NULL",
    )
    op.drop_index(op.f("ix_outbox_events_tenant_id"), table_name="outbox_events")
    op.drop_table("outbox_events")
    op.drop_index(op.f("ix_listeners_tenant_id"), table_name="listeners")
    op.drop_table("listeners")
    op.drop_index(
        "uq_job_definitions_tenant_key",
        table_name="job_definitions",
        postgresql_where=sa.text("tenant_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_job_definitions_shared_key",
        table_name="job_definitions",
        postgresql_where=sa.text("tenant_id IS NULL"),
    )
    op.drop_index(op.f("ix_job_definitions_tenant_id"), table_name="job_definitions")
    op.drop_index(op.f("ix_job_definitions_next_run_at"), table_name="job_definitions")
    op.drop_table("job_definitions")
