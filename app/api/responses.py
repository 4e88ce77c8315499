"""Error responses routes declare, so /docs shows the problem+json bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    message: str


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


AUTHENTICATED = problems(401)
READ_ONE = problems(400, 401, 404)
ADMIN_WRITE = problems(400, 401, 403, 404, 409, 422)
