"""Memberships (platform tables): a user or a group in a tenant, a user in a group.

Only platform managers change them (F4). Both ends must exist (404 names which one does
not). Adding twice is a no-op, removing what is not there too, as in Camunda. Every change
bumps the principal version of the users it concerns (a database trigger), so it takes
effect on their very next request (A15).
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.core.tenancy import require_platform_manager
from app.models.identity import (
    Group,
    GroupMembership,
    Tenant,
    TenantGroupMembership,
    TenantUserMembership,
    User,
)

Membership = TenantUserMembership | TenantGroupMembership | GroupMembership


async def add_tenant_user(session: AsyncSession, tenant_id: str, user_id: str) -> None:
    await _require(session, (Tenant, tenant_id), (User, user_id))
    await _add(session, TenantUserMembership(tenant_id=tenant_id, user_id=user_id))


async def remove_tenant_user(session: AsyncSession, tenant_id: str, user_id: str) -> None:
    await _require(session, (Tenant, tenant_id), (User, user_id))
    await session.execute(
        delete(TenantUserMembership).where(
            TenantUserMembership.tenant_id == tenant_id, TenantUserMembership.user_id == user_id
        )
    )


async def add_tenant_group(session: AsyncSession, tenant_id: str, group_id: str) -> None:
    await _require(session, (Tenant, tenant_id), (Group, group_id))
    await _add(session, TenantGroupMembership(tenant_id=tenant_id, group_id=group_id))


async def remove_tenant_group(session: AsyncSession, tenant_id: str, group_id: str) -> None:
    await _require(session, (Tenant, tenant_id), (Group, group_id))
    await session.execute(
        delete(TenantGroupMembership).where(
            TenantGroupMembership.tenant_id == tenant_id,
            TenantGroupMembership.group_id == group_id,
        )
    )


async def add_group_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    await _require(session, (Group, group_id), (User, user_id))
    await _add(session, GroupMembership(group_id=group_id, user_id=user_id))


async def remove_group_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    await _require(session, (Group, group_id), (User, user_id))
    await session.execute(
        delete(GroupMembership).where(
            GroupMembership.group_id == group_id, GroupMembership.user_id == user_id
        )
    )


async def _add(session: AsyncSession, membership: Membership) -> None:
    await session.merge(membership)
    await session.flush()


async def _require(
    session: AsyncSession, *targets: tuple[type[Tenant | User | Group], str]
) -> None:
    """403 for a non-manager, then 404 for the first end that does not exist."""
    require_platform_manager(session)
    for model, id_ in targets:
        if await session.get(model, id_) is None:
            raise NotFound(f"{model.__name__} not found.")
