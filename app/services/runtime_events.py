"""The events of the process runtime, derived where instance trees are stored.

`execution.store()` is the one step through which every command's effect on an instance
tree reaches the database (start, complete, correlate, signal, timers ...), and it knows
what the rows showed before (`Tree.before_view`) and what they show now. So the instance
and task events are derived here, from that difference, once per change, and emitted into
the same transaction (`app.services.outbox`). Deleting an instance is the one change that
does not go through `store()` (`instances_deleted`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.services import outbox
from app.services.workflow_views import InstanceView, Snapshot

if TYPE_CHECKING:
    from app.services.execution import Tree


def emit_tree_events(session: AsyncSession, tree: Tree, view: Snapshot) -> None:
    """process-instance.started/ended and task.created/completed/deleted for one store."""
    tenant_id = tree.root.tenant_id
    before = tree.before_view
    known = {i.id: i for i in before.instances} if before else {}
    for instance in view.instances:
        previous = known.get(instance.id)
        if previous is None:
            outbox.emit(
                session,
                "process-instance.started",
                tenant_id=tenant_id,
                payload=_instance_payload(tree, instance),
            )
        if instance.completed and not (previous is not None and previous.completed):
            payload = {**_instance_payload(tree, instance), "state": "COMPLETED"}
            payload["endActivityId"] = instance.end_activity
            outbox.emit(session, "process-instance.ended", tenant_id=tenant_id, payload=payload)
    _emit_task_events(session, tree, view)


def _emit_task_events(session: AsyncSession, tree: Tree, view: Snapshot) -> None:
    tenant_id = tree.root.tenant_id
    waiting_before = {t.id: t for t in tree.before_view.user_tasks} if tree.before_view else {}
    waiting_now = {t.id for t in view.user_tasks}
    live = {i.id for i in view.instances if not i.completed}
    keys = {i.id: i.key for i in view.instances}
    for task in view.user_tasks:
        if task.id not in waiting_before and task.instance_id in live:
            payload = {
                "taskId": str(task.id),
                "name": task.name,
                "taskDefinitionKey": task.activity_id,
                "processInstanceId": str(task.instance_id),
                "processDefinitionKey": keys[task.instance_id],
            }
            outbox.emit(session, "task.created", tenant_id=tenant_id, payload=payload)
    canceled = {a.id for a in view.activities if a.canceled}
    for task_id in sorted(waiting_before.keys() - waiting_now):
        task = waiting_before[task_id]
        payload = {
            "taskId": str(task.id),
            "taskDefinitionKey": task.activity_id,
            "processInstanceId": str(task.instance_id),
        }
        # Canceled: interrupted by a boundary event or ended with its scope, not done.
        event_type = "task.deleted" if task_id in canceled else "task.completed"
        outbox.emit(session, event_type, tenant_id=tenant_id, payload=payload)


def _instance_payload(tree: Tree, instance: InstanceView) -> dict[str, Any]:
    return {
        "processInstanceId": str(instance.id),
        "processDefinitionId": tree.definition_of(instance.id, instance.key),
        "processDefinitionKey": instance.key,
        "businessKey": tree.root.business_key,
        "superProcessInstanceId": str(instance.super_id) if instance.super_id else None,
    }


def instances_deleted(
    session: AsyncSession, tree: Tree, instance_ids: Sequence[uuid.UUID], *, reason: str | None
) -> None:
    """A deleted tree's instances end EXTERNALLY_TERMINATED; their tasks end with them."""
    for instance_id in instance_ids:
        payload = {
            "processInstanceId": str(instance_id),
            "state": "EXTERNALLY_TERMINATED",
            "deleteReason": reason,
        }
        outbox.emit(
            session, "process-instance.ended", tenant_id=tree.root.tenant_id, payload=payload
        )
