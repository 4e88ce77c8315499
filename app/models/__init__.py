"""SQLAlchemy models, one module per domain. Importing this package registers them all."""

from app.models.background import (
    JobDefinition,
    JobRun,
    Listener,
    ListenerDelivery,
    OutboxEvent,
)
from app.models.base import Base
from app.models.history import (
    HistoricActivityInstance,
    HistoricDecisionInstance,
    HistoricExternalTaskLog,
    HistoricProcessInstance,
    HistoricTask,
    HistoricVariable,
)
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
from app.models.runtime import (
    EventSubscription,
    ExternalTask,
    Incident,
    Job,
    ProcessInstance,
    Task,
    Variable,
)

__all__ = [
    "Base",
    "DecisionDefinition",
    "Deployment",
    "DeploymentResource",
    "EventSubscription",
    "ExternalTask",
    "Group",
    "GroupMembership",
    "HistoricActivityInstance",
    "HistoricDecisionInstance",
    "HistoricExternalTaskLog",
    "HistoricProcessInstance",
    "HistoricTask",
    "HistoricVariable",
    "Incident",
    "Job",
    "JobDefinition",
    "JobRun",
    "Listener",
    "ListenerDelivery",
    "OutboxEvent",
    "ProcessDefinition",
    "ProcessInstance",
    "Task",
    "Tenant",
    "TenantGroupMembership",
    "TenantUserMembership",
    "User",
    "Variable",
]
