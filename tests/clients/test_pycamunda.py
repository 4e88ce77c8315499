"""pycamunda (the unmodified PyPI package) against a running Tessera, with a bearer token.

Recipe: every pycamunda request object has an `auth` attribute that it hands to `requests`.
An `AuthBase` setting the header works for every request (`deployment.Create` ignores
`.session`, so a session's default headers alone do not reach it):

    import requests, pycamunda.processdef

    class BearerAuth(requests.auth.AuthBase):
        def __init__(self, token): self.token = token  # from POST /auth/token
        def __call__(self, request):
            request.headers["Authorization"] = f"Bearer {self.token}"
            return request

    start = pycamunda.processdef.StartInstance(url="http://127.0.0.1:8000", key="invoice")
    start.auth = BearerAuth(token)  # on every request object, before calling it
    instance = start()

What is covered: a member of T1 deploys (pycamunda's `deployment.Create`), starts by key and
by key + tenant id, lists tasks by tenant and candidate group, claims, completes with
variables, reads and writes process instance variables, evaluates a decision by key and
reads the history (pycamunda 0.6.1 has no history module: plain `requests`, same auth). Then
isolation through the client: a T1 token never sees T2's task or instance, T2's ids are
pycamunda's `NotFound`, and naming T2 explicitly is `Forbidden`.

The server is a real uvicorn in the test process (tests/clients/conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pycamunda
import pycamunda.base
import pycamunda.decisiondef
import pycamunda.deployment
import pycamunda.externaltask
import pycamunda.message
import pycamunda.processdef
import pycamunda.processinst
import pycamunda.signal
import pycamunda.task
import pytest
import requests
import requests.auth

from app.core.config import Settings
from tests.api.conftest import Headers, Seed, TenantMember, member
from tests.api.event_models import catch_message, catch_signal, external, message_start
from tests.api.runtime_fixtures import approval, one_task, risk_decision

R = TypeVar("R", bound=pycamunda.base.CamundaRequest)


class BearerAuth(requests.auth.AuthBase):
    """The recipe's auth: `Authorization: Bearer <token>` on every request."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token}"
        return request


@dataclass(frozen=True, slots=True)
class Client:
    """pycamunda requests of one caller: built against Tessera's URL, sent with its token."""

    url: str
    auth: BearerAuth

    def build(self, request: Callable[..., R], **arguments: Any) -> R:
        built = request(url=self.url, **arguments)
        built.auth = self.auth
        return built

    def __call__(self, request: Callable[..., Any], **arguments: Any) -> Any:
        return self.build(request, **arguments)()

    def get(self, path: str, **params: str) -> Any:
        """A plain `requests` GET with the same auth, for what pycamunda lacks (history)."""
        response = requests.get(f"{self.url}{path}", params=params, auth=self.auth, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()


def client(url: str, headers: Headers) -> Client:
    return Client(url, BearerAuth(headers["Authorization"].removeprefix("Bearer ")))


def deploy(
    caller: Client, tenant_id: str, files: dict[str, bytes]
) -> pycamunda.deployment.DeploymentWithDefinitions:
    create = caller.build(pycamunda.deployment.Create, name="models", tenant_id=tenant_id)
    for name, content in files.items():
        # A (filename, bytes) pair: bare bytes would be uploaded as "resource-0", and the
        # file name is what says BPMN or DMN (as in Camunda).
        create.add_resource((name, content))
    deployment: pycamunda.deployment.DeploymentWithDefinitions = create()
    return deployment


@pytest.fixture
async def manager(seed: Seed, settings: Settings, tenant_a: TenantMember) -> Headers:
    """A second member of T1, in `managers` (the candidate group of `approval`'s task)."""
    return await member(seed, settings, "t1-manager", tenants=["T1"], groups=["managers"])


# --------------------------------------------------------------------------- one tenant


def test_deploy_and_start_by_key_and_by_key_and_tenant(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    deployment = deploy(t1, "T1", {"invoice.bpmn": one_task("invoice")})
    assert (deployment.name, deployment.tenant_id) == ("models", "T1")
    assert deployment.deployment_time is not None
    (definition,) = deployment.deployed_process_definitions.values()
    assert (definition.key, definition.tenant_id, definition.version) == ("invoice", "T1", 1)

    start = t1.build(pycamunda.processdef.StartInstance, key="invoice", business_key="inv-1")
    start.add_variable("amount", 250, "Integer")
    start.add_variable("customer", "ACME")  # no type: inferred
    by_key = start()
    assert isinstance(by_key, pycamunda.processinst.ProcessInstance)
    assert (by_key.tenant_id, by_key.business_key, by_key.suspended) == ("T1", "inv-1", False)
    assert by_key.definition_id == definition.id_
    assert by_key.variables is None  # not asked for

    start = t1.build(
        pycamunda.processdef.StartInstance,
        key="invoice",
        tenant_id="T1",
        with_variables_in_return=True,
    )
    start.add_variable("amount", 7, "Long")
    by_tenant = start()
    assert by_tenant.tenant_id == "T1"
    assert by_tenant.variables is not None
    assert (by_tenant.variables["amount"].value, by_tenant.variables["amount"].type_) == (
        7,
        "Long",
    )

    got = t1(pycamunda.processinst.Get, id_=by_key.id_)
    assert (got.id_, got.tenant_id, got.business_key) == (by_key.id_, "T1", "inv-1")
    listed = t1(
        pycamunda.processinst.GetList, tenant_id_in=["T1"], process_definition_key="invoice"
    )
    assert {i.id_ for i in listed} == {by_key.id_, by_tenant.id_}
    assert [i.id_ for i in t1(pycamunda.processinst.GetList, business_key="inv-1")] == [by_key.id_]
    customer = t1(
        pycamunda.processinst.VariablesGet, process_instance_id=by_key.id_, var_name="customer"
    )
    assert (customer.value, customer.type_) == ("ACME", "String")

    (task,) = t1(pycamunda.task.GetList, tenant_id_in=["T1"], process_instance_id=by_key.id_)
    assert (task.name, task.task_definition_key, task.assignee) == ("Work", "work", None)
    assert task.created is not None  # pycamunda parsed Tessera's Camunda-format date


def test_candidate_group_claim_variables_complete_and_history(
    tessera_url: str, tenant_a: TenantMember, manager: Headers
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    boss = client(tessera_url, manager)
    deploy(t1, "T1", {"approval.bpmn": approval(), "risk.dmn": risk_decision()})
    start = t1.build(pycamunda.processdef.StartInstance, key="approval", tenant_id="T1")
    start.add_variable("amount", 5000, "Integer")
    instance = start()

    (task,) = boss(pycamunda.task.GetList, tenant_id_in=["T1"], candidate_group="managers")
    assert (task.name, task.process_instance_id, task.assignee) == ("Approve", instance.id_, None)
    assert boss(pycamunda.task.GetList, candidate_group="nobody") == ()

    boss(pycamunda.task.Claim, id_=task.id_, user_id="t1-manager")
    assert boss(pycamunda.task.Get, id_=task.id_).assignee == "t1-manager"
    assert [t.id_ for t in boss(pycamunda.task.GetList, assignee="t1-manager")] == [task.id_]

    # Process instance variables: get one, put one, modify (set and delete), get them all.
    risk = boss(
        pycamunda.processinst.VariablesGet, process_instance_id=instance.id_, var_name="risk"
    )
    assert (risk.value, risk.type_) == ("high", "String")  # the business rule task's result
    boss(
        pycamunda.processinst.VariablesUpdate,
        process_instance_id=instance.id_,
        var_name="note",
        value="looks fine",
        type_="String",
    )
    note = boss(
        pycamunda.processinst.VariablesGet, process_instance_id=instance.id_, var_name="note"
    )
    assert note.value == "looks fine"
    modify = boss.build(
        pycamunda.processinst.VariablesModify, process_instance_id=instance.id_, deletions=["note"]
    )
    modify.add_variable("reviewed", True, "Boolean")
    modify.add_variable("round", 2)
    modify()
    variables = boss(pycamunda.processinst.VariablesGetList, process_instance_id=instance.id_)
    assert {name: (v.value, v.type_) for name, v in variables.items()} == {
        "amount": (5000, "Integer"),
        "risk": ("high", "String"),
        "starter": ("t1-user", "String"),
        "reviewed": (True, "Boolean"),
        "round": (2, "Integer"),
    }

    complete = boss.build(pycamunda.task.Complete, id_=task.id_, with_variables_in_return=True)
    complete.add_variable("approved", True, "Boolean")
    returned = complete()
    assert returned is not None
    assert (returned["approved"].value, returned["round"].value) == (True, 2)
    assert boss(pycamunda.task.GetList, process_instance_id=instance.id_) == ()
    with pytest.raises(pycamunda.NotFound):
        boss(pycamunda.task.Get, id_=task.id_)
    with pytest.raises(pycamunda.NotFound):  # ended: no runtime instance, as in Camunda
        boss(pycamunda.processinst.Get, id_=instance.id_)

    (historic,) = boss.get("/history/process-instance", processInstanceId=instance.id_)
    assert (historic["state"], historic["tenantId"], historic["startUserId"]) == (
        "COMPLETED",
        "T1",
        "t1-user",
    )
    assert historic["endTime"] is not None
    (historic_task,) = boss.get("/history/task", processInstanceId=instance.id_)
    assert (historic_task["id"], historic_task["assignee"], historic_task["tenantId"]) == (
        task.id_,
        "t1-manager",
        "T1",
    )
    (decided,) = boss.get("/history/decision-instance", processInstanceId=instance.id_)
    assert (decided["decisionDefinitionKey"], decided["tenantId"]) == ("risk", "T1")


def test_history_of_the_task_that_ended_the_instance(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    deploy(t1, "T1", {"invoice.bpmn": one_task("invoice")})
    instance = t1(pycamunda.processdef.StartInstance, key="invoice")
    (task,) = t1(pycamunda.task.GetList, process_instance_id=instance.id_)
    t1(pycamunda.task.Complete, id_=task.id_)

    (historic,) = t1.get("/history/process-instance", processInstanceId=instance.id_)
    assert historic["state"] == "COMPLETED"
    (historic_task,) = t1.get("/history/task", processInstanceId=instance.id_)
    assert historic_task["endTime"] is not None
    assert historic_task["deleteReason"] == "completed"


def test_evaluate_decision_by_key_and_by_key_and_tenant(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    deploy(t1, "T1", {"risk.dmn": risk_decision()})

    evaluate = t1.build(pycamunda.decisiondef.Evaluate, key="risk")
    evaluate.add_variable("amount", 700, "Integer")
    (rule,) = evaluate()
    assert (rule["risk"].value, rule["risk"].type_) == ("high", "String")

    evaluate = t1.build(pycamunda.decisiondef.Evaluate, key="risk", tenant_id="T1")
    evaluate.add_variable("amount", 100)
    (rule,) = evaluate()
    assert rule["risk"].value == "low"

    decided = t1.get("/history/decision-instance", decisionDefinitionKey="risk")
    assert [d["tenantId"] for d in decided] == ["T1", "T1"]


def test_no_token_is_unauthorized(tessera_url: str) -> None:
    with pytest.raises(pycamunda.Unauthorized):
        pycamunda.task.GetList(url=tessera_url)()


def test_a_session_with_the_header_works_except_for_deployment_create(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    """`request.session = session` (a `requests.Session` with the header) is used by every
    pycamunda request but `deployment.Create`, which calls `requests.request` itself."""
    with requests.Session() as session:
        session.headers["Authorization"] = tenant_a.headers["Authorization"]
        create = pycamunda.deployment.Create(url=tessera_url, name="models", tenant_id="T1")
        create.add_resource(("invoice.bpmn", one_task("invoice")))
        create.session = session
        with pytest.raises(pycamunda.Unauthorized):
            create()

        deploy(client(tessera_url, tenant_a.headers), "T1", {"invoice.bpmn": one_task("invoice")})
        start = pycamunda.processdef.StartInstance(url=tessera_url, key="invoice")
        start.session = session
        instance = start()
        listing = pycamunda.task.GetList(url=tessera_url, process_instance_id=instance.id_)
        listing.session = session
        assert len(listing()) == 1


# --------------------------------------------------------------------------- isolation


def test_a_t1_token_never_sees_t2s_task_or_instance(
    tessera_url: str, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    t2 = client(tessera_url, tenant_b.headers)
    deploy(t1, "T1", {"invoice.bpmn": one_task("invoice")})
    deploy(t2, "T2", {"invoice.bpmn": one_task("invoice"), "risk.dmn": risk_decision()})
    mine = t1(pycamunda.processdef.StartInstance, key="invoice")
    theirs = t2(pycamunda.processdef.StartInstance, key="invoice", tenant_id="T2")
    (their_task,) = t2(pycamunda.task.GetList, process_instance_id=theirs.id_)
    assert theirs.tenant_id == "T2"

    # Lists: only T1's rows, whatever the filter names.
    assert {t.process_instance_id for t in t1(pycamunda.task.GetList)} == {mine.id_}
    assert {i.id_ for i in t1(pycamunda.processinst.GetList)} == {mine.id_}
    assert t1(pycamunda.task.GetList, tenant_id_in=["T2"]) == ()
    assert t1(pycamunda.task.GetList, process_instance_id=theirs.id_) == ()
    assert t1(pycamunda.processinst.GetList, tenant_id_in=["T2"]) == ()
    assert t1(pycamunda.processinst.GetList, process_instance_ids=[theirs.id_]) == ()
    assert t1.get("/history/process-instance", processInstanceId=theirs.id_) == []
    assert t1.get("/history/task", taskId=their_task.id_) == []

    # By id: T2's task and instance do not exist for T1 (pycamunda's NotFound).
    for request, arguments in (
        (pycamunda.task.Get, {"id_": their_task.id_}),
        (pycamunda.task.Claim, {"id_": their_task.id_, "user_id": "t1-user"}),
        (pycamunda.task.Complete, {"id_": their_task.id_}),
        (pycamunda.processinst.Get, {"id_": theirs.id_}),
        (pycamunda.processinst.VariablesGetList, {"process_instance_id": theirs.id_}),
        (
            pycamunda.processinst.VariablesUpdate,
            {"process_instance_id": theirs.id_, "var_name": "x", "value": 1},
        ),
    ):
        with pytest.raises(pycamunda.NotFound):
            t1(request, **arguments)

    # Naming T2 explicitly: T1's member is not one of T2's.
    with pytest.raises(pycamunda.Forbidden):
        t1(pycamunda.processdef.StartInstance, key="invoice", tenant_id="T2")
    with pytest.raises(pycamunda.Forbidden):
        t1(pycamunda.decisiondef.Evaluate, key="risk", tenant_id="T2")

    # Untouched: T2 still sees its task unclaimed and its instance without `x`.
    assert t2(pycamunda.task.Get, id_=their_task.id_).assignee is None
    assert "x" not in t2(pycamunda.processinst.VariablesGetList, process_instance_id=theirs.id_)


# --------------------------------------------------------------------------- messages, signals


def _waiting_at(caller: Client, instance_id: str) -> list[str]:
    return [
        t.task_definition_key
        for t in caller(pycamunda.task.GetList, process_instance_id=instance_id)
    ]


def test_message_correlation_per_tenant(
    tessera_url: str, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    t2 = client(tessera_url, tenant_b.headers)
    deploy(t1, "T1", {"waiter.bpmn": catch_message("waiter", "order")})
    deploy(t2, "T2", {"waiter.bpmn": catch_message("waiter", "order")})
    mine = t1(pycamunda.processdef.StartInstance, key="waiter", business_key="o-1")
    theirs = t2(pycamunda.processdef.StartInstance, key="waiter", business_key="o-1")

    correlate = t1.build(
        pycamunda.message.CorrelateSingle, message_name="order", tenant_id="T1", result_enabled=True
    )
    correlate.add_process_variable("paid", True, "Boolean")
    (result,) = correlate()
    assert result.result_type is pycamunda.message.ResultType.execution
    assert (result.execution.process_instance_id, result.execution.tenant_id) == (mine.id_, "T1")
    assert _waiting_at(t1, mine.id_) == ["after"]
    paid = t1(pycamunda.processinst.VariablesGet, process_instance_id=mine.id_, var_name="paid")
    assert (paid.value, paid.type_) == (True, "Boolean")
    assert _waiting_at(t2, theirs.id_) == []  # T2's instance still waits

    # T1 naming T2, or correlating again with nothing of its own left waiting.
    with pytest.raises(pycamunda.Forbidden):
        t1(
            pycamunda.message.CorrelateSingle,
            message_name="order",
            tenant_id="T2",
            result_enabled=True,
        )
    with pytest.raises(pycamunda.BadRequest):
        t1(pycamunda.message.CorrelateSingle, message_name="order", result_enabled=True)
    assert t1(pycamunda.message.CorrelateAll, message_name="order", result_enabled=True) == ()

    (result,) = t2(
        pycamunda.message.CorrelateAll,
        message_name="order",
        business_key="o-1",
        result_enabled=True,
    )
    assert (result.execution.process_instance_id, result.execution.tenant_id) == (theirs.id_, "T2")
    assert _waiting_at(t2, theirs.id_) == ["after"]


def test_message_start_in_a_tenant_and_without_tenant_id(
    tessera_url: str, tenant_a: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    deploy(t1, "T1", {"go.bpmn": message_start("go", "go")})
    (result,) = t1(
        pycamunda.message.CorrelateSingle, message_name="go", tenant_id="T1", result_enabled=True
    )
    assert result.result_type is pycamunda.message.ResultType.process_definition
    started = result.process_instance
    assert (started.tenant_id, started.suspended) == ("T1", False)
    assert _waiting_at(t1, started.id_) == ["after"]
    # Only T1's own definition has that start event: none is shared.
    with pytest.raises(pycamunda.BadRequest):
        t1(
            pycamunda.message.CorrelateSingle,
            message_name="go",
            without_tenant_id=True,
            result_enabled=True,
        )


def test_a_signal_reaches_the_throwing_tenants_instances_only(
    tessera_url: str, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    t2 = client(tessera_url, tenant_b.headers)
    deploy(t1, "T1", {"waiter.bpmn": catch_signal("waiter", "alarm")})
    deploy(t2, "T2", {"waiter.bpmn": catch_signal("waiter", "alarm")})
    mine = t1(pycamunda.processdef.StartInstance, key="waiter")
    theirs = t2(pycamunda.processdef.StartInstance, key="waiter")

    with pytest.raises(pycamunda.Forbidden):
        t1(pycamunda.signal.EventAll, name="alarm", tenant_id="T2")
    signal = t1.build(pycamunda.signal.EventAll, name="alarm")
    signal.add_variable("level", 3, "Integer")
    signal()
    assert _waiting_at(t1, mine.id_) == ["after"]
    level = t1(pycamunda.processinst.VariablesGet, process_instance_id=mine.id_, var_name="level")
    assert level.value == 3
    assert _waiting_at(t2, theirs.id_) == []

    t2(pycamunda.signal.EventAll, name="alarm", tenant_id="T2")
    assert _waiting_at(t2, theirs.id_) == ["after"]


# --------------------------------------------------------------------------- external tasks

_NO_DETAILS = {"request_error_details": False}


def _fetch(
    caller: Client, worker_id: str = "w1"
) -> tuple[pycamunda.externaltask.ExternalTask, ...]:
    fetch = caller.build(
        pycamunda.externaltask.FetchAndLock,
        worker_id=worker_id,
        max_tasks=10,
        async_response_timeout=200,
    )
    fetch.add_topic("work", lock_duration=10_000)
    locked: tuple[pycamunda.externaltask.ExternalTask, ...] = fetch()
    return locked


def test_external_tasks_fetch_complete_fail_and_bpmn_error_per_tenant(
    tessera_url: str, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    t1 = client(tessera_url, tenant_a.headers)
    t2 = client(tessera_url, tenant_b.headers)
    deploy(t1, "T1", {"job.bpmn": external("job", topic="work")})
    deploy(t2, "T2", {"job.bpmn": external("job", topic="work")})
    ok, failing, erring = (t1(pycamunda.processdef.StartInstance, key="job") for _ in range(3))
    theirs = t2(pycamunda.processdef.StartInstance, key="job")

    # pycamunda 0.6.1's externaltask.Count calls `requests.request` without `.auth` or
    # `.session`: it cannot send a token. The same count through plain `requests`:
    with pytest.raises(pycamunda.Unauthorized):
        t1(pycamunda.externaltask.Count, topic_name="work")
    assert t1.get("/external-task/count", topicName="work") == {"count": 3}
    assert t1.get("/external-task/count", tenantIdIn="T2") == {"count": 0}
    # GetList fetches each task's error details with a request of its own that sends no
    # token (401), unless request_error_details=False, as every GetList here says.
    with pytest.raises(pycamunda.Unauthorized):
        t1(pycamunda.externaltask.GetList)
    assert {t.process_instance_id for t in t1(pycamunda.externaltask.GetList, **_NO_DETAILS)} == {
        ok.id_,
        failing.id_,
        erring.id_,
    }
    locked = {t.process_instance_id: t for t in _fetch(t1)}
    assert set(locked) == {ok.id_, failing.id_, erring.id_}  # never T2's
    assert {(t.tenant_id, t.worker_id, t.activity_id) for t in locked.values()} == {
        ("T1", "w1", "ext")
    }
    assert _fetch(t1) == ()
    assert len(t1(pycamunda.externaltask.GetList, locked=True, **_NO_DETAILS)) == 3
    (their_task,) = t2(pycamunda.externaltask.GetList, not_locked=True, **_NO_DETAILS)
    assert their_task.process_instance_id == theirs.id_
    with pytest.raises(pycamunda.NotFound):
        t1(pycamunda.externaltask.Complete, id_=their_task.id_, worker_id="w1")

    complete = t1.build(pycamunda.externaltask.Complete, id_=locked[ok.id_].id_, worker_id="w1")
    complete.add_variable("result", "done", "String")
    complete()
    assert _waiting_at(t1, ok.id_) == ["after"]
    result = t1(pycamunda.processinst.VariablesGet, process_instance_id=ok.id_, var_name="result")
    assert result.value == "done"

    task_id = locked[failing.id_].id_
    with pytest.raises(pycamunda.BadRequest):  # not the worker holding the lock
        t1(
            pycamunda.externaltask.HandleFailure,
            id_=task_id,
            worker_id="w2",
            error_message="x",
            error_details="x",
            retries=0,
            retry_timeout=0,
        )
    t1(
        pycamunda.externaltask.HandleFailure,
        id_=task_id,
        worker_id="w1",
        error_message="boom",
        error_details="trace",
        retries=0,
        retry_timeout=0,
    )
    (failed,) = t1(pycamunda.externaltask.GetList, no_retries_left=True, **_NO_DETAILS)
    assert (failed.id_, failed.retries, failed.error_message) == (task_id, 0, "boom")
    (incident,) = t1.get("/incident", processInstanceId=failing.id_)
    assert (incident["incidentType"], incident["configuration"]) == ("failedExternalTask", task_id)

    t1(
        pycamunda.externaltask.HandleBPMNError,
        id_=locked[erring.id_].id_,
        worker_id="w1",
        error_code="BAD",
    )
    assert _waiting_at(t1, erring.id_) == ["handle"]
    assert t1.get("/external-task/count") == {"count": 1}  # the failed one is left
    assert t2.get("/external-task/count") == {"count": 1}  # T2's untouched
