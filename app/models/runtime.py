"""Process runtime: instances, user tasks, variables, event subscriptions, jobs, external
tasks, incidents.

Every table is tenant-owned (DESIGN §3): an instance of a shared definition belongs to the
tenant it was started for (C6), and each child row references its instance by
(tenant_id, process_instance_id), so the database itself refuses a T2 task under a T1
instance (C7). Runtime rows live while the instance runs; what stays afterwards is history
(`app.models.history`).

The engine's state (SpiffWorkflow's serialized workflow, without the spec) is stored on the
instance at the root of a call hierarchy; called instances share it and have `state` NULL.
The other tables are the queryable projection of that state, rewritten by
`app.services.execution` in the same transaction as the state itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.identifiers import IDENTIFIER_MAX_LENGTH
from app.core.tenancy import TenantOwned, tenant_reference
from app.models.base import Base

_USER = String(IDENTIFIER_MAX_LENGTH)
_NAME = String(255)


def _definition_id() -> Mapped[str]:
    # A definition may be shared (tenant NULL), so this is a plain foreign key. Deleting a
    # deployment with cascade deletes its instances with it; without, the service refuses.
    return mapped_column(
        String(320), ForeignKey("process_definitions.id", ondelete="CASCADE"), index=True
    )


class ProcessInstance(TenantOwned, Base):
    __tablename__ = "process_instances"
    __tenant_table_args__ = (
        tenant_reference("super_process_instance_id", "process_instances", ondelete="CASCADE"),
        tenant_reference("root_process_instance_id", "process_instances", ondelete="CASCADE"),
        Index("ix_process_instances_tenant_id_business_key", "tenant_id", "business_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    process_definition_id: Mapped[str] = _definition_id()
    process_definition_key: Mapped[str] = mapped_column(_NAME, index=True)
    business_key: Mapped[str | None] = mapped_column(_NAME)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    # The user on whose behalf the instance runs (the background worker acts as this user).
    started_by: Mapped[str | None] = mapped_column(_USER)
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    super_process_instance_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # Self for a root instance. The root's row is the lock every command on the tree takes.
    root_process_instance_id: Mapped[uuid.UUID] = mapped_column(index=True)
    # The call activity of the super instance that started this one (Spiff's task id).
    super_activity_instance: Mapped[uuid.UUID | None] = mapped_column()
    # Root only: SpiffWorkflow's serialized workflow (JSON text) ...
    state: Mapped[str | None] = mapped_column(Text)
    # ... and the definitions its call activities were bound to at start: {key: definition id}.
    called_definitions: Mapped[dict[str, str] | None] = mapped_column(JSONB)
    # Bumped by every command: a stale writer fails instead of overwriting (optimistic lock
    # under the row lock the commands take).
    revision: Mapped[int] = mapped_column(BigInteger, default=1)

    __mapper_args__ = {"version_id_col": revision}


class _InstanceChild(TenantOwned):
    """A row under a process instance, deleted with it."""

    process_instance_id: Mapped[uuid.UUID] = mapped_column(index=True)


def _child_args(*extra: Any) -> tuple[Any, ...]:
    return (
        tenant_reference("process_instance_id", "process_instances", ondelete="CASCADE"),
        *extra,
    )


class Task(_InstanceChild, Base):
    """A waiting user task; its id is SpiffWorkflow's task id."""

    __tablename__ = "tasks"
    __tenant_table_args__ = _child_args(
        Index("ix_tasks_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_tasks_candidate_groups", "candidate_groups", postgresql_using="gin"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    process_definition_id: Mapped[str] = _definition_id()
    task_definition_key: Mapped[str] = mapped_column(_NAME)
    name: Mapped[str | None] = mapped_column(_NAME)
    description: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(_USER, index=True)
    owner: Mapped[str | None] = mapped_column(_USER)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    due: Mapped[datetime | None] = mapped_column()
    follow_up: Mapped[datetime | None] = mapped_column()
    candidate_groups: Mapped[list[str]] = mapped_column(ARRAY(_USER), default=list)
    candidate_users: Mapped[list[str]] = mapped_column(ARRAY(_USER), default=list)
    form_key: Mapped[str | None] = mapped_column(_NAME)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)  # = its instance's
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Variable(_InstanceChild, Base):
    """A process variable of one instance, in Camunda's typed form."""

    __tablename__ = "variables"
    __tenant_table_args__ = _child_args(UniqueConstraint("process_instance_id", "name"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(_NAME)
    type: Mapped[str] = mapped_column(String(16))
    value: Mapped[Any] = mapped_column(JSONB(none_as_null=False))


class EventSubscription(_InstanceChild, Base):
    """An instance waiting for a message or signal (rows the correlation issue reads)."""

    __tablename__ = "event_subscriptions"
    __tenant_table_args__ = _child_args(
        Index("ix_event_subscriptions_type_name", "event_type", "event_name")
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # Spiff's waiting task
    event_type: Mapped[str] = mapped_column(String(16))  # message | signal | conditional
    event_name: Mapped[str | None] = mapped_column(_NAME)
    activity_id: Mapped[str] = mapped_column(_NAME)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Job(_InstanceChild, Base):
    """A timer of an instance: the background worker fires it when due, as `acting_user`."""

    __tablename__ = "jobs"
    __tenant_table_args__ = _child_args(Index("ix_jobs_due_date", "due_date"))

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # Spiff's waiting task
    job_type: Mapped[str] = mapped_column(String(32))  # timer | async-continuation
    activity_id: Mapped[str] = mapped_column(_NAME)
    # NULL for rows written before migration 0006; new jobs always carry them.
    process_definition_id: Mapped[str | None] = mapped_column(
        String(320), ForeignKey("process_definitions.id", ondelete="CASCADE")
    )
    process_definition_key: Mapped[str | None] = mapped_column(_NAME)
    due_date: Mapped[datetime | None] = mapped_column()
    acting_user: Mapped[str | None] = mapped_column(_USER)
    retries: Mapped[int] = mapped_column(Integer, default=3)
    exception_message: Mapped[str | None] = mapped_column(Text)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class ExternalTask(_InstanceChild, Base):
    """Camunda's external task: a `camunda:type="external"` service task waiting for a worker.

    Fetch-and-lock sets `worker_id` and `lock_expiration_time` (the row stays; the engine's
    task stays ready). A failure lowers `retries` and may hold the task back until
    `lock_expiration_time` (its retry timeout); `retries` 0 leaves it to an incident.
    """

    __tablename__ = "external_tasks"
    __tenant_table_args__ = _child_args(
        # fetchAndLock: the available tasks of a topic, by priority then age.
        Index("ix_external_tasks_topic_available", "topic_name", "priority", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # Spiff's ready task
    process_definition_id: Mapped[str] = _definition_id()
    process_definition_key: Mapped[str] = mapped_column(_NAME)
    activity_id: Mapped[str] = mapped_column(_NAME)
    topic_name: Mapped[str] = mapped_column(_NAME)
    business_key: Mapped[str | None] = mapped_column(_NAME)
    priority: Mapped[int] = mapped_column(BigInteger, default=0)
    worker_id: Mapped[str | None] = mapped_column(_NAME)
    lock_expiration_time: Mapped[datetime | None] = mapped_column()
    retries: Mapped[int | None] = mapped_column(Integer)  # None until a first failure
    error_message: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)  # = its instance's
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    @property
    def activity_instance_id(self) -> str:
        return f"{self.activity_id}:{self.id}"


class Incident(_InstanceChild, Base):
    """Camunda's incident: work that failed for good and waits for an operator."""

    __tablename__ = "incidents"
    __tenant_table_args__ = _child_args()

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # NULL for work outside any instance (a job run, `app.models.background`).
    process_instance_id: Mapped[uuid.UUID | None] = mapped_column(index=True)  # type: ignore[assignment]
    incident_type: Mapped[str] = mapped_column(String(64))
    activity_id: Mapped[str | None] = mapped_column(_NAME)
    configuration: Mapped[str | None] = mapped_column(_NAME)  # e.g. the failed job's id
    message: Mapped[str | None] = mapped_column(Text)
    process_definition_id: Mapped[str | None] = mapped_column(
        String(320), ForeignKey("process_definitions.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
