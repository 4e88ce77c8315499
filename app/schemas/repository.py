"""Camunda 7 shapes of deployments, resources and definitions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, field_serializer

from app.schemas.base import InputSchema, Schema


def camunda_datetime(value: datetime) -> str:
    """Camunda's date format: `2013-01-23T13:59:43.000+0200`."""
    return (
        value.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}"
        + (value.strftime("%z") or "+0000")
    )


class DeploymentRead(Schema):
    id: uuid.UUID
    name: str | None
    source: str | None
    deployment_time: datetime
    tenant_id: str | None
    links: list[dict[str, Any]] = Field(default_factory=list)

    @field_serializer("deployment_time")
    def _time(self, value: datetime) -> str:
        return camunda_datetime(value)


class ResourceRead(Schema):
    id: uuid.UUID
    name: str
    deployment_id: uuid.UUID


class ProcessDefinitionRead(Schema):
    id: str
    key: str
    category: str | None
    description: str | None = None
    name: str | None
    version: int
    resource: str = Field(validation_alias="resource_name")
    deployment_id: uuid.UUID
    diagram: str | None = None
    suspended: bool
    tenant_id: str | None
    version_tag: str | None
    history_time_to_live: int | None
    startable_in_tasklist: bool = Field(validation_alias="startable")


class DecisionDefinitionRead(Schema):
    id: str
    key: str
    category: str | None
    name: str | None
    version: int
    resource: str = Field(validation_alias="resource_name")
    deployment_id: uuid.UUID
    tenant_id: str | None
    decision_requirements_definition_id: str | None = None
    decision_requirements_definition_key: str | None = None
    history_time_to_live: int | None
    version_tag: str | None


class DeploymentWithDefinitions(DeploymentRead):
    deployed_process_definitions: dict[str, ProcessDefinitionRead] | None
    deployed_case_definitions: None = None
    deployed_decision_definitions: dict[str, DecisionDefinitionRead] | None
    deployed_decision_requirements_definitions: None = None


class ProcessDefinitionXml(Schema):
    id: str
    bpmn20_xml: str = Field(serialization_alias="bpmn20Xml")


class DecisionDefinitionXml(Schema):
    id: str
    dmn_xml: str


class RedeployRequest(InputSchema):
    resource_ids: list[str] | None = None
    resource_names: list[str] | None = None
    source: str | None = Field(default=None, max_length=255)
