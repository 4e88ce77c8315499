"""Camunda 7 shapes of process instances, tasks, variables and decision results.

Variables travel as `{name: {"value": ..., "type": ..., "valueInfo": {...}}}` and are checked by
`app.services.variables` (types, sizes, names), not by pydantic, so that every variable error
is one clear 400 naming the variable.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_serializer,
)

from app.schemas.base import InputSchema, Schema
from app.schemas.repository import camunda_datetime


def parse_camunda_datetime(value: Any) -> Any:
    """Camunda writes offsets as +0200; Python wants +02:00."""
    if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-4:].isdigit():
        return f"{value[:-2]}:{value[-2:]}"
    return value


class StartInstance(InputSchema):
    variables: dict[str, Any] | None = None
    business_key: str | None = Field(default=None, max_length=255)
    with_variables_in_return: bool = False
    # Tessera: start the latest shared version (C4); the instance still gets a tenant.
    without_tenant_id: bool = False
    # Accepted so that C5 (start by id + tenant) is a clear 400, not a schema error.
    tenant_id: str | None = None
    # Camunda clients send these; they change nothing here (no listeners, no IO mappings).
    skip_custom_listeners: bool = False
    skip_io_mappings: bool = False
    case_instance_id: None = None
    start_instructions: list[Any] | None = Field(default=None, max_length=0)


class ProcessInstanceRead(Schema):
    id: uuid.UUID
    definition_id: str
    definition_key: str | None = None
    business_key: str | None
    case_instance_id: None = None
    ended: bool = False
    suspended: bool = False
    tenant_id: str
    links: list[dict[str, Any]] = Field(default_factory=list)


class ProcessInstanceWithVariables(ProcessInstanceRead):
    """The start response. `variables` is there only with `withVariablesInReturn`, as in
    Camunda (a ProcessInstanceDto otherwise): clients such as pycamunda read the key when
    present and fail on null."""

    variables: dict[str, dict[str, Any]] | None = None

    # No return annotation: with one, the documented response schema would be a bare object.
    @model_serializer(mode="wrap")
    def _omit_unrequested(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        if data.get("variables", ...) is None:
            del data["variables"]
        return data


class SortingItem(InputSchema):
    sort_by: str
    sort_order: Literal["asc", "desc"] = "asc"


class InstanceQuery(InputSchema):
    process_instance_ids: list[str] | None = None
    business_key: str | None = None
    business_key_like: str | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    super_process_instance: str | None = None
    sub_process_instance: str | None = None
    active: bool = False
    suspended: bool = False
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool = False
    process_definition_without_tenant_id: bool = False
    sorting: list[SortingItem] | None = Field(default=None, max_length=1)


class VariableModifications(InputSchema):
    modifications: dict[str, Any] | None = None
    deletions: list[str] | None = None


class Suspension(InputSchema):
    suspended: bool


class TaskRead(Schema):
    id: uuid.UUID
    name: str | None
    assignee: str | None
    owner: str | None
    created: datetime = Field(validation_alias="created_at")
    due: datetime | None
    follow_up: datetime | None
    delegation_state: None = None
    description: str | None
    execution_id: uuid.UUID = Field(validation_alias="process_instance_id")
    parent_task_id: None = None
    priority: int
    process_definition_id: str
    process_instance_id: uuid.UUID
    task_definition_key: str
    case_execution_id: None = None
    case_instance_id: None = None
    case_definition_id: None = None
    suspended: bool
    form_key: str | None
    tenant_id: str

    @field_serializer("created", "due", "follow_up")
    def _time(self, value: datetime | None) -> str | None:
        return camunda_datetime(value) if value is not None else None


class TaskUpdate(InputSchema):
    """The body of `PUT /task/{id}` (Camunda's TaskDto, its writable fields)."""

    id: str | None = None
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=4000)
    assignee: str | None = Field(default=None, max_length=64)
    owner: str | None = Field(default=None, max_length=64)
    delegation_state: None = None
    due: datetime | None = None
    follow_up: datetime | None = None
    priority: int = Field(default=50, ge=-(2**31), le=2**31 - 1)
    parent_task_id: None = None
    case_instance_id: None = None
    tenant_id: str | None = None

    _dates = field_validator("due", "follow_up", mode="before")(parse_camunda_datetime)


class UserIdBody(InputSchema):
    user_id: str | None = Field(default=None, max_length=64)


class IdentityLinkBody(InputSchema):
    user_id: str | None = Field(default=None, max_length=64)
    group_id: str | None = Field(default=None, max_length=64)
    type: str = Field(max_length=32)


class IdentityLinkRead(Schema):
    user_id: str | None
    group_id: str | None
    type: str


class CompleteTask(InputSchema):
    variables: dict[str, Any] | None = None
    with_variables_in_return: bool = False


class TaskQuery(InputSchema):
    task_id: str | None = None
    task_id_in: list[str] | None = None
    process_instance_id: str | None = None
    process_instance_id_in: list[str] | None = None
    process_definition_id: str | None = None
    process_definition_key: str | None = None
    task_definition_key: str | None = None
    name: str | None = None
    name_like: str | None = None
    assignee: str | None = None
    assigned: bool = False
    unassigned: bool = False
    candidate_group: str | None = None
    candidate_groups: list[str] | None = None
    candidate_user: str | None = None
    include_assigned_tasks: bool = False
    active: bool = False
    suspended: bool = False
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool = False
    sorting: list[SortingItem] | None = Field(default=None, max_length=1)


class EvaluateDecision(InputSchema):
    variables: dict[str, Any] | None = None
    # By key: `withoutTenantId` evaluates the shared version (as starting, C4). By id, either
    # field is a 400 (C5); `tenantId` is accepted only for that clear refusal.
    tenant_id: str | None = None
    without_tenant_id: bool = False
