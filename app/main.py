"""The app factory. Engines and clients are built in the lifespan, never at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import ArqRedis
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from redis.asyncio import Redis

from app.api import (
    auth,
    decisions,
    definitions,
    deployments,
    external_tasks,
    groups,
    health,
    history,
    incidents,
    jobs,
    listeners,
    messages,
    process_instances,
    process_jobs,
    signals,
    tasks,
    tenants,
    users,
)
from app.api.deps import AUTHENTICATED_SESSION, PUBLIC_PATHS
from app.core.config import Settings, get_settings
from app.core.db import create_engine, create_session_factory, refuse_privileged_role, unit_of_work
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from app.core.notifications import WorkNotifier
from app.core.tenancy import TenancyContext
from app.services.principal import PrincipalCache
from app.services.users import ensure_admin

logger = logging.getLogger(__name__)

DESCRIPTION = """
Tessera: tenant-checked process and data platform with Camunda 7 compatible REST.

Sign in with **Authorize** (user id and password); every other call carries the bearer
token it returns.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json_output=settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        redis = Redis.from_url(settings.redis_url)
        try:
            await refuse_privileged_role(engine)
            app.state.settings = settings
            app.state.engine = engine
            app.state.session_factory = create_session_factory(engine)
            app.state.redis = redis
            app.state.principals = PrincipalCache()
            app.state.notifier = WorkNotifier(redis)
            await app.state.notifier.start()
            # Connects on first use: the API starts (and /ready says 503) while Redis is down.
            app.state.queue = ArqRedis.from_url(settings.redis_url)
            await _ensure_configured_admin(app, settings)
            yield
        finally:
            if getattr(app.state, "notifier", None) is not None:
                await app.state.notifier.stop()
            if getattr(app.state, "queue", None) is not None:
                await app.state.queue.aclose()
            await redis.aclose()
            await engine.dispose()

    app = FastAPIOffline(
        title="Tessera",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": True},
        # The one way in: every route, also one added later, authenticates (app.api.deps).
        dependencies=[AUTHENTICATED_SESSION],
    )
    _unlock_public_routes_in_docs(app)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_json_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    for router in (
        health.router,
        auth.router,
        tenants.router,
        users.router,
        groups.router,
        groups.identity_router,
        deployments.router,
        definitions.process_router,
        definitions.decision_router,
        history.router,
        decisions.router,
        process_instances.router,
        tasks.router,
        messages.router,
        signals.router,
        external_tasks.router,
        external_tasks.log_router,
        incidents.router,
        process_jobs.router,
        jobs.router,
        listeners.router,
    ):
        app.include_router(router)
    return app


def _unlock_public_routes_in_docs(app: FastAPI) -> None:
    """The app-level dependency marks every operation as needing the bearer token; the
    public ones do not, and /docs should not show them locked."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        for path in PUBLIC_PATHS:
            for operation in schema.get("paths", {}).get(path, {}).values():
                operation.pop("security", None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _ensure_configured_admin(app: FastAPI, settings: Settings) -> None:
    """DESIGN §1: ADMIN_USER/ADMIN_PASSWORD create that admin at startup if it is missing."""
    if not (settings.admin_user and settings.admin_password):
        return
    async with unit_of_work(
        app.state.session_factory, TenancyContext.system(), settings=settings
    ) as session:
        created = await ensure_admin(
            session,
            user_id=settings.admin_user,
            password=settings.admin_password.get_secret_value(),
            admin_group=settings.admin_groups[0],
        )
    if created:
        logger.info("admin user created", extra={"admin_user": settings.admin_user})


def __getattr__(name: str) -> FastAPI:
    """`uvicorn app.main:app` builds the app on first access, not when tests import this."""
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
