"""Annotated dependencies shared by every router.

`SessionDep` is the unit of work of the request: one session, committed after the
endpoint returns and *before* the response is sent (scope="function"), rolled back on any
error. `CurrentPrincipal` authenticates the bearer token, reads the caller's groups and
tenants from the database inside that same session, and binds the tenancy context to it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import SessionFactory, unit_of_work
from app.core.errors import BadRequest, Unauthorized
from app.core.logging import tenant_ids_var, user_id_var
from app.core.pagination import Page, Sorting, SortOrder, make_page
from app.core.security import read_access_token
from app.core.tenancy import Principal, TenancyContext, bind_context, sync_database_settings
from app.services.identity import load_principal

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


async def get_session(request: Request, settings: SettingsDep) -> AsyncIterator[AsyncSession]:
    factory: SessionFactory = request.app.state.session_factory
    async with unit_of_work(
        factory, TenancyContext.unauthenticated(), settings=settings
    ) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_current_principal(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """401 before any tenant data is touched unless the token is valid and its user exists."""
    if token is None:
        raise Unauthorized("A bearer token is required.")
    claims = read_access_token(settings, token)
    principal = await load_principal(
        session, claims.user_id, admin_groups=settings.admin_groups, issued_at=claims.issued_at
    )
    if principal is None:
        raise Unauthorized("The token's user does not exist.")
    bind_context(
        session,
        TenancyContext.for_principal(principal),
        check_enabled=settings.tenant_check_enabled,
    )
    await sync_database_settings(session)
    user_id_var.set(principal.user_id)
    tenant_ids_var.set(tuple(sorted(principal.tenant_ids)))
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
