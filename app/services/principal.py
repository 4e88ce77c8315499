"""Who the caller is: the principal behind a bearer token, read from the database and kept
per process while the database says it is still true.

A principal is loaded on first use and then cached by (user id, token generation). Every
request re-validates it in the round trip that sets the row-level security settings
(`app.core.tenancy.principal_is_current`): the user's principal version moves on with
every change of its memberships (a database trigger, migration 0003), and a user created
again or with a new password has another generation. So a cached principal is never
stale for more than zero requests, in this process or any other (CONFORMANCE A14, A15).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, String, Uuid, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import Unauthorized
from app.core.security import TokenClaims
from app.core.tenancy import Principal, bind_principal, principal_is_current
from app.models.identity import GroupMembership, TenantGroupMembership, TenantUserMembership, User


class PrincipalCache:
    """The principals this process has read, by (user id, token generation).

    Bounded: past `max_entries` the oldest entry goes. Only a hint: every use is checked
    against the database before it counts.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Principal] = OrderedDict()

    def get(self, user_id: str, generation: str) -> Principal | None:
        return self._entries.get((user_id, generation))

    def put(self, principal: Principal) -> None:
        key = (principal.user_id, principal.generation)
        self._entries[key] = principal
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def discard(self, user_id: str, generation: str) -> None:
        self._entries.pop((user_id, generation), None)


async def authenticate(
    session: AsyncSession,
    claims: TokenClaims,
    *,
    cache: PrincipalCache,
    admin_groups: Sequence[str],
) -> Principal:
    """Bind the token's principal to `session` (which begins its transaction), or 401.

    Warm path: the cached principal is bound and checked in the statement that sets the
    RLS settings, no other query. Otherwise the principal is read again (and the settings
    follow it within the same transaction).
    """
    cached = cache.get(claims.user_id, claims.generation)
    if cached is not None:
        await bind_principal(session, cached)
        if await principal_is_current(session):
            return cached
    principal = await load_principal(
        session, claims.user_id, generation=claims.generation, admin_groups=admin_groups
    )
    if principal is None:
        cache.discard(claims.user_id, claims.generation)
        raise Unauthorized("The token's user does not exist or has signed in again.")
    cache.put(principal)
    await bind_principal(session, principal)
    return principal


def _principal_statement() -> Select[Any]:
    """User id, principal version, group ids and tenant ids (direct and through groups) in
    one query, for a user (`_PRINCIPAL` adds the token generation). Built once at import."""
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
    return select(
        User.id, User.principal_version, groups.scalar_subquery(), tenants.scalar_subquery()
    ).where(User.id == user_id)


_MEMBERSHIPS = _principal_statement()
_PRINCIPAL = _MEMBERSHIPS.where(User.token_generation == bindparam("generation", type_=Uuid))


async def load_principal(
    session: AsyncSession, user_id: str, *, generation: str, admin_groups: Sequence[str]
) -> Principal | None:
    """The principal of `user_id` at token `generation`, or None if there is no such user
    (deleted, or created again / password changed since the token was issued)."""
    row = (
        await session.execute(_PRINCIPAL, {"user_id": user_id, "generation": uuid.UUID(generation)})
    ).one_or_none()
    if row is None:
        return None
    group_ids = frozenset(row[2] or ())
    return Principal(
        user_id=row[0],
        group_ids=group_ids,
        tenant_ids=frozenset(row[3] or ()),
        is_admin=bool(group_ids & set(admin_groups)),
        generation=generation,
        version=row[1],
    )


async def may_act_in_tenant(
    session: AsyncSession, user_id: str, tenant_id: str, *, admin_groups: Sequence[str]
) -> bool:
    """G2: background work on behalf of `user_id` in `tenant_id` may run only while the user
    exists and is a member of the tenant (directly or through a group) or an admin — read
    now, when the work runs, not when it was scheduled."""
    row = (await session.execute(_MEMBERSHIPS, {"user_id": user_id})).one_or_none()
    if row is None:
        return False
    return tenant_id in (row[3] or ()) or bool(set(row[2] or ()) & set(admin_groups))
