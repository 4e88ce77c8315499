"""ASGI middleware: request ids and access logs, and the request body size limit."""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import AppError, PayloadTooLarge, problem_response
from app.core.logging import request_id_var, tenant_ids_var, user_id_var

logger = logging.getLogger("tessera.access")


class RequestContextMiddleware:
    """Gives each request an id (or keeps a sane incoming `X-Request-ID`), echoes it in the
    response, and logs one line per request with status and duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else None
        request_id = request_id or uuid.uuid4().hex
        tokens = (request_id_var.set(request_id), user_id_var.set(None), tenant_ids_var.set(None))
        started = time.perf_counter()
        status = 500
        status_sent = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status, status_sent = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Rendered here rather than by Starlette's outermost error middleware so that
            # the 500 still carries the request id (and never a stack trace).
            logger.exception("unhandled error")
            if status_sent:
                raise
            await problem_response(AppError().to_problem())(scope, receive, send_with_id)
        finally:
            logger.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(tokens[0])
            user_id_var.reset(tokens[1])
            tenant_ids_var.reset(tokens[2])


class BodySizeLimitMiddleware:
    """413 for non-multipart bodies over `max_bytes`, declared or streamed.

    Such bodies (JSON, forms) are small, so they are read here up to the limit and replayed
    to the app. Multipart uploads have their own limits where they are parsed.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        # No length and not chunked: HTTP/1.1 says there is no body (most GETs), so there
        # is nothing to read and replay.
        no_body = declared is None and b"transfer-encoding" not in headers
        if no_body or headers.get(b"content-type", b"").startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        body = await self._read_limited(receive)
        if body is None:
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_limited(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the limit (the rest is not read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _detail(self) -> str:
        return f"The request body exceeds {self.max_bytes} bytes."

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(PayloadTooLarge(self._detail()).to_problem())
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the already-read body over once, then defers to the server."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
