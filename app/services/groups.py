"""Groups (a platform table): query, read, create, change, delete, and the user-facing
`/identity/groups` view (Camunda 7 semantics).

Visibility is the tenancy core's: a caller who sees everything sees every group, anyone
else the groups it belongs to (F4); another group reads as 404. Only platform managers
write (`require_platform_manager`), members included (as for tenant members, see
`app.services.tenants`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Conflict, NotFound
from app.core.identifiers import check_identifier, check_same_id
from app.core.pagination import Page, Sorting, count_rows
from app.core.tenancy import current_context, require_platform_manager, sees_everything
from app.models.identity import Group, GroupMembership, TenantGroupMembership, User
from app.services.users import can_see_user, get_user


@dataclass(frozen=True, slots=True)
class GroupFilter:
    id: str | None = None
    id_in: Sequence[str] | None = None
    name: str | None = None
    name_like: str | None = None
    type: str | None = None
    member: str | None = None
    member_of_tenant: str | None = None

    def apply(self, statement: Select[Any]) -> Select[Any]:
        if self.id is not None:
            statement = statement.where(Group.id == self.id)
        if self.id_in is not None:
            statement = statement.where(Group.id.in_(self.id_in))
        if self.name is not None:
            statement = statement.where(Group.name == self.name)
        if self.name_like is not None:
            statement = statement.where(Group.name.like(self.name_like))
        if self.type is not None:
            statement = statement.where(Group.type == self.type)
        if self.member is not None:
            statement = statement.where(Group.id.in_(groups_of_user(self.member)))
        if self.member_of_tenant is not None:
            statement = statement.where(
                Group.id.in_(
                    select(TenantGroupMembership.group_id).where(
                        TenantGroupMembership.tenant_id == self.member_of_tenant
                    )
                )
            )
        return statement


def groups_of_user(user_id: str) -> Any:
    """The ids of a user's groups, as a subquery (also the task service's candidateUser)."""
    return select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)


_SORT: dict[str, SQLColumnExpression[Any]] = {
    "id": Group.id,
    "name": Group.name,
    "type": Group.type,
}


def _visible(session: AsyncSession) -> Select[Any]:
    statement = select(Group)
    if not sees_everything(session):
        statement = statement.where(Group.id.in_(current_context(session).group_ids))
    return statement


async def list_groups(
    session: AsyncSession, *, filters: GroupFilter, sorting: Sorting, page: Page
) -> Sequence[Group]:
    statement = sorting.apply(filters.apply(_visible(session)), _SORT, tiebreak=Group.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_groups(session: AsyncSession, *, filters: GroupFilter) -> int:
    return await count_rows(session, filters.apply(_visible(session)))


async def get_group(session: AsyncSession, group_id: str) -> Group:
    group = await session.get(Group, group_id)
    visible = sees_everything(session) or group_id in current_context(session).group_ids
    if group is None or not visible:
        raise NotFound("Group not found.")
    return group


async def create_group(
    session: AsyncSession, *, group_id: str, name: str | None, type_: str | None
) -> Group:
    require_platform_manager(session)
    check_identifier("Group", group_id)
    if await session.get(Group, group_id) is not None:
        raise Conflict("A group with this id already exists.")
    group = Group(id=group_id, name=name, type=type_)
    session.add(group)
    await session.flush()
    return group


async def update_group(
    session: AsyncSession,
    group_id: str,
    *,
    body_id: str | None,
    name: str | None,
    type_: str | None,
) -> Group:
    require_platform_manager(session)
    check_same_id(group_id, body_id)
    group = await get_group(session, group_id)
    group.name, group.type = name, type_
    await session.flush()
    return group


async def delete_group(session: AsyncSession, group_id: str) -> None:
    require_platform_manager(session)
    await session.delete(await get_group(session, group_id))
    await session.flush()


async def add_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    require_platform_manager(session)
    await get_group(session, group_id)
    await get_user(session, user_id)
    await session.merge(GroupMembership(group_id=group_id, user_id=user_id))
    await session.flush()


async def remove_member(session: AsyncSession, group_id: str, user_id: str) -> None:
    require_platform_manager(session)
    await get_group(session, group_id)
    await get_user(session, user_id)
    await session.execute(
        delete(GroupMembership).where(
            GroupMembership.group_id == group_id, GroupMembership.user_id == user_id
        )
    )


async def groups_of_user_with_members(
    session: AsyncSession, user_id: str
) -> tuple[Sequence[Group], Sequence[User]]:
    """`/identity/groups?userId=`: the user's groups and every member of them."""
    if not can_see_user(session, user_id):
        raise NotFound("User not found.")
    groups = (
        await session.scalars(
            select(Group).where(Group.id.in_(groups_of_user(user_id))).order_by(Group.id)
        )
    ).all()
    members = (
        await session.scalars(
            select(User)
            .where(
                User.id.in_(
                    select(GroupMembership.user_id).where(
                        GroupMembership.group_id.in_([g.id for g in groups])
                    )
                )
            )
            .order_by(User.id)
        )
    ).all()
    return groups, members
