"""Repository: deployments, their resources, and the process/decision definitions in them.

All four are shareable (`tenant_id` NULL = the shared system space). A deployment's tenant
propagates to every resource and definition in it (B1, B2). Versions are numbered per
(tenant-or-shared, key) (B3): two partial unique indexes, one for tenant rows and one for
shared rows, because PostgreSQL 14 has no UNIQUE NULLS NOT DISTINCT. Children reference
their deployment by (tenant_id, deployment_id), so the database refuses a tenant's
resource or definition inside another tenant's deployment (for shared rows, tenant_id NULL,
the plain foreign key applies).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from app.core.tenancy import Shareable, tenant_reference
from app.models.base import Base


class Deployment(Shareable, Base):
    __tablename__ = "deployments"
    # Target of the children's (tenant_id, deployment_id) keys.
    __table_args__ = (UniqueConstraint("tenant_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str | None] = mapped_column(String(255), index=True)
    source: Mapped[str | None] = mapped_column(String(255))
    deployment_time: Mapped[datetime] = mapped_column(server_default=func.now())


class DeploymentResource(Shareable, Base):
    __tablename__ = "deployment_resources"
    __table_args__ = (tenant_reference("deployment_id", "deployments", ondelete="CASCADE"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    deployment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    # sha256 of content: duplicate filtering compares this, not the bytes.
    checksum: Mapped[str] = mapped_column(String(64))


class DefinitionColumns(Shareable):
    """Columns of process and decision definitions (Camunda's shapes)."""

    # Camunda style "key:version:uuid": unique across tenants thanks to the uuid.
    id: Mapped[str] = mapped_column(String(320), primary_key=True)
    key: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    version_tag: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(255))
    resource_name: Mapped[str] = mapped_column(String(255))
    history_time_to_live: Mapped[int | None] = mapped_column(Integer)

    @declared_attr
    def deployment_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)


class ProcessDefinition(DefinitionColumns, Base):
    __tablename__ = "process_definitions"
    __table_args__ = (tenant_reference("deployment_id", "deployments", ondelete="CASCADE"),)

    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    startable: Mapped[bool] = mapped_column(Boolean, default=True)
    # Names of the messages / signals that start it (top-level start events): what a
    # correlation or a signal looks up without parsing every model.
    start_messages: Mapped[list[str]] = mapped_column(
        ARRAY(String(255)), default=list, server_default="{}"
    )
    start_signals: Mapped[list[str]] = mapped_column(
        ARRAY(String(255)), default=list, server_default="{}"
    )


class DecisionDefinition(DefinitionColumns, Base):
    __tablename__ = "decision_definitions"
    __table_args__ = (tenant_reference("deployment_id", "deployments", ondelete="CASCADE"),)


def _version_indexes(model: type[ProcessDefinition | DecisionDefinition]) -> None:
    """One version per (tenant, key) and per (shared, key)."""
    table = model.__tablename__
    Index(
        f"uq_{table}_tenant_key_version",
        model.tenant_id,
        model.key,
        model.version,
        unique=True,
        postgresql_where=model.tenant_id.isnot(None),
    )
    Index(
        f"uq_{table}_shared_key_version",
        model.key,
        model.version,
        unique=True,
        postgresql_where=model.tenant_id.is_(None),
    )


_version_indexes(ProcessDefinition)
_version_indexes(DecisionDefinition)
