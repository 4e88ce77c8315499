"""External tasks, their log, incidents' definitions, message and signal start events.

Why: workers do the external service tasks of a tenant's instances (issue "messages, signals,
external tasks"); both new tables are tenant-owned and go under row-level security (rls_v1).
A message or signal correlation finds the definitions it starts by the names on the
definition row; existing definitions get them from their deployed XML here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:26:39.425238
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls_v1 import row_level_security_ddl

OWNED_TABLES = ("external_tasks", "history_external_task_logs")
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "external_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=False),
        sa.Column("process_definition_key", sa.String(length=255), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("topic_name", sa.String(length=255), nullable=False),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("priority", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(length=255), nullable=True),
        sa.Column("lock_expiration_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_details", sa.Text(), nullable=True),
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
            name=op.f("fk_external_tasks_process_definition_id_process_definitions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["process_instances.tenant_id", "process_instances.id"],
            name=op.f("fk_external_tasks_tenant_id_process_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_external_tasks_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_tasks")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_external_tasks_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_external_tasks_process_definition_id"),
        "external_tasks",
        ["process_definition_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_external_tasks_process_instance_id"),
        "external_tasks",
        ["process_instance_id"],
        unique=False,
    )
    op.create_index(
        "ix_external_tasks_topic_available",
        "external_tasks",
        ["topic_name", "priority", "created_at"],
        unique=False,
    )
    op.create_table(
        "history_external_task_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "timestamp", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("external_task_id", sa.Uuid(), nullable=False),
        sa.Column("process_instance_id", sa.Uuid(), nullable=False),
        sa.Column("process_definition_id", sa.String(length=320), nullable=True),
        sa.Column("process_definition_key", sa.String(length=255), nullable=False),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("topic_name", sa.String(length=255), nullable=False),
        sa.Column("worker_id", sa.String(length=255), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("acting_user_id", sa.String(length=64), nullable=True),
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_definition_id"],
            ["process_definitions.id"],
            name=op.f("fk_history_external_task_logs_process_definition_id_process_definitions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "process_instance_id"],
            ["history_process_instances.tenant_id", "history_process_instances.id"],
            name=op.f(
                "fk_history_external_task_logs_tenant_id_process_instance_id_history_process_instances"
            ),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_history_external_task_logs_tenant_id_tenants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_external_task_logs")),
        sa.UniqueConstraint(
            "tenant_id", "id", name=op.f("uq_history_external_task_logs_tenant_id_id")
        ),
    )
    op.create_index(
        op.f("ix_history_external_task_logs_external_task_id"),
        "history_external_task_logs",
        ["external_task_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_history_external_task_logs_process_instance_id"),
        "history_external_task_logs",
        ["process_instance_id"],
        unique=False,
    )
    op.add_column(
        "incidents", sa.Column("process_definition_id", sa.String(length=320), nullable=True)
    )
    op.create_foreign_key(
        op.f("fk_incidents_process_definition_id_process_definitions"),
        "incidents",
        "process_definitions",
        ["process_definition_id"],
        ["id"],
        ondelete="CASCADE",
    )
    for column in ("start_messages", "start_signals"):
        op.add_column(
            "process_definitions",
            sa.Column(
                column,
                postgresql.ARRAY(sa.String(length=255)),
                server_default="{}",
                nullable=False,
            ),
        )
    _backfill_start_events()
    for table in OWNED_TABLES:
        for statement in row_level_security_ddl(table, "owned"):
            op.execute(statement)


def _backfill_start_events() -> None:
    """The message/signal names of each deployed process's top-level start events."""
    from lxml import etree  # the same hardened settings the platform parses models with

    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT d.id, d.key, r.content FROM process_definitions d "
            "JOIN deployment_resources r "
            "ON r.deployment_id = d.deployment_id AND r.name = d.resource_name"
        )
    )
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    for definition_id, key, content in rows:
        root = etree.fromstring(bytes(content), parser)
        names = {
            kind: {e.get("id"): e.get("name") for e in root.iterchildren(f"{BPMN}{kind}")}
            for kind in ("message", "signal")
        }
        found: dict[str, list[str]] = {"message": [], "signal": []}
        for process in root.iterchildren(f"{BPMN}process"):
            if process.get("id") != key:
                continue
            for start in process.iterchildren(f"{BPMN}startEvent"):
                for kind in ("message", "signal"):
                    for event in start.iterchildren(f"{BPMN}{kind}EventDefinition"):
                        name = names[kind].get(event.get(f"{kind}Ref"))
                        if name:
                            found[kind].append(name)
        if found["message"] or found["signal"]:
            connection.execute(
                sa.text(
                    "UPDATE process_definitions SET start_messages = :m, start_signals = :s "
                    "WHERE id = :id"
                ),
                {"m": found["message"], "s": found["signal"], "id": definition_id},
            )


def downgrade() -> None:
    op.drop_column("process_definitions", "start_signals")
    op.drop_column("process_definitions", "start_messages")
    op.drop_constraint(
        op.f("fk_incidents_process_definition_id_process_definitions"),
        "incidents",
        type_="foreignkey",
    )
    op.drop_column("incidents", "process_definition_id")
    op.drop_index(
        op.f("ix_history_external_task_logs_process_instance_id"),
        table_name="history_external_task_logs",
    )
    op.drop_index(
        op.f("ix_history_external_task_logs_external_task_id"),
        table_name="history_external_task_logs",
    )
    op.drop_table("history_external_task_logs")
    op.drop_index("ix_external_tasks_topic_available", table_name="external_tasks")
    op.drop_index(op.f("ix_external_tasks_process_instance_id"), table_name="external_tasks")
    op.drop_index(op.f("ix_external_tasks_process_definition_id"), table_name="external_tasks")
    op.drop_table("external_tasks")
