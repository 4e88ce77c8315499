"""SQLAlchemy models, one module per domain. Importing this package registers them all."""

from app.models.base import Base
from app.models.identity import (
    Group,
    GroupMembership,
    Tenant,
    TenantGroupMembership,
    TenantUserMembership,
    User,
)

__all__ = [
    "Base",
    "Group",
    "GroupMembership",
    "Tenant",
    "TenantGroupMembership",
    "TenantUserMembership",
    "User",
]
