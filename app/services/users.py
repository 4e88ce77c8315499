"""Users (a platform table): query, read, create, profile, credentials, delete, and the
first admin (Camunda 7 semantics).

Visibility is the tenancy core's: a caller who sees everything sees every user, anyone
else only itself (F4); another user reads as 404. Only platform managers write, except that
a user changes its own password. A new password also gives the user a new token
generation, so its older tokens stop working on their next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import BadRequest, Conflict, Forbidden, NotFound
from app.core.identifiers import check_identifier, check_same_id
from app.core.pagination import Page, Sorting, count_rows
from app.core.security import hash_password, verify_password
from app.core.tenancy import (
    current_context,
    may_manage_platform,
    require_platform_manager,
    sees_everything,
)
from app.models.identity import Group, GroupMembership, TenantUserMembership, User
from app.services import outbox


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
            # Direct members only, as Camunda's user query counts them.
            statement = statement.where(
                User.id.in_(
                    select(TenantUserMembership.user_id).where(
                        TenantUserMembership.tenant_id == self.member_of_tenant
                    )
                )
            )
        return statement


_SORT: dict[str, SQLColumnExpression[Any]] = {
    "userId": User.id,
    "firstName": User.first_name,
    "lastName": User.last_name,
    "email": User.email,
}


def can_see_user(session: AsyncSession, user_id: str) -> bool:
    return sees_everything(session) or user_id == current_context(session).user_id


def _visible(session: AsyncSession) -> Select[Any]:
    statement = select(User)
    if not sees_everything(session):
        statement = statement.where(User.id == current_context(session).user_id)
    return statement


async def list_users(
    session: AsyncSession, *, filters: UserFilter, sorting: Sorting, page: Page
) -> Sequence[User]:
    statement = sorting.apply(filters.apply(_visible(session)), _SORT, tiebreak=User.id)
    return (await session.scalars(page.apply(statement))).all()


async def count_users(session: AsyncSession, *, filters: UserFilter) -> int:
    return await count_rows(session, filters.apply(_visible(session)))


async def get_user(session: AsyncSession, user_id: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not can_see_user(session, user_id):
        raise NotFound("User not found.")
    return user


async def create_user(
    session: AsyncSession,
    *,
    user_id: str,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
    password: str | None,
) -> User:
    require_platform_manager(session)
    check_identifier("User", user_id)
    if await session.get(User, user_id) is not None:
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
    _emit(session, "user.created", user_id)
    return user


def _emit(session: AsyncSession, event_type: str, user_id: str) -> None:
    """Users belong to no tenant: their events are in the system space."""
    outbox.emit(session, event_type, tenant_id=None, payload={"userId": user_id})


async def update_profile(
    session: AsyncSession,
    user_id: str,
    *,
    body_id: str | None,
    first_name: str | None,
    last_name: str | None,
    email: str | None,
) -> User:
    require_platform_manager(session)
    check_same_id(user_id, body_id)
    user = await get_user(session, user_id)
    user.first_name, user.last_name, user.email = first_name, last_name, email
    await session.flush()
    return user


async def update_credentials(
    session: AsyncSession, user_id: str, *, password: str, authenticated_user_password: str
) -> None:
    """A user changes its own password; a platform manager changes anyone's. Either way the
    caller proves it knows its own current password (Camunda's `authenticatedUserPassword`).
    The user's tokens issued before are revoked (new token generation)."""
    caller_id = current_context(session).user_id
    if caller_id is None or not (may_manage_platform(session) or user_id == caller_id):
        raise Forbidden("Only administrators manage identity.")
    user = await get_user(session, user_id)
    caller = user if user.id == caller_id else await session.get(User, caller_id)
    if caller is None or not await verify_password(
        authenticated_user_password, caller.password_hash
    ):
        raise BadRequest("authenticatedUserPassword is not the caller's password.")
    user.password_hash = await hash_password(password)
    user.token_generation = uuid.uuid4()
    await session.flush()


async def delete_user(session: AsyncSession, user_id: str) -> None:
    require_platform_manager(session)
    await session.delete(await get_user(session, user_id))
    await session.flush()
    _emit(session, "user.deleted", user_id)


# --------------------------------------------------------------------------- first admin


async def ensure_admin(
    session: AsyncSession, *, user_id: str, password: str, admin_group: str
) -> bool:
    """Create `user_id` as a member of `admin_group` unless the user exists. True if created.

    Runs in the system context at startup (ADMIN_USER/ADMIN_PASSWORD) and from the CLI.
    """
    require_platform_manager(session)
    check_identifier("User", user_id)
    check_identifier("Group", admin_group)
    if await session.get(User, user_id) is not None:
        return False
    if await session.get(Group, admin_group) is None:
        session.add(Group(id=admin_group, name="Administrators", type="SYSTEM"))
    session.add(User(id=user_id, password_hash=await hash_password(password)))
    await session.flush()
    session.add(GroupMembership(group_id=admin_group, user_id=user_id))
    await session.flush()
    _emit(session, "user.created", user_id)
    return True


async def any_admin_exists(session: AsyncSession, *, admin_groups: Sequence[str]) -> bool:
    found = await session.scalar(
        select(GroupMembership.user_id).where(GroupMembership.group_id.in_(admin_groups)).limit(1)
    )
    return found is not None
