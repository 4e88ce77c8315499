"""One error hierarchy, rendered as RFC 9457 problem details.

Services raise `AppError` subclasses; the handlers installed by `install_error_handlers`
turn them (and validation and database errors) into `application/problem+json`.
A body never carries a stack trace. Problem bodies also carry `message` (= `detail`)
because Camunda 7 REST clients read the error text from that field.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://tessera.dev/problems/"


class AppError(Exception):
    """A failure the caller can act on. Subclasses fix status, type slug and title."""

    status: int = 500
    slug: str = "internal-error"
    title: str = "Internal server error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}

    def to_problem(self) -> dict[str, Any]:
        return problem(self.status, self.slug, self.title, self.detail)


class BadRequest(AppError):
    status, slug, title = 400, "bad-request", "Bad request"


class InvalidIdentifier(BadRequest):
    slug, title = "invalid-identifier", "Invalid identifier"


class TenantRequired(BadRequest):
    slug, title = "tenant-required", "Tenant required"


class TenantImmutable(BadRequest):
    slug, title = "tenant-immutable", "Tenant cannot change"


class Unauthorized(AppError):
    status, slug, title = 401, "unauthorized", "Not authenticated"

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(AppError):
    """Also what a row of another tenant looks like: the body never says which case it was."""

    status, slug, title = 404, "not-found", "Not found"


class Conflict(AppError):
    status, slug, title = 409, "conflict", "Conflict"


class PayloadTooLarge(AppError):
    status, slug, title = 413, "payload-too-large", "Payload too large"


class TooManyRequests(AppError):
    status, slug, title = 429, "too-many-requests", "Too many requests"


class TenancyViolation(AppError):
    """Code ran without a tenancy context, or tried to bypass it: a bug, never user input."""

    status, slug, title = 500, "internal-error", "Internal server error"


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "message": detail,
    }
    body.update(extra)
    return body


def problem_response(
    body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        body, status_code=body["status"], headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "location": [str(part) for part in error.get("loc", ())],
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]


async def _on_app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status >= 500:
        logger.error("request failed", exc_info=exc)
    return problem_response(exc.to_problem(), exc.headers)


async def _on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    """Malformed JSON or bad path/query values are 400; a well-formed body that fails the
    schema (wrong type, unknown field such as `tenantId`) is 422."""
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    malformed = any(e["type"] == "json_invalid" for e in errors)
    in_body = all(e["location"][:1] == ["body"] for e in errors)
    if malformed or not in_body:
        body = problem(400, "bad-request", "Bad request", "The request is invalid.", errors=errors)
    else:
        body = problem(
            422, "validation-error", "Validation failed", "The body is invalid.", errors=errors
        )
    return problem_response(body)


async def _on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
    slug = title.lower().replace(" ", "-")
    detail = exc.detail if isinstance(exc.detail, str) else title
    return problem_response(problem(exc.status_code, slug, title, detail), exc.headers)


def translate_integrity_error(exc: IntegrityError) -> AppError:
    """Database constraint errors at the boundary: duplicate → 409, foreign key → 409."""
    sqlstate = _sqlstate(exc)
    if sqlstate == "23505":
        return Conflict("A resource with this identifier already exists.")
    if sqlstate == "23503":
        return Conflict("The resource is referenced by, or references, another resource.")
    if sqlstate in ("23502", "23514"):
        return BadRequest("The request violates a constraint of the data.")
    return Conflict("The request conflicts with the current state of the data.")


async def _on_integrity_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    error = translate_integrity_error(exc)
    return problem_response(error.to_problem())


async def _on_database_error(_: Request, exc: Exception) -> JSONResponse:
    """SQLSTATE class 22 (data exception: NUL byte, out of range …) comes from the input."""
    assert isinstance(exc, DBAPIError)
    if str(_sqlstate(exc)).startswith("22"):
        return problem_response(
            BadRequest("A value in the request cannot be stored or compared.").to_problem()
        )
    logger.error("database error", exc_info=exc)
    return problem_response(problem(503, "database-error", "Service unavailable", "Try again."))


def _sqlstate(exc: DBAPIError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def install_error_handlers(app: FastAPI) -> None:
    """Unexpected exceptions are rendered by `RequestContextMiddleware` (with the request id)."""
    app.add_exception_handler(AppError, _on_app_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(IntegrityError, _on_integrity_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
