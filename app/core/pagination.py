"""Camunda-style list parameters: firstResult/maxResults (capped) and sortBy/sortOrder."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Select, SQLColumnExpression, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest

SortOrder = Literal["asc", "desc"]
S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class Page:
    first_result: int
    max_results: int

    def apply(self, statement: S) -> S:
        return statement.offset(self.first_result).limit(self.max_results)


@dataclass(frozen=True, slots=True)
class Sorting:
    sort_by: str | None
    sort_order: SortOrder | None

    def apply(
        self,
        statement: S,
        columns: Mapping[str, SQLColumnExpression[Any]],
        *,
        tiebreak: SQLColumnExpression[Any],
    ) -> S:
        """Order by the requested column, then `tiebreak` (the key) for a stable page order.

        NULLs (e.g. shared rows' tenant) sort first ascending and last descending, the same
        in every query, so paging never skips or repeats a row.
        """
        if self.sort_by is None:
            if self.sort_order is not None:
                raise BadRequest("sortOrder needs sortBy.")
            return statement.order_by(tiebreak)
        column = columns.get(self.sort_by)
        if column is None:
            allowed = ", ".join(sorted(columns))
            raise BadRequest(f"sortBy must be one of: {allowed}.")
        if not _nullable(column):
            # Plain ASC/DESC: an index on the column serves it in both directions, where an
            # explicit NULLS FIRST/LAST would force reading and sorting every row.
            direction = column.desc() if self.sort_order == "desc" else column.asc()
        elif self.sort_order == "desc":
            direction = column.desc().nulls_last()
        else:
            direction = column.asc().nulls_first()
        order = tiebreak.desc() if self.sort_order == "desc" else tiebreak.asc()
        return statement.order_by(direction, order)


def _nullable(column: SQLColumnExpression[Any]) -> bool:
    """Whether a sort column may hold NULL (a mapped NOT NULL column may not)."""
    return bool(getattr(getattr(column, "expression", column), "nullable", True))


def make_page(first_result: int, max_results: int | None, *, cap: int) -> Page:
    """`maxResults` defaults to and is capped at `cap` (MAX_PAGE_SIZE)."""
    if max_results is None or max_results > cap:
        max_results = cap
    return Page(first_result, max_results)


async def count_rows(session: AsyncSession, statement: Select[Any]) -> int:
    """What a `/count` endpoint answers: exactly the rows the same list query returns
    unpaged (A12), tenant criteria included since it runs through the session."""
    counted = select(func.count()).select_from(statement.order_by(None).subquery())
    return int(await session.scalar(counted) or 0)
