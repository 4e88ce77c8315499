"""Annotated dependencies shared by every router, and the one way in.

`get_session` is the unit of work of the request *and* its authentication. The app
mounts it on every route (`create_app(dependencies=...)`), so a handler cannot forget it:
a route runs only after the bearer token was checked and the caller's tenancy context was
bound to the session, unless its path is in `PUBLIC_PATHS`. A handler names `SessionDep`
when it queries, and `CurrentPrincipal` only when it uses the caller itself; FastAPI hands
both the same, already authenticated, session.

The session is committed after the endpoint returns and *before* the response is sent
(scope="function"), and rolled back on any error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import unit_of_work
from app.core.errors import BadRequest, Unauthorized
from app.core.logging import tenant_ids_var, user_id_var
from app.core.notifications import bind_notifier
from app.core.pagination import Page, Sorting, SortOrder, make_page
from app.core.queue import bind_queue
from app.core.security import read_access_token
from app.core.tenancy import Principal, TenancyContext, current_context
from app.services.principal import authenticate
from app.services.variables import VariableLimits

# The routes anyone may call. Everything else answers 401 without a valid bearer token
# (A14). `/openapi.json` and the docs' static files are not API routes, so no dependency
# runs for them at all.
PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/auth/token", "/docs", "/docs/oauth2-redirect", "/redoc"}
)

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


# Dependencies are `async def` even when they do not await: plain `def` ones would run in
# the thread pool on every request.
SettingsDep = Annotated[Settings, Depends(get_settings)]
RedisDep = Annotated[Redis, Depends(get_redis)]


def is_public(request: Request) -> bool:
    route = request.scope.get("route")
    return getattr(route, "path", None) in PUBLIC_PATHS


async def get_session(
    request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]
) -> AsyncIterator[AsyncSession]:
    """The request's unit of work, bound to its authenticated caller (401 otherwise).

    On a public route the session stays unauthenticated: platform tables only, no tenant
    or shared row. Otherwise the token is verified and its principal bound before the
    handler runs; on the warm path that costs the transaction's first statement and
    nothing else (`app.services.principal.authenticate`).
    """
    state = request.app.state
    settings: Settings = state.settings
    async with unit_of_work(
        state.session_factory, TenancyContext.unauthenticated(), settings=settings
    ) as session:
        bind_notifier(session, state.notifier)
        bind_queue(session, state.queue)
        if not is_public(request):
            if token is None:
                raise Unauthorized("A bearer token is required.")
            principal = await authenticate(
                session,
                read_access_token(settings, token),
                cache=state.principals,
                admin_groups=settings.admin_groups,
            )
            user_id_var.set(principal.user_id)
            tenant_ids_var.set(tuple(sorted(principal.tenant_ids)))
        yield session


# One Depends object: the app mounts exactly this one, so FastAPI resolves it once per
# request and hands the same session to every handler parameter that asks for it.
AUTHENTICATED_SESSION = Depends(get_session, scope="function")
SessionDep = Annotated[AsyncSession, AUTHENTICATED_SESSION]


async def get_current_principal(session: SessionDep) -> Principal:
    """The caller, for handlers that use it (most need only the session)."""
    principal = current_context(session).principal
    if principal is None:
        raise Unauthorized("A bearer token is required.")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_current_principal)]


async def get_page(
    settings: SettingsDep,
    firstResult: int = 0,
    maxResults: int | None = None,
) -> Page:
    if firstResult < 0 or (maxResults is not None and maxResults < 0):
        raise BadRequest("firstResult and maxResults must not be negative.")
    return make_page(firstResult, maxResults, cap=settings.max_page_size)


async def get_sorting(sortBy: str | None = None, sortOrder: SortOrder | None = None) -> Sorting:
    return Sorting(sortBy, sortOrder)


PageDep = Annotated[Page, Depends(get_page)]
SortingDep = Annotated[Sorting, Depends(get_sorting)]


async def get_variable_limits(settings: SettingsDep) -> VariableLimits:
    return VariableLimits(settings.max_variable_bytes, settings.max_variables_bytes)


VariableLimitsDep = Annotated[VariableLimits, Depends(get_variable_limits)]
