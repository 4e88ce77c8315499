"""Camunda 7 shapes of the history: process instances, activity instances, tasks, variables and
decision instances (with their inputs and outputs).

The fields are Camunda's, in Camunda's order. Those Tessera does not record (case management,
executions, removal times, due dates ...) are present and null, so that clients reading them
find the key. Dates use Camunda's format (`2013-01-23T13:59:43.000+0000`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import Field, PlainSerializer, SerializerFunctionWrapHandler, model_serializer

from app.schemas.base import Schema
from app.schemas.repository import camunda_datetime

CamundaDateTime = Annotated[datetime, PlainSerializer(camunda_datetime, return_type=str)]


class HistorySchema(Schema):
    @classmethod
    def of(cls, row: Any, extra: Mapping[str, Any]) -> Self:
        """The row's attributes named like fields, then the derived values in `extra`."""
        values = {name: getattr(row, name) for name in cls.model_fields if hasattr(row, name)}
        values.update(extra)
        return cls.model_validate(values)


class HistoricProcessInstanceRead(HistorySchema):
    id: uuid.UUID
    business_key: str | None
    process_definition_id: str | None  # None once its deployment was deleted
    process_definition_key: str
    process_definition_name: str | None
    process_definition_version: int
    start_time: CamundaDateTime
    end_time: CamundaDateTime | None
    removal_time: CamundaDateTime | None = None
    duration_in_millis: int | None
    start_user_id: str | None
    start_activity_id: str | None
    delete_reason: str | None
    root_process_instance_id: uuid.UUID
    super_process_instance_id: uuid.UUID | None
    super_case_instance_id: str | None = None
    case_instance_id: str | None = None
    tenant_id: str
    state: str


class HistoricActivityInstanceRead(HistorySchema):
    id: uuid.UUID
    parent_activity_instance_id: str | None = None
    activity_id: str
    activity_name: str | None
    activity_type: str
    process_definition_key: str
    process_definition_id: str
    process_instance_id: uuid.UUID
    execution_id: str | None = None
    task_id: uuid.UUID | None
    called_process_instance_id: uuid.UUID | None
    called_case_instance_id: str | None = None
    assignee: str | None
    start_time: CamundaDateTime
    end_time: CamundaDateTime | None
    duration_in_millis: int | None
    canceled: bool
    complete_scope: bool | None = None
    tenant_id: str
    removal_time: CamundaDateTime | None = None
    root_process_instance_id: uuid.UUID


class HistoricTaskRead(HistorySchema):
    id: uuid.UUID
    process_definition_key: str
    process_definition_id: str
    process_instance_id: uuid.UUID
    execution_id: str | None = None
    case_definition_key: str | None = None
    case_definition_id: str | None = None
    case_instance_id: str | None = None
    case_execution_id: str | None = None
    activity_instance_id: str | None = None
    name: str | None
    description: str | None = None
    delete_reason: str | None
    owner: str | None
    assignee: str | None
    start_time: CamundaDateTime
    end_time: CamundaDateTime | None
    duration: int | None  # Camunda's name here; milliseconds like durationInMillis elsewhere
    task_definition_key: str
    priority: int
    due: CamundaDateTime | None = None
    parent_task_id: str | None = None
    follow_up: CamundaDateTime | None = None
    tenant_id: str
    removal_time: CamundaDateTime | None = None
    root_process_instance_id: uuid.UUID


class TypedValueFields(HistorySchema):
    """Camunda's VariableValueDto part: `type`, `value` (Json as JSON text), `valueInfo`."""

    type: str
    value: Any
    value_info: dict[str, Any] = Field(default_factory=dict)


class HistoricVariableInstanceRead(TypedValueFields):
    id: uuid.UUID
    name: str
    process_definition_key: str
    process_definition_id: str
    process_instance_id: uuid.UUID
    execution_id: str | None = None
    activity_instance_id: str | None = None
    case_definition_key: str | None = None
    case_definition_id: str | None = None
    case_instance_id: str | None = None
    case_execution_id: str | None = None
    task_id: str | None = None
    error_message: str | None = None
    tenant_id: str
    state: str
    create_time: CamundaDateTime
    removal_time: CamundaDateTime | None = None
    root_process_instance_id: uuid.UUID


class HistoricDecisionInputRead(TypedValueFields):
    id: str | None = None
    decision_instance_id: uuid.UUID
    clause_id: str | None = None
    clause_name: str | None
    error_message: str | None = None
    create_time: CamundaDateTime
    removal_time: CamundaDateTime | None = None
    root_process_instance_id: uuid.UUID | None = None


class HistoricDecisionOutputRead(TypedValueFields):
    id: str | None = None
    decision_instance_id: uuid.UUID
    clause_id: str | None = None
    clause_name: str | None
    rule_id: str | None = None
    rule_order: int | None
    variable_name: str | None
    error_message: str | None = None
    create_time: CamundaDateTime
    removal_time: CamundaDateTime | None = None
    root_process_instance_id: uuid.UUID | None = None


class HistoricDecisionInstanceRead(HistorySchema):
    """`inputs`/`outputs` are left out of the JSON unless asked for (`includeInputs`,
    `includeOutputs`), as Camunda leaves them out."""

    id: uuid.UUID
    decision_definition_id: str | None  # None once its deployment was deleted
    decision_definition_key: str
    decision_definition_name: str | None
    evaluation_time: CamundaDateTime
    removal_time: CamundaDateTime | None = None
    process_definition_id: str | None
    process_definition_key: str | None
    process_instance_id: uuid.UUID | None
    root_process_instance_id: uuid.UUID | None = None
    case_definition_id: str | None = None
    case_definition_key: str | None = None
    case_instance_id: str | None = None
    activity_id: str | None
    activity_instance_id: str | None = None
    user_id: str | None
    input_instances: list[HistoricDecisionInputRead] | None = Field(
        default=None, serialization_alias="inputs"
    )
    output_instances: list[HistoricDecisionOutputRead] | None = Field(
        default=None, serialization_alias="outputs"
    )
    collect_result_value: float | None = None
    root_decision_instance_id: str | None = None
    decision_requirements_definition_id: str | None = None
    decision_requirements_definition_key: str | None = None
    tenant_id: str

    # No return annotation: with one, the documented response schema would be a bare object.
    @model_serializer(mode="wrap")
    def _omit_unrequested(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        data = handler(self)
        for key in ("inputs", "outputs", "input_instances", "output_instances"):
            if key in data and data[key] is None:
                del data[key]
        return data
