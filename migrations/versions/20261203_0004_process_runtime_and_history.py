"""Process runtime and history: instances, tasks, variables, subscriptions, jobs, incidents.

Why: tenants run the definitions they deploy (issue "process runtime"). Every new table is
tenant-owned: an instance of a shared definition belongs to the tenant it was started for,
and everything under it references it by (tenant_id, process_instance_id), so PostgreSQL
refuses a cross-tenant link. All of them go under row-level security (rls_v1, "owned").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 11:57:48.438978
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls_v1 import row_level_security_ddl

OWNED_TABLES = (
    "process_instances",
    "tasks",
    "variables",
    "event_subscriptions",
    "jobs",
    "incidents",
    "history_process_instances",
    "history_activity_instances",
    "history_tasks",
    "history_variables",
    "history_decision_instances",
)

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "history_process_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=True),
        sa.Column("process_definition_key", sa.String(length=255), nullable=False),
        sa.Column("process_definition_name", sa.String(length=255), nullable=True),
        sa.Column("process_definition_version", sa.Integer(), nullable=False),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("start_user_id", sa.String(length=64), nullable=True),
        sa.Column(
            "start_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("start_activity_id", sa.String(length=255), nullable=True),
        sa.Column("end_activity_id", sa.String(length=255), nullable=True),
        sa.Column("super_process_instance_id", sa.Uuid(), nullable=True),
        sa.Column("root_process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_history_process_instances_process_definition_id_process_definitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_history_process_instances_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_process_instances")),
        sa.UniqueConstraint(
            "tenant_id", "id", name=op.f("uq_history_process_instances_tenant_id_id")
        ),
    )
    op.create_index(
        op.f("ix_history_process_instances_process_definition_id"),
        "history_process_instances",
        ["process_definition_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_history_process_instances_process_definition_key"),
        "history_process_instances",
        ["process_definition_key"],
        unique=False,
    )
    op.create_index(
        "ix_history_process_instances_start",
        "history_process_instances",
        ["tenant_id", "start_time"],
        unique=False,
    )
    op.create_table(
        "process_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=False),
        sa.Column("process_definition_key", sa.String(length=255), nullable=False),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("started_by", sa.String(length=64), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("super_process_instance_id", sa.Uuid(), nullable=True),
        sa.Column("root_process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("super_activity_instance", sa.Uuid(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column("called_definitions", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_process_instances_process_definition_id_process_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "root_process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_process_instances_tenant_id_root_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "super_process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_process_instances_tenant_id_super_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_process_instances_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_process_instances")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_process_instances_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_process_instances_process_definition_id"),
        "process_instances",
        ["process_definition_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_process_instances_process_definition_key"),
        "process_instances",
        ["process_definition_key"],
        unique=False,
    )
    op.create_index(
        op.f("ix_process_instances_root_process_instance_id"),
        "process_instances",
        ["root_process_instance_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_process_instances_super_process_instance_id"),
        "process_instances",
        ["super_process_instance_id"],
        unique=False,
    )
    op.create_index(
        "ix_process_instances_tenant_id_business_key",
        "process_instances",
        ["tenant_id", "business_key"],
        unique=False,
    )
    op.create_table(
        "event_subscriptions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=False),
        sa.Column("event_name", sa.String(length=255), nullable=True),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_event_subscriptions_tenant_id_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_event_subscriptions_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_subscriptions")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_event_subscriptions_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_event_subscriptions_process_instance_id"),
        "event_subscriptions",
        ["process_instance_id"],
        unique=False,
    )
    op.create_index(
        "ix_event_subscriptions_type_name",
        "event_subscriptions",
        ["event_type", "event_name"],
        unique=False,
    )
    op.create_table(
        "history_activity_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("activity_name", sa.String(length=255), nullable=True),
        sa.Column("activity_type", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("called_process_instance_id", sa.Uuid(), nullable=True),
        sa.Column(
            "start_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("canceled", sa.Boolean(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["history_process_instances.tenant_id", "history_process_instances.id"],
            name=op.f(
                "fk_history_activity_instances_tenant_id_process_instance_id_history_process_instances"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_history_activity_instances_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_activity_instances")),
        sa.UniqueConstraint(
            "tenant_id", "id", name=op.f("uq_history_activity_instances_tenant_id_id")
        ),
    )
    op.create_index(
        op.f("ix_history_activity_instances_process_instance_id"),
        "history_activity_instances",
        ["process_instance_id"],
        unique=False,
    )
    op.create_table(
        "history_decision_instances",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("decision_definition_id", sa.String(length=320), nullable=True),
        sa.Column("decision_definition_key", sa.String(length=255), nullable=False),
        sa.Column("decision_definition_name", sa.String(length=255), nullable=True),
        sa.Column(
            "evaluation_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("process_instance_id", sa.Uuid(), nullable=True),
        sa.Column("process_definition_id", sa.String(length=320), nullable=True),
        sa.Column("process_definition_key", sa.String(length=255), nullable=True),
        sa.Column("activity_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("inputs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("outputs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_definition_id"],
            ["decision_definitions.id"],
            name=op.f("fk_history_decision_instances_decision_definition_id_decision_definitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["history_process_instances.tenant_id", "history_process_instances.id"],
            name=op.f(
                "fk_history_decision_instances_tenant_id_process_instance_id_history_process_instances"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_history_decision_instances_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_decision_instances")),
        sa.UniqueConstraint(
            "tenant_id", "id", name=op.f("uq_history_decision_instances_tenant_id_id")
        ),
    )
    op.create_index(
        op.f("ix_history_decision_instances_decision_definition_id"),
        "history_decision_instances",
        ["decision_definition_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_history_decision_instances_decision_definition_key"),
        "history_decision_instances",
        ["decision_definition_key"],
        unique=False,
    )
    op.create_index(
        op.f("ix_history_decision_instances_process_instance_id"),
        "history_decision_instances",
        ["process_instance_id"],
        unique=False,
    )
    op.create_table(
        "history_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=False),
        sa.Column("process_definition_key", sa.String(length=255), nullable=False),
        sa.Column("task_definition_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column(
            "start_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["history_process_instances.tenant_id", "history_process_instances.id"],
            name=op.f("fk_history_tasks_tenant_id_process_instance_id_history_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_history_tasks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_tasks")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_history_tasks_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_history_tasks_process_instance_id"),
        "history_tasks",
        ["process_instance_id"],
        unique=False,
    )
    op.create_table(
        "history_variables",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column(
            "create_time",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["history_process_instances.tenant_id", "history_process_instances.id"],
            name=op.f(
                "fk_history_variables_tenant_id_process_instance_id_history_process_instances"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_history_variables_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_variables")),
        sa.UniqueConstraint(
            "process_instance_id",
            "name",
            name=op.f("uq_history_variables_process_instance_id_name"),
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_history_variables_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_history_variables_process_instance_id"),
        "history_variables",
        ["process_instance_id"],
        unique=False,
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("incident_type", sa.String(length=64), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=True),
        sa.Column("configuration", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_incidents_tenant_id_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_incidents_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_incidents_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_incidents_process_instance_id"), "incidents", ["process_instance_id"], unique=False
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("due_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acting_user", sa.String(length=64), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("exception_message", sa.Text(), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_jobs_tenant_id_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_jobs_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_jobs_tenant_id_id")),
    )
    op.create_index("ix_jobs_due_date", "jobs", ["due_date"], unique=False)
    op.create_index(
        op.f("ix_jobs_process_instance_id"), "jobs", ["process_instance_id"], unique=False
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=False),
        sa.Column("task_definition_key", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("due", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up", sa.DateTime(timezone=True), nullable=True),
        sa.Column("candidate_groups", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("candidate_users", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("form_key", sa.String(length=255), nullable=True),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_tasks_process_definition_id_process_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_tasks_tenant_id_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_tasks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_tasks_tenant_id_id")),
    )
    op.create_index(op.f("ix_tasks_assignee"), "tasks", ["assignee"], unique=False)
    op.create_index(
        "ix_tasks_candidate_groups",
        "tasks",
        ["candidate_groups"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_tasks_process_definition_id"), "tasks", ["process_definition_id"], unique=False
    )
    op.create_index(
        op.f("ix_tasks_process_instance_id"), "tasks", ["process_instance_id"], unique=False
    )
    op.create_index(
        "ix_tasks_tenant_id_created_at", "tasks", ["tenant_id", "created_at"], unique=False
    )
    op.create_table(
        "variables",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_variables_tenant_id_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_variables_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variables")),
        sa.UniqueConstraint(
            "process_instance_id", "name", name=op.f("uq_variables_process_instance_id_name")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_variables_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_variables_process_instance_id"), "variables", ["process_instance_id"], unique=False
    )
    for table in OWNED_TABLES:
        for statement in row_level_security_ddl(table, "owned"):
            op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f("ix_variables_process_instance_id"), table_name="variables")
    op.drop_table("variables")
    op.drop_index("ix_tasks_tenant_id_created_at", table_name="tasks")
    op.drop_index(op.f("ix_tasks_process_instance_id"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_process_definition_id"), table_name="tasks")
    op.drop_index("ix_tasks_candidate_groups", table_name="tasks", postgresql_using="gin")
    op.drop_index(op.f("ix_tasks_assignee"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_jobs_process_instance_id"), table_name="jobs")
    op.drop_index("ix_jobs_due_date", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index(op.f("ix_incidents_process_instance_id"), table_name="incidents")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_history_variables_process_instance_id"), table_name="history_variables")
    op.drop_table("history_variables")
    op.drop_index(op.f("ix_history_tasks_process_instance_id"), table_name="history_tasks")
    op.drop_table("history_tasks")
    op.drop_index(
        op.f("ix_history_decision_instances_process_instance_id"),
        table_name="history_decision_instances",
    )
    op.drop_index(
        op.f("ix_history_decision_instances_decision_definition_key"),
        table_name="history_decision_instances",
    )
    op.drop_index(
        op.f("ix_history_decision_instances_decision_definition_id"),
        table_name="history_decision_instances",
    )
    op.drop_table("history_decision_instances")
    op.drop_index(
        op.f("ix_history_activity_instances_process_instance_id"),
        table_name="history_activity_instances",
    )
    op.drop_table("history_activity_instances")
    op.drop_index("ix_event_subscriptions_type_name", table_name="event_subscriptions")
    op.drop_index(
        op.f("ix_event_subscriptions_process_instance_id"), table_name="event_subscriptions"
    )
    op.drop_table("event_subscriptions")
    op.drop_index("ix_process_instances_tenant_id_business_key", table_name="process_instances")
    op.drop_index(
        op.f("ix_process_instances_super_process_instance_id"), table_name="process_instances"
    )
    op.drop_index(
        op.f("ix_process_instances_root_process_instance_id"), table_name="process_instances"
    )
    op.drop_index(
        op.f("ix_process_instances_process_definition_key"), table_name="process_instances"
    )
    op.drop_index(
        op.f("ix_process_instances_process_definition_id"), table_name="process_instances"
    )
    op.drop_table("process_instances")
    op.drop_index("ix_history_process_instances_start", table_name="history_process_instances")
    op.drop_index(
        op.f("ix_history_process_instances_process_definition_key"),
        table_name="history_process_instances",
    )
    op.drop_index(
        op.f("ix_history_process_instances_process_definition_id"),
        table_name="history_process_instances",
    )
    op.drop_table("history_process_instances")
