"""Camunda 7 identity shapes: /tenant, /user, /group, /identity/groups, /auth/token."""

from __future__ import annotations

from pydantic import Field

from app.schemas.base import InputSchema, Schema

_NAME = Field(default=None, max_length=255)


class TenantCreate(InputSchema):
    id: str
    name: str | None = _NAME


class TenantUpdate(InputSchema):
    # Camunda clients send the id again; it must equal the one in the path.
    id: str | None = None
    name: str | None = _NAME


class TenantRead(Schema):
    id: str
    name: str | None


class UserProfileInput(InputSchema):
    id: str
    first_name: str | None = _NAME
    last_name: str | None = _NAME
    email: str | None = _NAME


class UserProfileUpdate(InputSchema):
    id: str | None = None
    first_name: str | None = _NAME
    last_name: str | None = _NAME
    email: str | None = _NAME


class NewCredentials(InputSchema):
    password: str = Field(min_length=8, max_length=256)


class UserCreate(InputSchema):
    profile: UserProfileInput
    credentials: NewCredentials | None = None


class CredentialsUpdate(InputSchema):
    password: str = Field(min_length=8, max_length=256)
    # The caller's own current password, as in Camunda: a stolen token alone cannot
    # change a password.
    authenticated_user_password: str = Field(max_length=256)


class UserProfileRead(Schema):
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None


class GroupCreate(InputSchema):
    id: str
    name: str | None = _NAME
    type: str | None = _NAME


class GroupUpdate(InputSchema):
    id: str | None = None
    name: str | None = _NAME
    type: str | None = _NAME


class GroupRead(Schema):
    id: str
    name: str | None
    type: str | None


class IdentityGroup(Schema):
    id: str
    name: str | None


class IdentityGroupUser(Schema):
    id: str
    first_name: str | None
    last_name: str | None
    display_name: str


class IdentityGroups(Schema):
    groups: list[IdentityGroup]
    group_users: list[IdentityGroupUser]


class Token(Schema):
    """OAuth2 token response (RFC 6749 §5.1): snake_case by that standard."""

    access_token: str = Field(serialization_alias="access_token")
    token_type: str = Field(default="bearer", serialization_alias="token_type")
    expires_in: int = Field(serialization_alias="expires_in")
