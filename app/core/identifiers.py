"""Caller-chosen identifiers: tenant, user and group ids (DESIGN §4).

One rule for all three, used by models (column length), routers (path and query patterns,
400 before any query) and services (ids in bodies).
"""

from __future__ import annotations

import re

from app.core.errors import BadRequest, InvalidIdentifier

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
IDENTIFIER_MAX_LENGTH = 64

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def check_identifier(kind: str, value: str) -> str:
    """`value` if it is a valid tenant/user/group id, else 400 (F1: invalid id is 400)."""
    if not _IDENTIFIER.fullmatch(value):
        raise InvalidIdentifier(
            f"{kind} id must be 1-64 characters: letters, digits, '_', '.', '-', "
            "starting with a letter or digit."
        )
    return value


def check_same_id(path_id: str, body_id: str | None) -> None:
    """400 when a body names another id than its path (PUT /tenant/{id} and the like)."""
    if body_id is not None and body_id != path_id:
        raise BadRequest("The id in the body must match the id in the path.")
