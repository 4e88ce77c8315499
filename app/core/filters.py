"""Camunda's tenant filters on list queries: `tenantIdIn`, `withoutTenantId`,
`include…WithoutTenantId`.

They are ANDed with what the tenancy core already lets the caller see, so a filter can
only narrow the result, never widen it (A7).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, false, or_

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


def uuid_equals(column: Any, value: str) -> Any:
    """`column = value` for a UUID column; a malformed id matches nothing (like an unknown one)."""
    parsed = uuid_or_none(value)
    return false() if parsed is None else column == parsed


def uuid_in(column: Any, values: Iterable[str]) -> Any:
    """`column IN values` for a UUID column; malformed ids match nothing."""
    return column.in_([u for u in (uuid_or_none(v) for v in values) if u is not None])


def where_equal(statement: Select[Any], pairs: Mapping[Any, Any]) -> Select[Any]:
    """`column = value` for every given (not None) value of Camunda's equality filters."""
    for column, value in pairs.items():
        if value is not None:
            statement = statement.where(column == value)
    return statement


def where_like(statement: Select[Any], pairs: Mapping[Any, str | None]) -> Select[Any]:
    """`column LIKE pattern` for every given pattern (Camunda's `...Like` filters)."""
    for column, pattern in pairs.items():
        if pattern is not None:
            statement = statement.where(column.like(pattern))
    return statement


def refuse_both(first: bool, second: bool, names: str) -> None:
    """Camunda's "only true counts" flags that contradict each other: a 400, not an empty list."""
    if first and second:
        raise BadRequest(f"{names} cannot be combined.")
