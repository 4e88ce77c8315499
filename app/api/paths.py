"""Path and query parameter helpers shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from app.core.identifiers import IDENTIFIER_PATTERN

# A tenant, user or group id in a path; outside the pattern it is a 400 before any query.
IdentifierPath = Annotated[str, Path(pattern=IDENTIFIER_PATTERN)]


def comma_list(value: str | None) -> list[str] | None:
    """Camunda passes lists as comma-separated values (`idIn=a,b`)."""
    if value is None:
        return None
    return [part for part in (p.strip() for p in value.split(",")) if part]
