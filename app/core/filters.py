"""Camunda's tenant filters on list queries: `tenantIdIn`, `withoutTenantId`,
`include…WithoutTenantId`.

They are ANDed with what the tenancy core already lets the caller see, so a filter can
only narrow the result, never widen it (A7).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, or_

from app.core.errors import BadRequest


@dataclass(frozen=True, slots=True)
class TenantSelector:
    tenant_ids: Sequence[str] | None = None
    without_tenant: bool = False
    include_without_tenant: bool = False

    def __post_init__(self) -> None:
        if self.tenant_ids is not None and self.without_tenant:
            raise BadRequest("tenantIdIn and withoutTenantId cannot be combined.")

    def apply(self, statement: Select[Any], column: Any) -> Select[Any]:
        if self.tenant_ids is not None:
            selected = column.in_(self.tenant_ids)
            if self.include_without_tenant:
                selected = or_(selected, column.is_(None))
            return statement.where(selected)
        if self.without_tenant:
            return statement.where(column.is_(None))
        return statement


def uuid_or_none(value: str) -> uuid.UUID | None:
    """Ids of rows are UUIDs; a malformed one is treated like an unknown one (404)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
