"""Schema bases: camelCase JSON, and inputs that refuse unknown fields.

`extra="forbid"` on inputs means a stray `tenantId` or `id` in a body is a 422, never
silently ignored (or worse, trusted).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    """Read schemas (responses)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


class InputSchema(BaseModel):
    """Request bodies."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CountResult(Schema):
    count: int
