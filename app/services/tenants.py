"""Tenants (a platform table): query, read, create, rename, delete (Camunda 7 semantics).

Visibility is the tenancy core's: a caller who sees everything (admin, check disabled, or
the global switch off) sees every tenant, anyone else the tenants it belongs to (F4);
another tenant reads as 404. Only platform managers write (`require_platform_manager`),
memberships included. Adding a member twice is a no-op, removing one that is not there too,
as in Camunda; both ends must exist (404). Every membership change bumps the principal
version of the users it concerns (a database trigger), so it takes effect on their very
next request (A15).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, delete, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound
from app.core.identifiers import check_identifier, check_same_id
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import (
    can_see_tenant,
    current_context,
    require_platform_manager,
    sees_everything,
)
from app.models.identity import GroupMembership, Tenant, TenantGroupMembership, TenantUserMembership
from app.services import outbox
from app.services.groups import get_group
from app.services.users import get_user


@dataclass(frozen=True, slots=True)
class TenantFilter:
    id: str | None = None
    id_in: Sequence[str] | None = None
    name: str | None = None
    name_like: str | None = None
    user_member: str | None = None
    group_member: str | None = None
    including_groups_of_user: bool = False

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.id is not None:
            statement = statement.where(Tenant.id == self.id)
        if self.id_in is not None:
            statement = statement.where(Tenant.id.in_(self.id_in))
        if self.name is not None:
            statement = statement.where(Tenant.name == self.name)
        if self.name_like is not None:
            statement = statement.where(Tenant.name.like(self.name_like))
        if self.user_member is not None:
            statement = statement.where(
                Tenant.id.in_(_tenants_of_user(self.user_member, self.including_groups_of_user))
            )
        if self.group_member is not None:
            statement = statement.where(
                Tenant.id.in_(
                    select(TenantGroupMembership.tenant_id).where(
                        TenantGroupMembership.group_id == self.group_member
                    )
                )
            )
        return statement


def _tenants_of_user(user_id: str, including_groups: bool) -> Any:
    direct = select(TenantUserMembership.tenant_id).where(TenantUserMembership.user_id == user_id)
    if not including_groups:
        return direct
    via_groups = (
        select(TenantGroupMembership.tenant_id)
        .join(GroupMembership, GroupMembership.group_id == TenantGroupMembership.group_id)
        .where(GroupMembership.user_id == user_id)
    )
    return union(direct, via_groups)


_SORT: dict[str, SQLColumnExpression[Any]] = {"id": Tenant.id, "name": Tenant.name}


def _visible(session: AsyncSession) -> Select[Any]:
    statement = select(Tenant)
    if not sees_everything(session):
        statement = statement.where(Tenant.id.in_(current_context(session).tenant_ids))
    return statement


async def list_tenants(
    session: AsyncSession, *, filters: TenantFilter, sorting: Sorting, page: Page
) -> Sequence[Tenant]:
    statement = sorting.apply(filters.apply(_visible(session)), _SORT, tiebreak=Tenant.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_tenants(session: AsyncSession, *, filters: TenantFilter) -> int:
    return await count_rows(session, filters.apply(_visible(session)))


async def get_tenant(session: AsyncSession, tenant_id: str) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None or not can_see_tenant(session, tenant_id):
        raise NotFound("Tenant not found.")
    return tenant


async def create_tenant(session: AsyncSession, *, tenant_id: str, name: str | None) -> Tenant:
    require_platform_manager(session)
    check_identifier("Tenant", tenant_id)
    if await session.get(Tenant, tenant_id) is not None:
        raise Conflict("A tenant with this id already exists.")
    tenant = Tenant(id=tenant_id, name=name)
    session.add(tenant)
    await session.flush()
    return tenant


async def update_tenant(
    session: AsyncSession, tenant_id: str, *, body_id: str | None, name: str | None
) -> Tenant:
    require_platform_manager(session)
    check_same_id(tenant_id, body_id)
    tenant = await get_tenant(session, tenant_id)
    tenant.name = name
    await session.flush()
    return tenant


async def delete_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Memberships go with it (F3). A tenant that still owns data rows cannot be deleted
    here (409 from its foreign keys): purging a tenant's data is a separate, confirmed step."""
    require_platform_manager(session)
    await session.delete(await get_tenant(session, tenant_id))
    await session.flush()


async def add_user_member(session: AsyncSession, tenant_id: str, user_id: str) -> None:
    require_platform_manager(session)
    await get_tenant(session, tenant_id)
    await get_user(session, user_id)
    if await session.get(TenantUserMembership, (tenant_id, user_id)) is None:
        session.add(TenantUserMembership(tenant_id=tenant_id, user_id=user_id))
        await session.flush()
        _emit(session, "tenant-membership.created", tenant_id, userId=user_id)


async def remove_user_member(session: AsyncSession, tenant_id: str, user_id: str) -> None:
    require_platform_manager(session)
    await get_tenant(session, tenant_id)
    await get_user(session, user_id)
    removed = await session.execute(
        delete(TenantUserMembership).where(
            TenantUserMembership.tenant_id == tenant_id, TenantUserMembership.user_id == user_id
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        _emit(session, "tenant-membership.deleted", tenant_id, userId=user_id)


async def add_group_member(session: AsyncSession, tenant_id: str, group_id: str) -> None:
    require_platform_manager(session)
    await get_tenant(session, tenant_id)
    await get_group(session, group_id)
    if await session.get(TenantGroupMembership, (tenant_id, group_id)) is None:
        session.add(TenantGroupMembership(tenant_id=tenant_id, group_id=group_id))
        await session.flush()
        _emit(session, "tenant-membership.created", tenant_id, groupId=group_id)


async def remove_group_member(session: AsyncSession, tenant_id: str, group_id: str) -> None:
    require_platform_manager(session)
    await get_tenant(session, tenant_id)
    await get_group(session, group_id)
    removed = await session.execute(
        delete(TenantGroupMembership).where(
            TenantGroupMembership.tenant_id == tenant_id,
            TenantGroupMembership.group_id == group_id,
        )
    )
    if removed.rowcount:  # type: ignore[attr-defined]
        _emit(session, "tenant-membership.deleted", tenant_id, groupId=group_id)


def _emit(session: AsyncSession, event_type: str, tenant_id: str, **member: str) -> None:
    """Only for an actual change: adding a member twice or removing a non-member is a
    no-op (Camunda's rule), and so emits nothing."""
    outbox.emit(session, event_type, tenant_id=tenant_id, payload={"tenantId": tenant_id, **member})
