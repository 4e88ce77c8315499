"""Bodies and responses of `/message`, `/signal`, `/external-task` and `/incident`, in
Camunda 7's shapes (its REST reference's DTOs, the fields Tessera serves).

Variables arrive as Camunda's `{name: {value, type, valueInfo}}` and are checked by
`app.services.variables` (types, sizes) in the router, before anything runs.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_serializer

from app.schemas.base import InputSchema, Schema
from app.schemas.repository import camunda_datetime


class CorrelationMessage(InputSchema):
    message_name: str | None = Field(default=None, max_length=255)
    business_key: str | None = Field(default=None, max_length=255)
    tenant_id: str | None = None
    without_tenant_id: bool = False
    process_instance_id: str | None = None
    correlation_keys: dict[str, Any] | None = None
    local_correlation_keys: dict[str, Any] | None = None
    process_variables: dict[str, Any] | None = None
    process_variables_local: dict[str, Any] | None = None
    all: bool = False
    result_enabled: bool = False
    variables_in_result_enabled: bool = False


class ExecutionRead(Schema):
    id: str
    process_instance_id: str
    ended: bool
    tenant_id: str


class CorrelatedInstanceRead(Schema):
    id: str
    definition_id: str
    business_key: str | None
    case_instance_id: None = None
    ended: bool
    suspended: bool
    tenant_id: str
    links: list[Any] = Field(default_factory=list)


class CorrelationResultRead(Schema):
    result_type: str  # Execution | ProcessDefinition
    execution: ExecutionRead | None = None
    process_instance: CorrelatedInstanceRead | None = None
    variables: dict[str, Any] | None = None


class SignalBody(InputSchema):
    name: str | None = Field(default=None, max_length=255)
    execution_id: str | None = None
    variables: dict[str, Any] | None = None
    tenant_id: str | None = None
    without_tenant_id: bool = False


# --------------------------------------------------------------------------- external tasks


class FetchTopic(InputSchema):
    topic_name: str = Field(max_length=255)
    lock_duration: int | None = None
    variables: list[str] | None = None
    local_variables: bool = False
    business_key: str | None = None
    process_definition_id: str | None = None
    process_definition_id_in: list[str] | None = None
    process_definition_key: str | None = None
    process_definition_key_in: list[str] | None = None
    process_definition_version_tag: str | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool = False
    # Only tasks whose instance has these variable values (plain values, Camunda's map).
    process_variables: dict[str, Any] | None = None
    deserialize_values: bool = False
    include_extension_properties: bool = False


class FetchSorting(InputSchema):
    sort_by: Literal["createTime"]
    sort_order: Literal["asc", "desc"] = "asc"


class FetchAndLock(InputSchema):
    worker_id: str | None = Field(default=None, max_length=255)
    max_tasks: int = 10
    use_priority: bool = False
    async_response_timeout: int | None = None
    topics: list[FetchTopic] | None = Field(default=None, max_length=100)
    sorting: list[FetchSorting] | None = Field(default=None, max_length=1)


class ExternalTaskRead(Schema):
    activity_id: str
    activity_instance_id: str
    error_message: str | None
    execution_id: uuid.UUID = Field(validation_alias="process_instance_id")
    id: uuid.UUID
    lock_expiration_time: datetime | None
    create_time: datetime = Field(validation_alias="created_at")
    process_definition_id: str
    process_definition_key: str
    process_definition_version_tag: None = None
    process_instance_id: uuid.UUID
    retries: int | None
    suspended: bool
    worker_id: str | None
    topic_name: str
    tenant_id: str
    priority: int
    business_key: str | None

    @field_serializer("lock_expiration_time", "create_time")
    def _time(self, value: datetime | None) -> str | None:
        return camunda_datetime(value) if value is not None else None


class LockedExternalTaskRead(ExternalTaskRead):
    error_details: str | None
    variables: dict[str, Any]
    extension_properties: dict[str, Any] = Field(default_factory=dict)


class CompleteExternalTask(InputSchema):
    worker_id: str = Field(max_length=255)
    variables: dict[str, Any] | None = None
    local_variables: dict[str, Any] | None = None


class ExternalTaskFailure(InputSchema):
    worker_id: str = Field(max_length=255)
    error_message: str | None = None
    error_details: str | None = None
    retries: int = 0
    retry_timeout: int = 0
    variables: dict[str, Any] | None = None
    local_variables: dict[str, Any] | None = None


class ExternalTaskBpmnError(InputSchema):
    worker_id: str = Field(max_length=255)
    error_code: str = Field(max_length=255)
    error_message: str | None = None
    variables: dict[str, Any] | None = None


class ExtendLock(InputSchema):
    worker_id: str = Field(max_length=255)
    new_duration: int


class RetriesBody(InputSchema):
    retries: int


class PriorityBody(InputSchema):
    priority: int = Field(ge=-(2**63), le=2**63 - 1)


class ExternalTaskQuery(InputSchema):
    external_task_id: str | None = None
    external_task_id_in: list[str] | None = None
    topic_name: str | None = None
    worker_id: str | None = None
    locked: bool = False
    not_locked: bool = False
    with_retries_left: bool = False
    no_retries_left: bool = False
    process_instance_id: str | None = None
    process_definition_id: str | None = None
    activity_id: str | None = None
    active: bool = False
    suspended: bool = False
    priority_higher_than_or_equals: int | None = None
    priority_lower_than_or_equals: int | None = None
    tenant_id_in: list[str] | None = None
    without_tenant_id: bool = False


class ExternalTaskLogRead(Schema):
    id: uuid.UUID
    timestamp: datetime
    external_task_id: uuid.UUID
    topic_name: str
    worker_id: str | None
    priority: int
    retries: int | None
    error_message: str | None
    activity_id: str
    activity_instance_id: str
    execution_id: uuid.UUID = Field(validation_alias="process_instance_id")
    process_instance_id: uuid.UUID
    process_definition_id: str | None
    process_definition_key: str
    tenant_id: str
    creation_log: bool
    failure_log: bool
    success_log: bool
    deletion_log: bool
    # Tessera: the user on whose behalf the work was done (the instance's starter when a
    # system worker did it).
    user_id: str | None

    @field_serializer("timestamp")
    def _time(self, value: datetime) -> str:
        return camunda_datetime(value)


# --------------------------------------------------------------------------- incidents


class IncidentRead(Schema):
    id: uuid.UUID
    process_definition_id: str | None
    process_instance_id: uuid.UUID | None
    execution_id: uuid.UUID | None = Field(validation_alias="process_instance_id")
    incident_timestamp: datetime = Field(validation_alias="created_at")
    incident_type: str
    activity_id: str | None
    failed_activity_id: str | None = Field(validation_alias="activity_id")
    cause_incident_id: uuid.UUID = Field(validation_alias="id")
    root_cause_incident_id: uuid.UUID = Field(validation_alias="id")
    configuration: str | None
    tenant_id: str
    incident_message: str | None = Field(validation_alias="message")
    job_definition_id: None = None
    annotation: None = None

    @field_serializer("incident_timestamp")
    def _time(self, value: datetime) -> str:
        return camunda_datetime(value)
