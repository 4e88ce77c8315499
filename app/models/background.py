"""Background work: job definitions and their runs, listeners, the outbox and deliveries.

PostgreSQL is the source of truth for all of it (DESIGN §5): a run or a delivery is a row
first, and Redis only wakes a worker to do it.

- `JobDefinition` is **shareable**: a shared definition (tenant NULL, written by admins) is
  run for every tenant, unless the tenant has its own definition with the same key (the
  effective artifact, DESIGN §3). Its runs act as `acting_user`, the user who last saved it.
- `JobRun` is **tenant-owned**: one run of one definition for one tenant. The run carries
  what it needs (handler, parameters, acting user), so it is self-contained whatever
  happens to its definition later. `(job_definition_id, tenant_id, scheduled_for)` is
  unique: fanning one tick out twice creates each tenant's run once.
- `Listener` is **shareable**: a tenant's listener hears that tenant's events; a system
  listener (tenant NULL, admins only) hears every tenant's and the system space's.
- `OutboxEvent` is **shareable**: an event of a tenant, or of the system space (tenant NULL,
  e.g. a shared deployment, a user created). It is written in the transaction of the change
  that caused it.
- `ListenerDelivery`: one event for one listener, in the event's tenant; unique per
  (listener, event), so dispatching an event twice delivers it once per listener.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.identifiers import IDENTIFIER_MAX_LENGTH
from app.core.tenancy import Shareable, TenantOwned
from app.models.base import Base, Timestamps

_USER = String(IDENTIFIER_MAX_LENGTH)
_NAME = String(255)

# Run and delivery states. A failed attempt with attempts left stays PENDING (due again
# after its backoff); FAILED is final (an incident for runs, the dead letter for deliveries).
PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"


class JobDefinition(Shareable, Timestamps, Base):
    __tablename__ = "job_definitions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(_NAME)
    name: Mapped[str | None] = mapped_column(_NAME)
    handler: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # At most one of the two; neither = runs only when triggered.
    cron: Mapped[str | None] = mapped_column(String(120))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(SmallInteger, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    acting_user: Mapped[str | None] = mapped_column(_USER)
    # The next tick of the schedule; the sweeper fans out every tick that has come.
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)


class JobRun(TenantOwned, Base):
    __tablename__ = "job_runs"
    __tenant_table_args__ = (
        Index(
            "uq_job_runs_definition_tenant_tick",
            "job_definition_id",
            "tenant_id",
            "scheduled_for",
            unique=True,
        ),
        # Acquisition: a tenant's due runs, oldest first (the claim's whole ORDER BY, so a
        # backlog of 100,000 is not sorted for every claim).
        Index(
            "ix_job_runs_pending_due",
            "tenant_id",
            "due_at",
            "id",
            postgresql_where="status = 'pending'",
        ),
        Index("ix_job_runs_tenant_id_job_key", "tenant_id", "job_key", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # SET NULL: deleting a definition keeps the record of what its runs did.
    job_definition_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("job_definitions.id", ondelete="SET NULL")
    )
    job_key: Mapped[str] = mapped_column(_NAME)
    handler: Mapped[str] = mapped_column(String(64))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    trigger: Mapped[str] = mapped_column(String(16))  # schedule | manual
    scheduled_for: Mapped[datetime] = mapped_column()
    acting_user: Mapped[str | None] = mapped_column(_USER)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    max_attempts: Mapped[int] = mapped_column(SmallInteger, default=3)
    due_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Any] = mapped_column(JSONB, nullable=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    # What an incident of a failed run records (`app.services.incidents.FailedWork`): a run
    # belongs to no process instance; its job key stands where an activity id would.
    @property
    def process_instance_id(self) -> None:
        return None

    @property
    def process_definition_id(self) -> None:
        return None

    @property
    def activity_id(self) -> str:
        return self.job_key


class Listener(Shareable, Timestamps, Base):
    __tablename__ = "listeners"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str | None] = mapped_column(_NAME)
    # Event types heard: exact names ("process-instance.started") or a family ("task.*").
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    action: Mapped[str] = mapped_column(String(32))  # webhook | start-process | correlate-message
    # The action's settings (url; processDefinitionKey; messageName ...), checked on save.
    target: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # HMAC key of a webhook; never returned by the API.
    secret: Mapped[str | None] = mapped_column(String(255))
    # Set only by an admin: the webhook may reach loopback and private addresses.
    allow_private_network: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    acting_user: Mapped[str | None] = mapped_column(_USER)
    max_attempts: Mapped[int] = mapped_column(SmallInteger, default=5)


class OutboxEvent(Shareable, Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index(
            "ix_outbox_events_undispatched",
            "created_at",
            postgresql_where="dispatched_at IS NULL",
        ),
    )

    # CASCADE: events and their deliveries are the platform's bookkeeping, not tenant data
    # to purge first; a deleted tenant's undelivered events go with it (its memberships
    # always leave events behind, which would otherwise block deleting it).
    tenant_id: Mapped[str | None] = mapped_column(
        _USER, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_type: Mapped[str] = mapped_column(String(64))
    # The user whose action caused the event (listeners act on their behalf, G2).
    actor: Mapped[str | None] = mapped_column(_USER)
    # How many listener actions led to this event (0: a change a user or a job made). An
    # event at `outbox.MAX_CHAIN` triggers no further action: listeners cannot loop.
    chain: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    dispatched_at: Mapped[datetime | None] = mapped_column()


class ListenerDelivery(Shareable, Base):
    __tablename__ = "listener_deliveries"
    __table_args__ = (
        Index("uq_listener_deliveries_listener_event", "listener_id", "event_id", unique=True),
        Index(
            "ix_listener_deliveries_pending_due",
            "tenant_id",
            "due_at",
            postgresql_where="status = 'pending'",
        ),
    )

    tenant_id: Mapped[str | None] = mapped_column(  # CASCADE: as for OutboxEvent
        _USER, ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    listener_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("listeners.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    due_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    response_status: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


def _key_indexes() -> None:
    """One job definition per (tenant, key) and per (shared, key), as for artifacts."""
    Index(
        "uq_job_definitions_tenant_key",
        JobDefinition.tenant_id,
        JobDefinition.key,
        unique=True,
        postgresql_where=JobDefinition.tenant_id.isnot(None),
    )
    Index(
        "uq_job_definitions_shared_key",
        JobDefinition.key,
        unique=True,
        postgresql_where=JobDefinition.tenant_id.is_(None),
    )


_key_indexes()
