"""Identity: tenants, users, groups and their memberships (platform tables, no tenant_id).

Memberships reference both sides with ON DELETE CASCADE, so deleting a user, group or
tenant removes its memberships in the same statement (CONFORMANCE F3). A trigger on the
membership tables bumps `users.principal_version` (migration 0003).
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, ForeignKey, String, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.identifiers import IDENTIFIER_MAX_LENGTH
from app.core.tenancy import PlatformTable
from app.models.base import Base, Timestamps

_ID = String(IDENTIFIER_MAX_LENGTH)


class Tenant(PlatformTable, Timestamps, Base):
    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))


class User(PlatformTable, Timestamps, Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    # argon2 hash; NULL = the user cannot sign in with a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Carried by every token of this user and compared for equality: a new value (the user
    # created again, a password change) revokes the old tokens. Migration 0003 says more.
    token_generation: Mapped[uuid.UUID] = mapped_column(
        Uuid, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    # Bumped by a database trigger whenever the user's memberships change; the API keeps a
    # principal only while this still matches (app.core.tenancy.principal_is_current).
    principal_version: Mapped[int] = mapped_column(BigInteger, server_default="0")


class Group(PlatformTable, Timestamps, Base):
    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(_ID, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str | None] = mapped_column(String(255))


class GroupMembership(PlatformTable, Base):
    __tablename__ = "group_memberships"

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TenantUserMembership(PlatformTable, Base):
    __tablename__ = "tenant_user_memberships"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class TenantGroupMembership(PlatformTable, Base):
    __tablename__ = "tenant_group_memberships"

    tenant_id: Mapped[str] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True, index=True
    )
