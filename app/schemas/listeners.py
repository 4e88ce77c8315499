"""`/listeners` bodies and answers (Tessera's own resource, Camunda's camelCase style).

The secret of a webhook is write-only: answers say `hasSecret`, never the value. Range and
registry checks (action, event types, target, `maxAttempts`) are the service's, so that
they answer 400 with a reason rather than a schema error.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from app.schemas.base import InputSchema, Schema


class ListenerSettings(InputSchema):
    """What `PUT /listeners/{id}` replaces (fields left out keep their value)."""

    name: str | None = Field(default=None, max_length=255)
    event_types: list[str] | None = None
    action: str | None = None
    target: dict[str, Any] | None = None
    # Write-only. `null` removes the secret; leaving the field out keeps it.
    secret: str | None = Field(default=None, min_length=1, max_length=255)
    enabled: bool | None = None
    max_attempts: int | None = None
    allow_private_network: bool | None = None


class ListenerCreate(InputSchema):
    # None = a system listener: hears every tenant's events (admins only).
    tenant_id: str | None = None
    name: str | None = Field(default=None, max_length=255)
    event_types: list[str]
    action: str
    target: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(default=None, min_length=1, max_length=255)
    enabled: bool = True
    max_attempts: int = 5
    allow_private_network: bool = False


class ListenerRead(Schema):
    id: uuid.UUID
    tenant_id: str | None
    name: str | None
    event_types: list[str]
    action: str
    target: dict[str, Any]
    has_secret: bool = Field(validation_alias="secret")
    enabled: bool
    max_attempts: int
    allow_private_network: bool
    created_at: datetime
    updated_at: datetime

    @field_validator("has_secret", mode="before")
    @classmethod
    def _only_whether(cls, secret: Any) -> bool:
        return bool(secret)


class DeliveryRead(Schema):
    id: uuid.UUID
    listener_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    tenant_id: str | None
    status: str
    attempts: int
    due_at: datetime
    delivered_at: datetime | None
    response_status: int | None
    error: str | None
    created_at: datetime
