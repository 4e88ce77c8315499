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
from app.models.repository import (
    DecisionDefinition,
    Deployment,
    DeploymentResource,
    ProcessDefinition,
)

__all__ = [
    "Base",
    "DecisionDefinition",
    "Deployment",
    "DeploymentResource",
    "Group",
    "GroupMembership",
    "ProcessDefinition",
    "Tenant",
    "TenantGroupMembership",
    "TenantUserMembership",
    "User",
]
