"""Bodies and responses of `/jobs`: job definitions, their runs, the handler registry.

Tessera's own resource (Camunda 7 has no tenant-facing job definitions), in the same camelCase
JSON style as the Camunda-shaped resources.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.schemas.base import InputSchema, Schema

JOB_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$"


class JobSettings(InputSchema):
    """What a definition does and when (create and replace)."""

    name: str | None = Field(default=None, max_length=255)
    handler: str = Field(min_length=1, max_length=64)
    parameters: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = Field(default=None, max_length=120)
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 24 * 3600)
    max_attempts: int = Field(default=3, ge=1, le=20)
    enabled: bool = True


class JobCreate(JobSettings):
    key: str = Field(pattern=JOB_KEY_PATTERN)
    # None = shared by every tenant (admins only).
    tenant_id: str | None = None


class JobRead(Schema):
    id: uuid.UUID
    key: str
    name: str | None
    handler: str
    parameters: dict[str, Any]
    cron: str | None
    interval_seconds: int | None
    max_attempts: int
    enabled: bool
    tenant_id: str | None
    acting_user: str | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime


class TriggerBody(InputSchema):
    tenant_id: str | None = None


class TriggerResult(Schema):
    run_count: int
    tenant_ids: list[str]


class JobRunRead(Schema):
    id: uuid.UUID
    job_key: str
    job_definition_id: uuid.UUID | None
    tenant_id: str
    handler: str
    parameters: dict[str, Any]
    trigger: str
    scheduled_for: datetime
    acting_user: str | None
    status: str
    attempts: int
    max_attempts: int
    due_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: Any
    created_at: datetime


class HandlerRead(Schema):
    name: str
    description: str
    parameters: dict[str, Any]  # the JSON schema of the handler's parameters
