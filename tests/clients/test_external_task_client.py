"""camunda-external-task-client-python3 (the unmodified PyPI package) against a running
Tessera, with a bearer token.

Recipe: the client's config takes the token under `auth_bearer` (its `AuthBearer` prefixes
`Bearer ` unless the token already starts with it) and sends it on every request:

    from camunda.client.external_task_client import ExternalTaskClient
    from camunda.external_task.external_task_worker import ExternalTaskWorker

    config = {"auth_bearer": {"access_token": token}, "maxTasks": 10, "lockDuration": 10000}
    client = ExternalTaskClient("worker-1", "http://127.0.0.1:8000", config)
    worker = ExternalTaskWorker("worker-1", "http://127.0.0.1:8000", config)

(the base URL is Tessera's root: the client appends `/external-task/...`).

What is covered: a tenant's worker (a member of T1) fetches only T1's tasks, with T2's task
waiting on the same topic, and T2's task id is unknown to it; it completes with variables (the
instance moves on), reports a failure with no retries left (an incident) and a BPMN error (the
boundary event takes over). A system worker (group `system-workers`, in no tenant) fetches
both tenants' tasks, each with its tenantId, and completes each in its tenant on behalf of the
instance's starter (the external task log says so).

`ExternalTaskWorker.subscribe` loops forever (`while True`, and it swallows every exception,
even KeyboardInterrupt, then sleeps): it cannot be stopped from a test. Its one round,
`fetch_and_execute` (fetch, run the handler, report the handler's result), is what is used.
"""

from __future__ import annotations

from typing import Any

import pycamunda.processdef
import pytest
from camunda.client.external_task_client import ExternalTaskClient
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound

from tests.api.conftest import Headers, TenantMember
from tests.api.event_models import external
from tests.clients.test_pycamunda import Client, client, deploy

# Short long polls: an empty fetch answers after this many milliseconds.
_EMPTY_POLL_MS = 300


def config(headers: Headers, **overrides: Any) -> dict[str, Any]:
    """The client's config for a caller: its token under `auth_bearer`."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return {
        "auth_bearer": {"access_token": token},
        "maxTasks": 10,
        "lockDuration": 10_000,
        "asyncResponseTimeout": _EMPTY_POLL_MS,
        **overrides,
    }


def start(caller: Client, tenant_id: str, key: str = "job", **variables: Any) -> str:
    """Deploy `external(key)` in `tenant_id` and start one instance; its id."""
    deploy(caller, tenant_id, {f"{key}.bpmn": external(key, topic="work")})
    request = caller.build(pycamunda.processdef.StartInstance, key=key, tenant_id=tenant_id)
    for name, value in variables.items():
        request.add_variable(name, value)
    instance_id: str = request().id_
    return instance_id


def waiting_at(caller: Client, instance_id: str) -> list[str]:
    """The user tasks (definition keys) the instance waits in."""
    return [t["taskDefinitionKey"] for t in caller.get("/task", processInstanceId=instance_id)]


def variables_of(caller: Client, instance_id: str) -> dict[str, Any]:
    found = caller.get(f"/process-instance/{instance_id}/variables")
    return {name: (v["value"], v["type"]) for name, v in found.items()}


# --------------------------------------------------------------------------- a tenant's worker


def test_a_tenant_worker_fetches_only_its_tenants_tasks_and_completes_with_variables(
    tessera_url: str, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    t2 = client(tessera_url, tenant_b.headers)
    mine = start(t1, "T1", amount=250)
    theirs = start(t2, "T2", amount=999)
    (their_task,) = t2.get("/external-task", processInstanceId=theirs)
    worker = ExternalTaskClient("t1-worker", tessera_url, config(tenant_a.headers))

    (task,) = worker.fetch_and_lock("work")
    assert (task["processInstanceId"], task["tenantId"], task["topicName"]) == (mine, "T1", "work")
    assert (task["activityId"], task["workerId"]) == ("ext", "t1-worker")
    assert task["variables"]["amount"]["value"] == 250
    assert task["lockExpirationTime"] is not None
    # T2's task waits on the same topic, unlocked: never this worker's.
    assert worker.fetch_and_lock("work") == []
    with pytest.raises(Exception, match="received 404"):
        worker.complete(their_task["id"], {"stolen": True})

    assert worker.complete(task["id"], {"result": "done", "score": 7}) is True
    assert waiting_at(t1, mine) == ["after"]
    assert variables_of(t1, mine) == {
        "amount": (250, "Integer"),
        "result": ("done", "String"),
        "score": (7, "Integer"),
    }
    assert t1.get("/external-task", processInstanceId=mine) == []

    # T2's side is untouched: its task still unlocked, its instance without `stolen`.
    (still,) = t2.get("/external-task", processInstanceId=theirs)
    assert (still["id"], still["workerId"], still["lockExpirationTime"]) == (
        their_task["id"],
        None,
        None,
    )
    assert "stolen" not in variables_of(t2, theirs)


def test_a_failure_without_retries_left_is_an_incident(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    instance = start(t1, "T1")
    worker = ExternalTaskWorker("t1-worker", tessera_url, config(tenant_a.headers))
    handled: list[str] = []

    def fail(task: ExternalTask) -> TaskResult:
        handled.append(task.get_task_id())
        return task.failure("boom", "a stack trace", max_retries=0, retry_timeout=0)

    worker.fetch_and_execute("work", fail)
    (task_id,) = handled
    (incident,) = t1.get("/incident", processInstanceId=instance)
    assert (incident["incidentType"], incident["configuration"]) == ("failedExternalTask", task_id)
    assert (incident["activityId"], incident["tenantId"]) == ("ext", "T1")
    assert incident["incidentMessage"] == "boom"
    task = t1.get(f"/external-task/{task_id}")
    assert (task["retries"], task["errorMessage"]) == (0, "boom")
    assert waiting_at(t1, instance) == []  # still in the external task
    # No retries left: the worker's next round finds nothing.
    with pytest.raises(NoExternalTaskFound):
        worker.fetch_and_execute("work", fail)
    assert handled == [task_id]


def test_a_bpmn_error_is_caught_by_the_boundary_event(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    instance = start(t1, "T1")
    worker = ExternalTaskWorker("t1-worker", tessera_url, config(tenant_a.headers))

    def reject(task: ExternalTask) -> TaskResult:
        return task.bpmn_error("BAD", "bad input", {"reason": "no stock"})

    worker.fetch_and_execute("work", reject)
    assert waiting_at(t1, instance) == ["handle"]
    assert variables_of(t1, instance)["reason"] == ("no stock", "String")
    assert t1.get("/external-task", processInstanceId=instance) == []
    assert t1.get("/incident", processInstanceId=instance) == []


# --------------------------------------------------------------------------- a system worker


def test_a_system_worker_fetches_every_tenants_tasks_and_completes_them_as_the_starter(
    system_worker_url: str,
    system_worker: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
) -> None:
    t1 = client(system_worker_url, tenant_a.headers)
    t2 = client(system_worker_url, tenant_b.headers)
    instances = {"T1": start(t1, "T1", amount=1), "T2": start(t2, "T2", amount=2)}
    worker = ExternalTaskWorker("robot-1", system_worker_url, config(system_worker))
    seen: dict[str, tuple[str, int]] = {}

    def work(task: ExternalTask) -> TaskResult:
        tenant = task.get_tenant_id()
        seen[tenant] = (task.get_process_instance_id(), task.get_variable("amount"))
        return task.complete({"doneIn": tenant})

    worker.fetch_and_execute("work", work)
    assert seen == {"T1": (instances["T1"], 1), "T2": (instances["T2"], 2)}

    for caller, tenant, starter in ((t1, "T1", "t1-user"), (t2, "T2", "t2-user")):
        instance = instances[tenant]
        assert waiting_at(caller, instance) == ["after"]
        assert variables_of(caller, instance)["doneIn"] == (tenant, "String")
        (log,) = caller.get(
            "/history/external-task-log", processInstanceId=instance, successLog="true"
        )
        assert (log["userId"], log["tenantId"], log["workerId"]) == (starter, tenant, "robot-1")
        assert (log["successLog"], log["activityId"], log["topicName"]) == (True, "ext", "work")
    with pytest.raises(NoExternalTaskFound):
        worker.fetch_and_execute("work", work)
