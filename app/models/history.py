"""History: what happened to process instances, activities, tasks, variables, decisions and
external tasks.

Tenant-owned like the runtime (C7, E2). History outlives the runtime rows: its rows reference
the historic process instance by (tenant_id, process_instance_id). It also outlives a
deployment deleted without cascade (the definition reference becomes NULL; key, name and
version stay); a deployment deleted with cascade takes its definitions' history with it.
A decision evaluated through the API has no process instance; it carries the caller's tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.identifiers import IDENTIFIER_MAX_LENGTH
from app.core.tenancy import TenantOwned, tenant_reference
from app.models.base import Base

_USER = String(IDENTIFIER_MAX_LENGTH)
_NAME = String(255)


def _of_instance() -> Any:
    return tenant_reference("process_instance_id", "history_process_instances", ondelete="CASCADE")


class HistoricProcessInstance(TenantOwned, Base):
    __tablename__ = "history_process_instances"
    __tenant_table_args__ = (
        Index("ix_history_process_instances_start", "tenant_id", "start_time"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # = the runtime instance's id
    # SET NULL: deleting a deployment without cascade keeps the history of its finished
    # instances (Camunda's rule); with cascade the service deletes that history first.
    process_definition_id: Mapped[str | None] = mapped_column(
        String(320), ForeignKey("process_definitions.id", ondelete="SET NULL"), index=True
    )
    process_definition_key: Mapped[str] = mapped_column(_NAME, index=True)
    process_definition_name: Mapped[str | None] = mapped_column(_NAME)
    process_definition_version: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(_NAME)
    start_user_id: Mapped[str | None] = mapped_column(_USER)
    start_time: Mapped[datetime] = mapped_column(server_default=func.now())
    end_time: Mapped[datetime | None] = mapped_column()
    start_activity_id: Mapped[str | None] = mapped_column(_NAME)
    end_activity_id: Mapped[str | None] = mapped_column(_NAME)
    super_process_instance_id: Mapped[uuid.UUID | None] = mapped_column()
    root_process_instance_id: Mapped[uuid.UUID] = mapped_column()
    # ACTIVE | SUSPENDED | COMPLETED | EXTERNALLY_TERMINATED (Camunda's names)
    state: Mapped[str] = mapped_column(String(32))
    delete_reason: Mapped[str | None] = mapped_column(Text)


class HistoricActivityInstance(TenantOwned, Base):
    __tablename__ = "history_activity_instances"
    __tenant_table_args__ = (_of_instance(),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # Spiff's task id
    process_instance_id: Mapped[uuid.UUID] = mapped_column(index=True)
    process_definition_id: Mapped[str] = mapped_column(String(320))
    activity_id: Mapped[str] = mapped_column(_NAME)
    activity_name: Mapped[str | None] = mapped_column(_NAME)
    activity_type: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[uuid.UUID | None] = mapped_column()
    assignee: Mapped[str | None] = mapped_column(_USER)
    called_process_instance_id: Mapped[uuid.UUID | None] = mapped_column()
    start_time: Mapped[datetime] = mapped_column(server_default=func.now())
    end_time: Mapped[datetime | None] = mapped_column()
    canceled: Mapped[bool] = mapped_column(default=False)


class HistoricTask(TenantOwned, Base):
    __tablename__ = "history_tasks"
    __tenant_table_args__ = (_of_instance(),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # = the runtime task's id
    process_instance_id: Mapped[uuid.UUID] = mapped_column(index=True)
    process_definition_id: Mapped[str] = mapped_column(String(320))
    process_definition_key: Mapped[str] = mapped_column(_NAME)
    task_definition_key: Mapped[str] = mapped_column(_NAME)
    name: Mapped[str | None] = mapped_column(_NAME)
    assignee: Mapped[str | None] = mapped_column(_USER)
    owner: Mapped[str | None] = mapped_column(_USER)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    start_time: Mapped[datetime] = mapped_column(server_default=func.now())
    end_time: Mapped[datetime | None] = mapped_column()
    delete_reason: Mapped[str | None] = mapped_column(Text)  # completed | deleted


class HistoricVariable(TenantOwned, Base):
    """The latest value of each variable an instance ever had (Camunda's historic variable
    instance): updated on change, state DELETED once removed."""

    __tablename__ = "history_variables"
    __tenant_table_args__ = (_of_instance(), UniqueConstraint("process_instance_id", "name"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    process_instance_id: Mapped[uuid.UUID] = mapped_column(index=True)
    process_definition_key: Mapped[str] = mapped_column(_NAME)
    name: Mapped[str] = mapped_column(_NAME)
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[Any] = mapped_column(JSONB(none_as_null=False))
    state: Mapped[str] = mapped_column(String(16), default="CREATED")
    create_time: Mapped[datetime] = mapped_column(server_default=func.now())


class HistoricDecisionInstance(TenantOwned, Base):
    __tablename__ = "history_decision_instances"
    __tenant_table_args__ = (_of_instance(),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    decision_definition_id: Mapped[str | None] = mapped_column(
        String(320), ForeignKey("decision_definitions.id", ondelete="SET NULL"), index=True
    )
    decision_definition_key: Mapped[str] = mapped_column(_NAME, index=True)
    decision_definition_name: Mapped[str | None] = mapped_column(_NAME)
    evaluation_time: Mapped[datetime] = mapped_column(server_default=func.now())
    process_instance_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    process_definition_id: Mapped[str | None] = mapped_column(String(320))
    process_definition_key: Mapped[str | None] = mapped_column(_NAME)
    activity_id: Mapped[str | None] = mapped_column(_NAME)
    user_id: Mapped[str | None] = mapped_column(_USER)
    inputs: Mapped[Any] = mapped_column(JSONB)  # [{"name": ..., "type": ..., "value": ...}]
    outputs: Mapped[Any] = mapped_column(JSONB)  # [{rule: n, outputs: {name: typed}}]


class HistoricExternalTaskLog(TenantOwned, Base):
    """Camunda's external task log: one row per creation, failure, success and deletion.

    `acting_user_id` is the user on whose behalf the work was done: the instance's starter
    (a system worker completes a tenant's task in that tenant, for that user).
    """

    __tablename__ = "history_external_task_logs"
    __tenant_table_args__ = (_of_instance(),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    timestamp: Mapped[datetime] = mapped_column(server_default=func.now())
    external_task_id: Mapped[uuid.UUID] = mapped_column(index=True)
    process_instance_id: Mapped[uuid.UUID] = mapped_column(index=True)
    process_definition_id: Mapped[str | None] = mapped_column(
        String(320), ForeignKey("process_definitions.id", ondelete="SET NULL")
    )
    process_definition_key: Mapped[str] = mapped_column(_NAME)
    activity_id: Mapped[str] = mapped_column(_NAME)
    topic_name: Mapped[str] = mapped_column(_NAME)
    worker_id: Mapped[str | None] = mapped_column(_NAME)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # created | failed | successful | deleted
    acting_user_id: Mapped[str | None] = mapped_column(_USER)

    @property
    def activity_instance_id(self) -> str:
        return f"{self.activity_id}:{self.external_task_id}"

    @property
    def user_id(self) -> str | None:
        return self.acting_user_id

    @property
    def creation_log(self) -> bool:
        return self.state == "created"

    @property
    def failure_log(self) -> bool:
        return self.state == "failed"

    @property
    def success_log(self) -> bool:
        return self.state == "successful"

    @property
    def deletion_log(self) -> bool:
        return self.state == "deleted"
