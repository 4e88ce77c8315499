"""Identity: tenants, users, groups and memberships (Camunda 7 semantics).

Only admins create, change or delete identity (CONFORMANCE F4). A non-admin reads its
own profile, the groups it belongs to and the tenants it belongs to: list queries are
narrowed to those before the caller's filters apply, and reading anything else is 404.
These are platform tables (no tenant_id), so this rule lives here, not in the tenancy core.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Select,
    SQLColumnExpression,
    String,
    bindparam,
    delete,
    func,
    select,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, Conflict, Forbidden, InvalidIdentifier, NotFound
from app.core.pagination import Page, Sorting, count_rows
from app.core.security import hash_password, verify_password
from app.core.tenancy import IDENTIFIER_PATTERN, Principal
from app.models.identity import (
    Group,
    GroupMembership,
    Tenant,
    TenantGroupMembership,
    TenantUserMembership,
    User,
)

_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def check_identifier(kind: str, value: str) -> str:
    """400 unless `value` is a valid tenant/user/group id (F1: invalid id is 400)."""
    if not _IDENTIFIER.fullmatch(value):
        raise InvalidIdentifier(
            f"{kind} id must be 1-64 characters: letters, digits, '_', '.', '-', "
            "starting with a letter or digit."
        )
    return value


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only administrators manage identity.")


def _same_id(path_id: str, body_id: str | None) -> None:
    if body_id is not None and body_id != path_id:
        raise BadRequest("The id in the body must match the id in the path.")


async def _exists(session: AsyncSession, model: type[Tenant | User | Group], id_: str) -> bool:
    return (await session.get(model, id_)) is not None


# --------------------------------------------------------------------------- principal


def _principal_statement() -> Select[Any]:
    """User id, group ids and tenant ids (direct and through groups) in one query.

    Built once at import with bound parameters: this runs on every authenticated request.
    """
    user_id = bindparam("user_id", type_=String)
    groups = select(func.array_agg(GroupMembership.group_id)).where(
        GroupMembership.user_id == user_id
    )
    # UNION ALL: a tenant reached twice (directly and via a group) is merged by frozenset.
    tenant_ids = union_all(
        select(TenantUserMembership.tenant_id).where(TenantUserMembership.user_id == user_id),
        select(TenantGroupMembership.tenant_id)
        .join(GroupMembership, GroupMembership.group_id == TenantGroupMembership.group_id)
        .where(GroupMembership.user_id == user_id),
    ).subquery()
    tenants = select(func.array_agg(tenant_ids.c.tenant_id))
    return select(User.id, groups.scalar_subquery(), tenants.scalar_subquery()).where(
        User.id == user_id,
        # JWT iat has whole seconds: compare with the creation second.
        func.date_trunc("second", User.created_at)
        <= bindparam("issued_at", type_=DateTime(timezone=True)),
    )


_PRINCIPAL = _principal_statement()


async def load_principal(
    session: AsyncSession, user_id: str, *, admin_groups: Sequence[str], issued_at: datetime
) -> Principal | None:
    """The principal of `user_id`, or None if the user does not exist or was created after
    `issued_at` (a token of an earlier user with the same id)."""
    row = (
        await session.execute(_PRINCIPAL, {"user_id": user_id, "issued_at": issued_at})
    ).one_or_none()
    if row is None:
        return None
    group_ids = frozenset(row[1] or ())
    return Principal(
        user_id=row[0],
        group_ids=group_ids,
        tenant_ids=frozenset(row[2] or ()),
        is_admin=bool(group_ids & set(admin_groups)),
    )


# --------------------------------------------------------------------------- tenants


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


_TENANT_SORT: dict[str, SQLColumnExpression[Any]] = {"id": Tenant.id, "name": Tenant.name}


def _visible_tenants(principal: Principal) -> Select[Any]:
    statement = select(Tenant)
    if not principal.is_admin:
        statement = statement.where(Tenant.id.in_(principal.tenant_ids))
    return statement


async def list_tenants(
    session: AsyncSession,
    principal: Principal,
    *,
    filters: TenantFilter,
    sorting: Sorting,
    page: Page,
) -> Sequence[Tenant]:
    statement = sorting.apply(
        filters.apply(_visible_tenants(principal)), _TENANT_SORT, tiebreak=Tenant.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_tenants(
    session: AsyncSession, principal: Principal, *, filters: TenantFilter
) -> int:
    return await count_rows(session, filters.apply(_visible_tenants(principal)))


async def get_tenant(session: AsyncSession, principal: Principal, tenant_id: str) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None or not (principal.is_admin or tenant_id in principal.tenant_ids):
        raise NotFound("Tenant not found.")
    return tenant


async def create_tenant(
    session: AsyncSession, principal: Principal, *, tenant_id: str, name: str | None
) -> Tenant:
    require_admin(principal)
    check_identifier("Tenant", tenant_id)
    if await _exists(session, Tenant, tenant_id):
        raise Conflict("A tenant with this id already exists.")
    tenant = Tenant(id=tenant_id, name=name)
    session.add(tenant)
    await session.flush()
    return tenant


async def update_tenant(
    session: AsyncSession,
    principal: Principal,
    tenant_id: str,
    *,
    body_id: str | None,
    name: str | None,
) -> Tenant:
    require_admin(principal)
    _same_id(tenant_id, body_id)
    tenant = await get_tenant(session, principal, tenant_id)
    tenant.name = name
    await session.flush()
    return tenant


async def delete_tenant(session: AsyncSession, principal: Principal, tenant_id: str) -> None:
    """Memberships go with it (F3). A tenant that still owns data rows cannot be deleted
    here (409 from its foreign keys): purging a tenant's data is a separate, confirmed step."""
    require_admin(principal)
    await session.delete(await get_tenant(session, principal, tenant_id))
    await session.flush()


async def add_tenant_user(
    session: AsyncSession, principal: Principal, tenant_id: str, user_id: str
) -> None:
    require_admin(principal)
    await _require_both(session, (Tenant, tenant_id), (User, user_id))
    await session.merge(TenantUserMembership(tenant_id=tenant_id, user_id=user_id))
    await session.flush()


async def remove_tenant_user(
    session: AsyncSession, principal: Principal, tenant_id: str, user_id: str
) -> None:
    require_admin(principal)
    await _require_both(session, (Tenant, tenant_id), (User, user_id))
    await session.execute(
        delete(TenantUserMembership).where(
            TenantUserMembership.tenant_id == tenant_id, TenantUserMembership.user_id == user_id
        )
    )


async def add_tenant_group(
    session: AsyncSession, principal: Principal, tenant_id: str, group_id: str
) -> None:
    require_admin(principal)
    await _require_both(session, (Tenant, tenant_id), (Group, group_id))
    await session.merge(TenantGroupMembership(tenant_id=tenant_id, group_id=group_id))
    await session.flush()


async def remove_tenant_group(
    session: AsyncSession, principal: Principal, tenant_id: str, group_id: str
) -> None:
    require_admin(principal)
    await _require_both(session, (Tenant, tenant_id), (Group, group_id))
    await session.execute(
        delete(TenantGroupMembership).where(
            TenantGroupMembership.tenant_id == tenant_id,
            TenantGroupMembership.group_id == group_id,
        )
    )


async def _require_both(
    session: AsyncSession, *targets: tuple[type[Tenant | User | Group], str]
) -> None:
    for model, id_ in targets:
        if not await _exists(session, model, id_):
            raise NotFound(f"{model.__name__} not found.")


# --------------------------------------------------------------------------- users


@dataclass(frozen=True, slots=True)
class UserFilter:
    id: str | None = None
    id_in: Sequence[str] | None = None
    first_name: str | None = None
    first_name_like: str | None = None
    last_name: str | None = None
    last_name_like: str | None = None
    email: str | None = None
    email_like: str | None = None
    member_of_group: str | None = None
    member_of_tenant: str | None = None

    def apply(self, statement: Select[Any]) -> Select[Any]:
        equals = {
            User.id: self.id,
            User.first_name: self.first_name,
            User.last_name: self.last_name,
            User.email: self.email,
        }
        likes = {
            User.first_name: self.first_name_like,
            User.last_name: self.last_name_like,
            User.email: self.email_like,
        }
        for column, value in equals.items():
            if value is not None:
                statement = statement.where(column == value)
        for column, pattern in likes.items():
            if pattern is not None:
                statement = statement.where(column.like(pattern))
        if self.id_in is not None:
            statement = statement.where(User.id.in_(self.id_in))
        if self.member_of_group is not None:
            statement = statement.where(
                User.id.in_(
                    select(GroupMembership.user_id).where(
                        GroupMembership.group_id == self.member_of_group
                    )
                )
            )
        if self.member_of_tenant is not None:
            statement = statement.where(User.id.in_(_users_of_tenant(self.member_of_tenant)))
        return statement


def _users_of_tenant(tenant_id: str) -> Any:
    """Direct members only, as Camunda's user query counts them (groups have their own)."""
    return select(TenantUserMembership.user_id).where(TenantUserMembership.tenant_id == tenant_id)


_USER_SORT: dict[str, SQLColumnExpression[Any]] = {
    "userId": User.id,
    "firstName": User.first_name,
    "lastName": User.last_name,
    "email": User.email,
}


def _visible_users(principal: Principal) -> Select[Any]:
    statement = select(User)
    if not principal.is_admin:
        statement = statement.where(User.id == principal.user_id)
    return statement


async def list_users(
    session: AsyncSession,
    principal: Principal,
    *,
    filters: UserFilter,
    sorting: Sorting,
    page: Page,
) -> Sequence[User]:
    statement = sorting.apply(
        filters.apply(_visible_users(principal)), _USER_SORT, tiebreak=User.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_users(session: AsyncSession, principal: Principal, *, filters: UserFilter) -> int:
    return await count_rows(session, filters.apply(_visible_users(principal)))


async def get_user(session: AsyncSession, principal: Principal, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not (principal.is_admin or user_id == principal.user_id):
        raise NotFound("User not found.")
    return user


async def create_user(
    session: AsyncSession,
    principal: Principal,
    *,
    user_id: str,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    password: str | None,
) -> User:
    require_admin(principal)
    check_identifier("User", user_id)
    if await _exists(session, User, user_id):
        raise Conflict("A user with this id already exists.")
    user = User(
        id=user_id,
        first_name=first_name,
        last_name=last_name,
        email=email,
        password_hash=await hash_password(password) if password else None,
    )
    session.add(user)
    await session.flush()
    return user


async def update_profile(
    session: AsyncSession,
    principal: Principal,
    user_id: str,
    *,
    body_id: str | None,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
) -> User:
    require_admin(principal)
    _same_id(user_id, body_id)
    user = await get_user(session, principal, user_id)
    user.first_name, user.last_name, user.email = first_name, last_name, email
    await session.flush()
    return user


async def update_credentials(
    session: AsyncSession,
    principal: Principal,
    user_id: str,
    *,
    password: str,
    authenticated_user_password: str,
) -> None:
    """A user changes its own password; an admin changes anyone's. Either way the caller
    proves it knows its own current password (Camunda's `authenticatedUserPassword`)."""
    if not (principal.is_admin or user_id == principal.user_id):
        require_admin(principal)
    user = await get_user(session, principal, user_id)
    caller = user if user.id == principal.user_id else await session.get(User, principal.user_id)
    if caller is None or not await verify_password(
        authenticated_user_password, caller.password_hash
    ):
        raise BadRequest("authenticatedUserPassword is not the caller's password.")
    user.password_hash = await hash_password(password)
    await session.flush()


async def delete_user(session: AsyncSession, principal: Principal, user_id: str) -> None:
    require_admin(principal)
    await session.delete(await get_user(session, principal, user_id))
    await session.flush()


# --------------------------------------------------------------------------- groups


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
            statement = statement.where(Group.id.in_(_groups_of_user(self.member)))
        if self.member_of_tenant is not None:
            statement = statement.where(
                Group.id.in_(
                    select(TenantGroupMembership.group_id).where(
                        TenantGroupMembership.tenant_id == self.member_of_tenant
                    )
                )
            )
        return statement


def _groups_of_user(user_id: str) -> Any:
    return select(GroupMembership.group_id).where(GroupMembership.user_id == user_id)


_GROUP_SORT: dict[str, SQLColumnExpression[Any]] = {
    "id": Group.id,
    "name": Group.name,
    "type": Group.type,
}


def _visible_groups(principal: Principal) -> Select[Any]:
    statement = select(Group)
    if not principal.is_admin:
        statement = statement.where(Group.id.in_(principal.group_ids))
    return statement


async def list_groups(
    session: AsyncSession,
    principal: Principal,
    *,
    filters: GroupFilter,
    sorting: Sorting,
    page: Page,
) -> Sequence[Group]:
    statement = sorting.apply(
        filters.apply(_visible_groups(principal)), _GROUP_SORT, tiebreak=Group.id
    )
    return (await session.scalars(page.apply(statement))).all()


async def count_groups(session: AsyncSession, principal: Principal, *, filters: GroupFilter) -> int:
    return await count_rows(session, filters.apply(_visible_groups(principal)))


async def get_group(session: AsyncSession, principal: Principal, group_id: str) -> Group:
    group = await session.get(Group, group_id)
    if group is None or not (principal.is_admin or group_id in principal.group_ids):
        raise NotFound("Group not found.")
    return group


async def create_group(
    session: AsyncSession,
    principal: Principal,
    *,
    group_id: str,
    name: str | None,
    type_: str | None,
) -> Group:
    require_admin(principal)
    check_identifier("Group", group_id)
    if await _exists(session, Group, group_id):
        raise Conflict("A group with this id already exists.")
    group = Group(id=group_id, name=name, type=type_)
    session.add(group)
    await session.flush()
    return group


async def update_group(
    session: AsyncSession,
    principal: Principal,
    group_id: str,
    *,
    body_id: str | None,
    name: str | None,
    type_: str | None,
) -> Group:
    require_admin(principal)
    _same_id(group_id, body_id)
    group = await get_group(session, principal, group_id)
    group.name, group.type = name, type_
    await session.flush()
    return group


async def delete_group(session: AsyncSession, principal: Principal, group_id: str) -> None:
    require_admin(principal)
    await session.delete(await get_group(session, principal, group_id))
    await session.flush()


async def add_group_member(
    session: AsyncSession, principal: Principal, group_id: str, user_id: str
) -> None:
    require_admin(principal)
    await _require_both(session, (Group, group_id), (User, user_id))
    await session.merge(GroupMembership(group_id=group_id, user_id=user_id))
    await session.flush()


async def remove_group_member(
    session: AsyncSession, principal: Principal, group_id: str, user_id: str
) -> None:
    require_admin(principal)
    await _require_both(session, (Group, group_id), (User, user_id))
    await session.execute(
        delete(GroupMembership).where(
            GroupMembership.group_id == group_id, GroupMembership.user_id == user_id
        )
    )


async def groups_of_user_with_members(
    session: AsyncSession, principal: Principal, user_id: str
) -> tuple[Sequence[Group], Sequence[User]]:
    """`/identity/groups?userId=`: the user's groups and every member of them."""
    if not (principal.is_admin or user_id == principal.user_id):
        raise NotFound("User not found.")
    groups = (
        await session.scalars(
            select(Group).where(Group.id.in_(_groups_of_user(user_id))).order_by(Group.id)
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


# --------------------------------------------------------------------------- admin bootstrap


async def ensure_admin(
    session: AsyncSession, *, user_id: str, password: str, admin_group: str
) -> bool:
    """Create `user_id` as a member of `admin_group` unless the user exists. True if created.

    Runs in the system context at startup (ADMIN_USER/ADMIN_PASSWORD) and from the CLI.
    """
    check_identifier("User", user_id)
    check_identifier("Group", admin_group)
    if await _exists(session, User, user_id):
        return False
    if not await _exists(session, Group, admin_group):
        session.add(Group(id=admin_group, name="Administrators", type="SYSTEM"))
    session.add(User(id=user_id, password_hash=await hash_password(password)))
    await session.flush()
    session.add(GroupMembership(group_id=admin_group, user_id=user_id))
    await session.flush()
    return True


async def any_admin_exists(session: AsyncSession, *, admin_groups: Sequence[str]) -> bool:
    found = await session.scalar(
        select(GroupMembership.user_id).where(GroupMembership.group_id.in_(admin_groups)).limit(1)
    )
    return found is not None
