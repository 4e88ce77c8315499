"""Camunda 7's multi-tenancy test classes for messages, signals, external tasks and incidents,
mirrored through Tessera's REST API (`POST /message`, `POST /signal`, `/external-task`,
`/incident`).

The conventions are test_camunda_multitenancy.py's (read its docstring): every test names the
Camunda class and method it mirrors (`MT.` = `org.camunda.bpm.engine.test.api.multitenancy`),
Camunda's calls without authentication are an admin's here, "no authenticated tenants" is a
user of no tenant, and where DESIGN §3 deliberately differs the docstring says "Camunda: X;
DESIGN §3: Y". The differences that recur in this file:

* Runtime rows are never shared (C6): Camunda's instance "without tenant" of a shared definition
  is here an instance of the shared definition in the tenant it was started for. So
  `withoutTenantId` on a correlation or a signal reaches start events of shared definitions
  only — never a waiting instance — and the instance it starts belongs to the caller's tenant.
* A message or signal without a tenant selector reaches what the caller sees; a start event is
  that of the caller's effective definition (B7: a tenant's own version overrides the shared
  one), started in that tenant. A caller of no tenant sees no waiting instance and has no
  tenant to start one in.
* A signal thrown inside a T1 instance reaches T1's subscriptions — those of T1's instances of
  shared definitions included — and the start events of T1's effective definitions (D5);
  Camunda's "subscriptions without tenant" do not exist.
* Another tenant's instance id in a correlation is refused exactly like an unknown one (D6);
  another tenant's external task is 404 with exactly the body of a random id (C9,
  `assert_like_unknown`).
* Camunda's workers fetch "without authentication" (every tenant); here that is an admin or a
  system worker (a member of a SYSTEM_WORKER_GROUPS group).

Coverage, method by method ("here" = a test in this file, found by the method name).

MT.MultiTenancyMessageCorrelationTest
  correlateMessageToStartEventNoTenantIdSetForNonTenant ........ here (C6)
  correlateMessageToStartEventNoTenantIdSetForTenant ........... here
  correlateMessageToStartEventWithoutTenantId .................. here (C4)
  correlateMessageToStartEventWithTenantId ..................... here
  correlateMessageToIntermediateCatchEventNoTenantIdSetForNonTenant / ...ForTenant ... here
  correlateMessageToIntermediateCatchEventWithoutTenantId ...... here (C6)
  correlateMessageToIntermediateCatchEventWithTenantId ......... here
  correlateMessageToStartAndIntermediateCatchEventWithoutTenantId, correlateMessageTo-
    MultipleIntermediateCatchEventsWithoutTenantId ............. here (C6)
  correlateMessageToStartAndIntermediateCatchEventWithTenantId, correlateMessageTo-
    MultipleIntermediateCatchEventsWithTenantId ................ here
  correlateStartMessageWithoutTenantId / correlateStartMessageWithTenantId /
    failToCorrelateStartMessageForMultipleTenants .............. here, with the plain
    correlation: REST has no start-message-only correlation (`POST /message` starts an
    instance when no waiting one matches), so they are the start event tests above
  correlateMessagesToStartEventsForMultipleTenants ............. here
  correlateMessagesToIntermediateCatchEventsForMultipleTenants,
    correlateMessagesToStartAndIntermediateCatchEventForMultipleTenants ... here
  failToCorrelateMessageToIntermediateCatchEventsForMultipleTenants (no @Test in Camunda) ... here
  failToCorrelateMessageToStartEventsForMultipleTenants ........ here
  failToCorrelateMessageByProcessInstanceIdWithoutTenantId / ...AndTenantId ... here (C5)
  failToCorrelateMessageByProcessDefinitionIdWithoutTenantId / ...AndTenantId ... not
    applicable: Camunda's REST CorrelationMessageDto (and Tessera's) has no processDefinitionId
  testSubscriptionsWhenDeletingGroupsProcessDefinitionsByIds ... here, by deleting
    deployments (Tessera has no DELETE /process-definition/{id})

MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest
  correlateMessageToStartEventNoAuthenticatedTenants, correlateMessageToIntermediateCatch-
    EventNoAuthenticatedTenants, correlateMessageToStartAndIntermediateCatchEventWith-
    NoAuthenticatedTenants ..................................... here (A3, C6)
  correlateMessageToStartEventWithAuthenticatedTenant .......... here
  correlateMessageToIntermediateCatchEventWithAuthenticatedTenant ... here
  correlateMessageToStartAndIntermediateCatchEventWithAuthenticatedTenant ... here
  correlateMessageToStartEventDisabledTenantCheck, correlateMessageToIntermediateCatchEvent-
    DisabledTenantCheck, correlateMessageToStartAndIntermediateCatchEventDisabledTenantCheck
    ............................................................ here (A6)
  failToCorrelateMessageByProcessInstanceIdNoAuthenticatedTenants,
    correlateMessageByProcessInstanceIdWithAuthenticatedTenant . here (D6)
  failToCorrelateMessageByProcessDefinitionIdNoAuthenticatedTenants,
    correlateMessageByProcessDefinitionIdWithAuthenticatedTenant ... not applicable: no
    processDefinitionId in a REST correlation

MT.tenantcheck.MultiTenancyMessageEventReceivedCmdTenantCheckTest (all four methods) ... not
  applicable: `runtimeService.messageEventReceived(name, executionId)` is REST's
  `POST /execution/{id}/messageSubscriptions/{name}/trigger`, and Tessera offers no
  `/execution` resource; the same tenant check by instance id is D6 above

MT.MultiTenancySignalReceiveTest
  sendSignalToStartEventForNonTenant ........................... here (C4, C6)
  sendSignalToStartEventForTenant .............................. here
  sendSignalToStartEventWithoutTenantIdForNonTenant ............ here (C6), and for a member of
    two tenants (D4)
  sendSignalToStartEventWithoutTenantIdForTenant ............... here
  sendSignalToIntermediateCatchEventForNonTenant,
    sendSignalToStartAndIntermediateCatchEventForNonTenant ..... here (C6)
  sendSignalToIntermediateCatchEventForTenant,
    sendSignalToStartAndIntermediateCatchEventForTenant ........ here
  sendSignalToIntermediateCatchEventWithoutTenantIdForNonTenant / ...ForTenant ... here
  sendSignalToStartEventsForMultipleTenants, sendSignalToIntermediateCatchEventsForMultiple-
    Tenants, sendSignalToStartAndIntermediateCatchEventForMultipleTenants ... here
  failToSendSignalWithExecutionIdForTenant ..................... here (C5)
  throwIntermediateSignalForTenant / throwEndSignalForTenant ... here (D5)
  throwIntermediateSignalForNonTenant / throwEndSignalForNonTenant ... here (D5, C6)

MT.tenantcheck.MultiTenancySignalReceiveCmdTenantCheckTest
  sendSignalToStartEventNoAuthenticatedTenants, sendSignalToIntermediateCatchEventNo-
    AuthenticatedTenants, sendSignalToStartAndIntermediateCatchEventNoAuthenticatedTenants
    ............................................................ here (A3, C6)
  sendSignalToStartEventWithAuthenticatedTenant, sendSignalToIntermediateCatchEventWith-
    AuthenticatedTenant, sendSignalToStartAndIntermediateCatchEventWithAuthenticatedTenant
    ............................................................ here
  sendSignalToStartEventDisabledTenantCheck, sendSignalToIntermediateCatchEventDisabled-
    TenantCheck, sendSignalToStartAndIntermediateCatchEventDisabledTenantCheck ... here (A6)
  sendSignalToIntermediateCatchEventWithExecutionIdAndAuthenticatedTenant,
    failToSendSignalToIntermediateCatchEventWithExecutionIdAndNoAuthenticatedTenants ... here
  signalIntermediateCatchEventNoAuthenticatedTenants / ...WithAuthenticatedTenant /
    ...DisabledTenantCheck, failToSignalIntermediateCatchEventNoAuthenticatedTenants ... not
    applicable: `runtimeService.signal(executionId, ...)` is REST's `POST /execution/{id}/signal`
    (no `/execution` resource); the executionId of `POST /signal` is covered above

MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest
  testFetchAndLockWithAuthenticatedTenant / ...WithNoAuthenticatedTenant /
    ...WithDifferentTenant ..................................... here (A1, A3)
  testFetchAndLockWithDisabledTenantCheck ...................... here (A6, and A4 for admin)
  testFetchAndLockWithoutTenantId .............................. here (A9, C6)
  testFetchAndLockWithTenantId / ...WithTenantIdIn / ...WithTenantIdInTwoTenants ... here
  test{Complete,HandleFailure,HandleBPMNError,SetRetries,SetPriority,Unlock}
    With{AuthenticatedTenant,NoAuthenticatedTenant,DisabledTenantCheck} (testCompleteWith-
    DisableTenantCheck sic) ..................................... here, one row per command of
    EXTERNAL_TASK_COMMANDS in the two command tests (C9; A6, A4)
  testGetErrorDetailsWithAuthenticatedTenant / ...WithNoAuthenticatedTenant /
    ...WithDisabledTenantCheck ................................. not applicable: no
    `GET /external-task/{id}/errorDetails` in Tessera; reading the task
    (`GET /external-task/{id}`, a row of the command tests) is the same tenant check, and the
    details come back with the next fetch (the handleFailure row)

MT.query.MultiTenancyExternalTaskQueryTest and MT.query.MultiTenancyIncidentQueryTest
  (incidents here come from external tasks failed with no retries left, not from failing jobs;
  the same tests run on the external task log, below)
  testQueryWithoutTenantId ... here (A4); testQueryByTenantId / testQueryByTenantIds /
  testQueryByNonExistingTenantId ... here (A8); testQuerySortingAsc / testQuerySortingDesc ...
  here (A11); testQueryNoAuthenticatedTenants ... here (A3); testQueryAuthenticatedTenant ...
  here (A1, A7); testQueryAuthenticatedTenants ... here (A2); testQueryDisabledTenantCheck ...
  here (A6); testFailQueryByTenantIdNull ... not applicable: a REST list parameter cannot hold
  a null tenant id

MT.MultiTenancyExecutionPropagationTest (its message, signal and external task methods)
  testPropagateTenantIdToIntermediateMessageEventSubscription / ...IntermediateSignalEvent-
    Subscription ............................................... here (C7, rows read directly)
  testPropagateTenantIdToExternalTask, testPropagateTenantIdToFailedExternalTaskIncident ... here
  testPropagateTenantIdToStartMessageEventSubscription / ...StartSignalEventSubscription ... not
    applicable: Tessera keeps no start event subscription rows (a start event is found on the
    effective definition when the message or signal comes, B7); the start tests above show
    their tenant
  testPropagateTenantIdToCompensationEventSubscription ... not applicable: no compensation

MT.query.history.MultiTenancyHistoricExternalTaskLogTest (`GET /history/external-task-log`)
  shouldQueryWithoutTenantId, shouldQueryByTenantId / shouldQueryByTenantIds /
  shouldQueryByNonExistingTenantId, shouldQuerySortingAsc / shouldQuerySortingDesc,
  shouldQueryNoAuthenticatedTenants, shouldQueryAuthenticatedTenant(s),
  shouldQueryDisabledTenantCheck ... here, in the query tests above
  shouldQueryFilterWithoutTenantId ... not applicable: the log query has no withoutTenantId
    (and no log row is without tenant, C6)
  shouldFailQueryByTenantIdNull ... not applicable (as above)
  shouldGetErrorDetailsNoAuthenticatedTenants / ...AuthenticatedTenant / ...AuthenticatedTenants
    ... not applicable: no `GET /history/external-task-log/{id}/error-details` in Tessera

MT.query.MultiTenancyEventSubscriptionQueryTest, MT.query.history.MultiTenancyHistoricIncident-
  QueryTest ... not applicable: no `/event-subscription` and no `/history/incident` resource
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import httpx
import pytest
from sqlalchemy import select

from app.core.config import Settings
from app.models import EventSubscription
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, member, open_client
from tests.api.event_models import (
    ERROR_CODE,
    MESSAGE,
    SIGNAL,
    TOPIC,
    camunda_message_catch,
    camunda_message_start,
    camunda_signal_catch,
    camunda_signal_start,
    camunda_signal_throw,
    one_external_task,
    two_external_tasks,
)
from tests.api.repository_fixtures import rows_and_count
from tests.api.runtime_fixtures import deploy_model, start
from tests.api.test_camunda_multitenancy import Callers, get_json, switched_off
from tests.conftest import add_tenants, make_settings

# --------------------------------------------------------------------------- callers and helpers


@pytest.fixture
async def callers(
    seed: Seed, settings: Settings, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> Callers:
    """As test_camunda_multitenancy.py's: admin, t1, t2, t12 (both), none; T3 has no member."""
    async with seed() as session:
        await add_tenants(session, "T3")
    return Callers(
        admin=admin,
        t1=tenant_a.headers,
        t2=tenant_b.headers,
        t12=await member(seed, settings, "both", tenants=["T1", "T2"]),
        none=await member(seed, settings, "loner"),
    )


async def deploy(
    client: httpx.AsyncClient, admin: Headers, tenant: str | None, *models: bytes
) -> dict[str, str]:
    """One deployment of `models` for `tenant` (None: shared); the definition id per key."""
    files = {f"model{n}.bpmn": model for n, model in enumerate(models)}
    body = await deploy_model(client, admin, files, tenant=tenant)
    return {d["key"]: d["id"] for d in body["deployedProcessDefinitions"].values()}


async def correlate(client: httpx.AsyncClient, headers: Headers, **body: Any) -> httpx.Response:
    """`POST /message` of Camunda's message `message`."""
    return await client.post("/message", json={"messageName": MESSAGE, **body}, headers=headers)


async def correlated(
    client: httpx.AsyncClient, headers: Headers, **body: Any
) -> list[dict[str, Any]]:
    """A correlation that succeeds; its results (`resultEnabled`)."""
    response = await correlate(client, headers, resultEnabled=True, **body)
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()
    return results


async def send_signal(client: httpx.AsyncClient, headers: Headers, **body: Any) -> None:
    """`POST /signal` of Camunda's signal `signal`, which must be accepted."""
    response = await client.post("/signal", json={"name": SIGNAL, **body}, headers=headers)
    assert response.status_code == 204, response.text


async def reached(client: httpx.AsyncClient, admin: Headers) -> list[tuple[str, str]]:
    """(tenant, definition id) of every user task, sorted. In these models a user task exists
    only after a message or signal arrived: an instance moved on, or one was started."""
    return sorted((t["tenantId"], t["processDefinitionId"]) for t in await tasks_of(client, admin))


async def tasks_of(client: httpx.AsyncClient, headers: Headers, **params: Any) -> list[Any]:
    found: list[Any] = await get_json(client, "/task", headers, **params)
    return found


async def instances_of(
    client: httpx.AsyncClient, admin: Headers, key: str
) -> list[tuple[str, str]]:
    """(tenant, definition id) of the running instances of `key`, sorted."""
    rows = await get_json(client, "/process-instance", admin, processDefinitionKey=key)
    return sorted((r["tenantId"], r["definitionId"]) for r in rows)


async def assert_like_unknown(
    send: Callable[[str], Awaitable[httpx.Response]], target: str, *, status: int = 404
) -> None:
    """`send(target)` fails with `status` and exactly the body `send(<a random id>)` gets."""
    seen, other = await send(target), await send(str(uuid.uuid4()))
    assert_problem(seen, status)
    assert seen.text == other.text


def waiting_execution(started: dict[str, Any]) -> str:
    """The execution that waits in `wait` (Camunda finds it with an execution query, which
    Tessera does not offer): Tessera's executions are its instances — the `executionId` of
    its tasks, external tasks and correlation results is the instance's id."""
    return str(started["id"])


# =========================================================================== message correlation
# MT.MultiTenancyMessageCorrelationTest and MT.tenantcheck.MultiTenancyMessageCorrelationCmd-
# TenantCheckTest. `messageStart` starts on the message; `messageCatch` waits for it in `wait`.


async def test_d1_a_message_starts_a_tenants_definition_in_that_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToStartEventNoTenantIdSetForTenant
    (as admin) and MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest
    .correlateMessageToStartEventWithAuthenticatedTenant (T2's definition deployed next: T1's
    member starts T1's, no ambiguity)."""
    own = await deploy(client, callers.admin, "T1", camunda_message_start())
    [result] = await correlated(client, callers.admin)
    assert result["resultType"] == "ProcessDefinition"
    assert result["processInstance"]["tenantId"] == "T1"
    await deploy(client, callers.admin, "T2", camunda_message_start())
    [result] = await correlated(client, callers.t1)
    assert result["processInstance"]["tenantId"] == "T1"
    expected = [("T1", own["messageStart"])] * 2
    assert await instances_of(client, callers.admin, "messageStart") == expected


async def test_c6_a_message_starts_a_shared_definition_in_the_callers_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToStartEventNoTenantIdSetForNonTenant.
    Camunda: the instance has no tenant; DESIGN §3 (C6): it belongs to the caller's only tenant,
    and a caller of no tenant (an admin too) gets 400 and nothing starts."""
    shared = await deploy(client, callers.admin, None, camunda_message_start())
    for caller in (callers.admin, callers.none):
        assert_problem(await correlate(client, caller), 400)
    [result] = await correlated(client, callers.t1)
    assert result["processInstance"]["tenantId"] == "T1"
    expected = [("T1", shared["messageStart"])]
    assert await instances_of(client, callers.admin, "messageStart") == expected


async def test_d1_with_tenant_id_a_message_starts_that_tenants_definition(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToStartEventWithTenantId /
    correlateStartMessageWithTenantId (by a member of both tenants, then by an admin)."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_start())
    t2 = await deploy(client, callers.admin, "T2", camunda_message_start())
    await correlated(client, callers.t12, tenantId="T1")
    expected = [("T1", t1["messageStart"])]
    assert await instances_of(client, callers.admin, "messageStart") == expected
    await correlated(client, callers.admin, tenantId="T2")
    expected.append(("T2", t2["messageStart"]))
    assert await instances_of(client, callers.admin, "messageStart") == expected


async def test_c4_d1_without_tenant_id_a_message_starts_the_shared_definition(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToStartEventWithoutTenantId /
    correlateStartMessageWithoutTenantId. Camunda: the shared definition's instance has no
    tenant; DESIGN §3 (C4): it is the caller's tenant's. Without the selector T1's own version
    is the effective one (B7)."""
    shared = await deploy(client, callers.admin, None, camunda_message_start())
    own = await deploy(client, callers.admin, "T1", camunda_message_start())
    [result] = await correlated(client, callers.t1, withoutTenantId=True)
    instance = result["processInstance"]
    assert (instance["tenantId"], instance["definitionId"]) == ("T1", shared["messageStart"])
    await correlated(client, callers.t1)
    expected = sorted([("T1", shared["messageStart"]), ("T1", own["messageStart"])])
    assert await instances_of(client, callers.admin, "messageStart") == expected


async def test_d2_a_message_for_start_events_of_two_tenants_is_400(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.failToCorrelateMessageToStartEventsForMultipleTenants
    / failToCorrelateStartMessageForMultipleTenants ("Cannot correlate a message with name
    'message' to a single process definition"), for an admin and a member of both tenants."""
    await deploy(client, callers.admin, "T1", camunda_message_start())
    await deploy(client, callers.admin, "T2", camunda_message_start())
    problem = assert_problem(await correlate(client, callers.admin), 400)
    assert f"Cannot correlate a message with name '{MESSAGE}'" in problem["detail"], problem
    assert_problem(await correlate(client, callers.t12), 400)
    assert await instances_of(client, callers.admin, "messageStart") == []


async def test_d3_all_starts_the_definition_of_every_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessagesToStartEventsForMultipleTenants."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_start())
    t2 = await deploy(client, callers.admin, "T2", camunda_message_start())
    results = await correlated(client, callers.admin, all=True)
    assert sorted(r["processInstance"]["tenantId"] for r in results) == ["T1", "T2"]
    expected = [("T1", t1["messageStart"]), ("T2", t2["messageStart"])]
    assert await instances_of(client, callers.admin, "messageStart") == expected


@pytest.mark.parametrize("tenant", ["T1", None], ids=["ForTenant", "ForNonTenant"])
async def test_d1_a_message_reaches_the_instance_waiting_for_it(
    client: httpx.AsyncClient, callers: Callers, tenant: str | None
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToIntermediateCatchEventNoTenantIdSetForTenant
    / ...ForNonTenant (as admin). Camunda: the shared definition's instance has no tenant;
    DESIGN §3 (C6): it is T1's, which started it."""
    ids = await deploy(client, callers.admin, tenant, camunda_message_catch())
    started = await start(client, callers.t1, "messageCatch")
    [result] = await correlated(client, callers.admin)
    assert result["resultType"] == "Execution"
    execution = result["execution"]
    assert (execution["processInstanceId"], execution["tenantId"]) == (started["id"], "T1")
    assert await reached(client, callers.admin) == [("T1", ids["messageCatch"])]


async def test_d1_with_tenant_id_a_message_reaches_only_that_tenants_instance(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToIntermediateCatchEventWithTenantId."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_catch())
    await deploy(client, callers.admin, "T2", camunda_message_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.t2, "messageCatch")
    await correlated(client, callers.t12, tenantId="T1")
    assert await reached(client, callers.admin) == [("T1", t1["messageCatch"])]


async def test_c6_d1_without_tenant_id_a_message_reaches_no_waiting_instance(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToIntermediateCatchEventWithoutTenantId.
    Camunda: the shared definition's instance (no tenant) receives it; DESIGN §3 (C6): that
    instance is T1's, and withoutTenantId selects start events of shared definitions only:
    400 no match, nothing moves."""
    await deploy(client, callers.admin, None, camunda_message_catch())
    await deploy(client, callers.admin, "T1", camunda_message_catch())
    await start(client, callers.t1, "messageCatch", withoutTenantId=True)
    await start(client, callers.t1, "messageCatch")
    problem = assert_problem(await correlate(client, callers.t1, withoutTenantId=True), 400)
    assert "No process definition or execution matches" in problem["detail"], problem
    assert await reached(client, callers.admin) == []


async def test_d1_d3_with_tenant_id_all_reaches_that_tenants_instances_and_start_event(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToStartAndIntermediateCatchEventWithTenantId
    and correlateMessageToMultipleIntermediateCatchEventsWithTenantId (two waiting instances
    per tenant, and a start event)."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_start(), camunda_message_catch())
    await deploy(client, callers.admin, "T2", camunda_message_start(), camunda_message_catch())
    for caller in (callers.t1, callers.t1, callers.t2, callers.t2):
        await start(client, caller, "messageCatch")
    results = await correlated(client, callers.t12, tenantId="T1", all=True)
    kinds = sorted(r["resultType"] for r in results)
    assert kinds == ["Execution", "Execution", "ProcessDefinition"]
    expected = sorted([("T1", t1["messageCatch"])] * 2 + [("T1", t1["messageStart"])])
    assert await reached(client, callers.admin) == expected


async def test_c6_d1_without_tenant_id_all_starts_the_shared_definition_only(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessageToStartAndIntermediateCatchEventWithoutTenantId
    and correlateMessageToMultipleIntermediateCatchEventsWithoutTenantId. Camunda: the shared
    definition's waiting instances and its start event, all without tenant; DESIGN §3 (C6):
    the waiting instances are T1's, so only the shared start event, started for T1."""
    shared = await deploy(
        client, callers.admin, None, camunda_message_start(), camunda_message_catch()
    )
    await deploy(client, callers.admin, "T1", camunda_message_start(), camunda_message_catch())
    for without in (True, True, False, False):
        await start(client, callers.t1, "messageCatch", withoutTenantId=without)
    [result] = await correlated(client, callers.t1, withoutTenantId=True, all=True)
    assert result["resultType"] == "ProcessDefinition"
    assert await reached(client, callers.admin) == [("T1", shared["messageStart"])]


async def test_d3_all_reaches_every_tenant_the_caller_sees(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.correlateMessagesToIntermediateCatchEventsForMultipleTenants
    and correlateMessagesToStartAndIntermediateCatchEventForMultipleTenants (as admin): T1 has
    the start event and a waiting instance, T2 a waiting instance."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_start(), camunda_message_catch())
    t2 = await deploy(client, callers.admin, "T2", camunda_message_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.t2, "messageCatch")
    assert len(await correlated(client, callers.admin, all=True)) == 3
    expected = sorted(
        [("T1", t1["messageCatch"]), ("T1", t1["messageStart"]), ("T2", t2["messageCatch"])]
    )
    assert await reached(client, callers.admin) == expected


async def test_d2_a_message_for_instances_of_two_tenants_is_400(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.failToCorrelateMessageToIntermediateCatchEventsForMultipleTenants
    (no @Test in Camunda's class; "Cannot correlate a message with name 'message' to a single
    execution"), for an admin and a member of both tenants."""
    await deploy(client, callers.admin, "T1", camunda_message_catch())
    await deploy(client, callers.admin, "T2", camunda_message_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.t2, "messageCatch")
    for caller in (callers.admin, callers.t12):
        problem = assert_problem(await correlate(client, caller), 400)
        assert f"Cannot correlate message '{MESSAGE}'" in problem["detail"], problem
    assert await reached(client, callers.admin) == []


@pytest.mark.parametrize(
    "selector",
    [{"tenantId": "T1"}, {"withoutTenantId": True}],
    ids=["AndTenantId", "WithoutTenantId"],
)
async def test_c5_a_message_to_an_instance_id_with_a_tenant_selector_is_400(
    client: httpx.AsyncClient, callers: Callers, selector: dict[str, Any]
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.failToCorrelateMessageByProcessInstanceIdAndTenantId
    / ...WithoutTenantId ("Cannot specify a tenant-id"), aimed at T1's own waiting instance."""
    await deploy(client, callers.admin, "T1", camunda_message_catch())
    started = await start(client, callers.t1, "messageCatch")
    response = await correlate(client, callers.t1, processInstanceId=started["id"], **selector)
    assert_problem(response, 400)
    assert await reached(client, callers.admin) == []


async def test_b7_a_message_start_event_follows_the_latest_remaining_version(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancyMessageCorrelationTest.testSubscriptionsWhenDeletingGroupsProcessDefinitionsByIds:
    after deleting some versions, each tenant-or-shared key starts on its latest remaining one
    (T1's `messageStart` v2 of 3, the shared v3 of 3 for T2, T1's `anotherKey` v1 of 3)."""
    deployments: dict[str, list[tuple[str, str]]] = {"T1": [], "shared": [], "another": []}
    models = {
        "T1": ("T1", camunda_message_start()),
        "shared": (None, camunda_message_start()),
        "another": ("T1", camunda_message_start("anotherKey", message="sophisticated message")),
    }
    for name, (tenant, model) in models.items():
        for _ in range(3):
            body = await deploy_model(client, callers.admin, {"m.bpmn": model}, tenant=tenant)
            [definition_id] = body["deployedProcessDefinitions"]
            deployments[name].append((body["id"], definition_id))
    doomed = [("T1", 0), ("T1", 2), ("shared", 1), ("another", 1), ("another", 2)]
    for name, version in doomed:
        gone = await client.delete(
            f"/deployment/{deployments[name][version][0]}", headers=callers.admin
        )
        assert gone.status_code == 204, gone.text
    for caller, body, expected in (
        (callers.t1, {}, deployments["T1"][1][1]),
        (callers.t2, {}, deployments["shared"][2][1]),
        (callers.t1, {"messageName": "sophisticated message"}, deployments["another"][0][1]),
    ):
        [result] = await correlated(client, caller, **body)
        assert result["processInstance"]["definitionId"] == expected, body


# --------------------------------------------------------------------------- tenant checks


async def test_a3_c6_a_user_without_tenants_correlates_to_nothing(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest.correlateMessageToIntermediateCatchEventNoAuthenticatedTenants
    / correlateMessageToStartEventNoAuthenticatedTenants /
    correlateMessageToStartAndIntermediateCatchEventWithNoAuthenticatedTenants. Camunda: the
    shared definition's waiting instance and start event (no tenant) receive the message;
    DESIGN §3: a user of no tenant sees no waiting instance (A3) and has no tenant to start an
    instance in (C6): 400 for a single correlation; `all` reaches nothing (Camunda's
    correlateAll is no error without a match); nothing changes."""
    for tenant in ("T1", "T2", None):
        await deploy(client, callers.admin, tenant, camunda_message_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.t2, "messageCatch")
    await start(client, callers.admin, "messageCatch", tenant="T3")
    assert_problem(await correlate(client, callers.none), 400)
    for tenant in ("T1", "T2", None):
        await deploy(client, callers.admin, tenant, camunda_message_start())
    assert_problem(await correlate(client, callers.none), 400)
    assert (await correlate(client, callers.none, all=True)).status_code == 204
    assert await reached(client, callers.admin) == []
    assert len(await instances_of(client, callers.admin, "messageCatch")) == 3


async def test_d1_a_member_of_t1_reaches_t1s_waiting_instance(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest.correlateMessageToIntermediateCatchEventWithAuthenticatedTenant:
    T2's waiting instance, invisible to T1's member, does not make the correlation ambiguous."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_catch())
    await deploy(client, callers.admin, "T2", camunda_message_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.t2, "messageCatch")
    await correlated(client, callers.t1)
    assert await reached(client, callers.admin) == [("T1", t1["messageCatch"])]


async def test_d3_all_as_a_member_of_t1_reaches_t1_only(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest.correlateMessageToStartAndIntermediateCatchEventWithAuthenticatedTenant."""
    await deploy(client, callers.admin, "T2", camunda_message_start(), camunda_message_catch())
    t1 = await deploy(client, callers.admin, "T1", camunda_message_start(), camunda_message_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.t2, "messageCatch")
    assert len(await correlated(client, callers.t1, all=True)) == 2
    expected = sorted([("T1", t1["messageCatch"]), ("T1", t1["messageStart"])])
    assert await reached(client, callers.admin) == expected


@pytest.mark.parametrize("case", ["StartEvent", "IntermediateCatchEvent", "StartAndIntermediate"])
async def test_a6_switched_off_a_user_without_tenants_correlates_in_any_tenant(
    client: httpx.AsyncClient, callers: Callers, case: str
) -> None:
    """MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest.correlateMessageToStartEventDisabledTenantCheck
    / correlateMessageToIntermediateCatchEventDisabledTenantCheck (both with tenantId T1) /
    correlateMessageToStartAndIntermediateCatchEventDisabledTenantCheck (all: every tenant)."""
    models = {
        "StartEvent": (camunda_message_start(),),
        "IntermediateCatchEvent": (camunda_message_catch(),),
        "StartAndIntermediate": (camunda_message_start(), camunda_message_catch()),
    }[case]
    ids = {t: await deploy(client, callers.admin, t, *models) for t in ("T1", "T2")}
    if case != "StartEvent":
        await start(client, callers.t1, "messageCatch")
        await start(client, callers.t2, "messageCatch")
    body = {"all": True} if case == "StartAndIntermediate" else {"tenantId": "T1"}
    async with open_client(switched_off()) as (_, off):
        await correlated(off, callers.none, **body)
    tenants = ("T1", "T2") if case == "StartAndIntermediate" else ("T1",)
    expected = sorted((t, ids[t][key]) for t in tenants for key in ids[t])
    assert await reached(client, callers.admin) == expected


async def test_d6_correlating_to_another_tenants_instance_is_like_an_unknown_one(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancyMessageCorrelationCmdTenantCheckTest.failToCorrelateMessageByProcessInstanceIdNoAuthenticatedTenants
    ("Cannot correlate message") and correlateMessageByProcessInstanceIdWithAuthenticatedTenant.
    DESIGN §3: the same 400 as for a random instance id, for a member of T2 too."""
    t1 = await deploy(client, callers.admin, "T1", camunda_message_catch())
    started = await start(client, callers.t1, "messageCatch")
    for outsider in (callers.none, callers.t2):
        seen = await correlate(client, outsider, processInstanceId=started["id"])
        random = await correlate(client, outsider, processInstanceId=str(uuid.uuid4()))
        assert_problem(seen, 400)
        assert seen.content == random.content
    assert await reached(client, callers.admin) == []
    [result] = await correlated(client, callers.t1, processInstanceId=started["id"])
    assert result["execution"]["processInstanceId"] == started["id"]
    assert await reached(client, callers.admin) == [("T1", t1["messageCatch"])]


async def test_c7_a_waiting_instances_subscriptions_belong_to_its_tenant(
    client: httpx.AsyncClient, callers: Callers, seed: Seed
) -> None:
    """MT.MultiTenancyExecutionPropagationTest.testPropagateTenantIdToIntermediateMessageEventSubscription
    / ...IntermediateSignalEventSubscription (rows read directly: there is no event subscription
    query). On instances of shared definitions: the tenant each was started for (C6)."""
    await deploy(client, callers.admin, None, camunda_message_catch(), camunda_signal_catch())
    await start(client, callers.t1, "messageCatch")
    await start(client, callers.admin, "signalCatch", tenant="T3")
    async with seed() as session:
        rows = await session.execute(
            select(EventSubscription.event_type, EventSubscription.event_name)
            .add_columns(EventSubscription.tenant_id)
            .order_by(EventSubscription.event_type)
        )
        found = [tuple(row) for row in rows]
    assert found == [("message", MESSAGE, "T1"), ("signal", SIGNAL, "T3")]


# =========================================================================== signals
# MT.MultiTenancySignalReceiveTest and MT.tenantcheck.MultiTenancySignalReceiveCmdTenantCheckTest.
# `signalStart` starts on the signal; `signalCatch` waits for it in `wait`; `signalThrow`
# throws it.


async def test_d4_a_signal_starts_a_tenants_definition(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToStartEventWithoutTenantIdForTenant (admin)."""
    own = await deploy(client, callers.admin, "T1", camunda_signal_start())
    await send_signal(client, callers.admin)
    assert await instances_of(client, callers.admin, "signalStart") == [("T1", own["signalStart"])]


async def test_c6_d4_a_signal_starts_a_shared_definition_in_the_callers_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToStartEventWithoutTenantIdForNonTenant.
    Camunda: one instance without tenant; DESIGN §3 (C6): one instance in T1, the only tenant
    of the caller."""
    shared = await deploy(client, callers.admin, None, camunda_signal_start())
    await send_signal(client, callers.t1)
    expected = [("T1", shared["signalStart"])]
    assert await instances_of(client, callers.admin, "signalStart") == expected


async def test_c6_d4_a_signal_from_a_member_of_two_tenants_starts_a_shared_definition_in_each(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToStartEventWithoutTenantIdForNonTenant, sent by
    a member of T1 and T2. Camunda: one instance without tenant; DESIGN §3 (D4, C6): the signal
    reaches every tenant the caller may see, and the shared definition is effective in both, so
    it starts once in each."""
    shared = await deploy(client, callers.admin, None, camunda_signal_start())
    await send_signal(client, callers.t12)
    expected = [("T1", shared["signalStart"]), ("T2", shared["signalStart"])]
    assert await instances_of(client, callers.admin, "signalStart") == expected


async def test_d4_with_tenant_id_a_signal_starts_only_that_tenants_definition(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToStartEventForTenant."""
    t1 = await deploy(client, callers.admin, "T1", camunda_signal_start())
    t2 = await deploy(client, callers.admin, "T2", camunda_signal_start())
    await send_signal(client, callers.t12, tenantId="T1")
    expected = [("T1", t1["signalStart"])]
    assert await instances_of(client, callers.admin, "signalStart") == expected
    await send_signal(client, callers.t12, tenantId="T2")
    expected.append(("T2", t2["signalStart"]))
    assert await instances_of(client, callers.admin, "signalStart") == expected


async def test_c4_d4_without_tenant_id_a_signal_starts_only_the_shared_definition(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToStartEventForNonTenant. Camunda: the shared
    definition's instance has no tenant; DESIGN §3 (C4): it belongs to the caller's tenant."""
    shared = await deploy(client, callers.admin, None, camunda_signal_start())
    await deploy(client, callers.admin, "T1", camunda_signal_start())
    await send_signal(client, callers.t1, withoutTenantId=True)
    expected = [("T1", shared["signalStart"])]
    assert await instances_of(client, callers.admin, "signalStart") == expected


@pytest.mark.parametrize("tenant", ["T1", None], ids=["ForTenant", "ForNonTenant"])
async def test_d4_a_signal_reaches_the_instance_waiting_for_it(
    client: httpx.AsyncClient, callers: Callers, tenant: str | None
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToIntermediateCatchEventWithoutTenantIdForTenant
    / ...ForNonTenant (as admin). Camunda: the shared definition's instance has no tenant;
    DESIGN §3 (C6): it is T1's, which started it."""
    ids = await deploy(client, callers.admin, tenant, camunda_signal_catch())
    await start(client, callers.t1, "signalCatch")
    await send_signal(client, callers.admin)
    assert await reached(client, callers.admin) == [("T1", ids["signalCatch"])]


async def test_d4_with_tenant_id_a_signal_reaches_only_that_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToIntermediateCatchEventForTenant and
    sendSignalToStartAndIntermediateCatchEventForTenant."""
    ids = {
        t: await deploy(client, callers.admin, t, camunda_signal_start(), camunda_signal_catch())
        for t in ("T1", "T2")
    }
    await start(client, callers.t1, "signalCatch")
    await start(client, callers.t2, "signalCatch")
    await send_signal(client, callers.t12, tenantId="T1")
    expected = sorted(("T1", d) for d in ids["T1"].values())
    assert await reached(client, callers.admin) == expected
    await send_signal(client, callers.t12, tenantId="T2")
    expected = sorted(expected + [("T2", d) for d in ids["T2"].values()])
    assert await reached(client, callers.admin) == expected


async def test_c6_d4_without_tenant_id_a_signal_reaches_no_waiting_instance(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToIntermediateCatchEventForNonTenant and
    sendSignalToStartAndIntermediateCatchEventForNonTenant. Camunda: the shared definition's
    waiting instance and start event (tasks without tenant); DESIGN §3 (C6): that instance is
    T1's, so only the shared start event, started for T1."""
    shared = await deploy(
        client, callers.admin, None, camunda_signal_start(), camunda_signal_catch()
    )
    await deploy(client, callers.admin, "T1", camunda_signal_start(), camunda_signal_catch())
    await start(client, callers.t1, "signalCatch", withoutTenantId=True)
    await start(client, callers.t1, "signalCatch")
    await send_signal(client, callers.t1, withoutTenantId=True)
    assert await reached(client, callers.admin) == [("T1", shared["signalStart"])]


async def test_d4_a_signal_reaches_every_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.sendSignalToStartEventsForMultipleTenants,
    sendSignalToIntermediateCatchEventsForMultipleTenants and
    sendSignalToStartAndIntermediateCatchEventForMultipleTenants (as admin): T1 has a waiting
    instance, T2 one and a start event."""
    t1 = await deploy(client, callers.admin, "T1", camunda_signal_catch())
    t2 = await deploy(client, callers.admin, "T2", camunda_signal_start(), camunda_signal_catch())
    await start(client, callers.t1, "signalCatch")
    await start(client, callers.t2, "signalCatch")
    await send_signal(client, callers.admin)
    expected = sorted(
        [("T1", t1["signalCatch"]), ("T2", t2["signalCatch"]), ("T2", t2["signalStart"])]
    )
    assert await reached(client, callers.admin) == expected


async def test_c5_a_signal_to_one_execution_with_a_tenant_id_is_400(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.MultiTenancySignalReceiveTest.failToSendSignalWithExecutionIdForTenant ("Cannot specify
    a tenant-id when deliver a signal to a single execution"), at T1's own waiting execution."""
    await deploy(client, callers.admin, "T1", camunda_signal_catch())
    started = await start(client, callers.t1, "signalCatch")
    execution = waiting_execution(started)
    body = {"name": SIGNAL, "executionId": execution, "tenantId": "T1"}
    assert_problem(await client.post("/signal", json=body, headers=callers.t1), 400)
    assert await reached(client, callers.admin) == []


THROWS = [
    pytest.param("intermediate", id="Intermediate"),
    pytest.param("end", id="End"),
]


@pytest.mark.parametrize("at", THROWS)
async def test_d5_a_signal_thrown_in_t1_reaches_t1_only(
    client: httpx.AsyncClient, callers: Callers, at: Literal["intermediate", "end"]
) -> None:
    """MT.MultiTenancySignalReceiveTest.throwIntermediateSignalForTenant / throwEndSignalForTenant.
    Camunda: tenant1's waiting instance and start event, and the shared definitions' (without
    tenant); DESIGN §3 (D5, C6, B7): T1's waiting instances — its instance of the shared
    definition included, T3's not — and the start event of T1's effective definition, its own
    (the shared one is not started)."""
    t1 = await deploy(
        client,
        callers.admin,
        "T1",
        camunda_signal_start(),
        camunda_signal_catch(),
        camunda_signal_throw(at=at),
    )
    await deploy(client, callers.admin, "T2", camunda_signal_start(), camunda_signal_catch())
    shared = await deploy(
        client, callers.admin, None, camunda_signal_start(), camunda_signal_catch()
    )
    await start(client, callers.t1, "signalCatch")
    await start(client, callers.t1, "signalCatch", withoutTenantId=True)
    await start(client, callers.admin, "signalCatch", tenant="T3")
    await start(client, callers.t2, "signalCatch")
    await start(client, callers.t1, "signalThrow")
    expected = sorted(
        [("T1", t1["signalCatch"]), ("T1", shared["signalCatch"]), ("T1", t1["signalStart"])]
    )
    assert await reached(client, callers.admin) == expected


@pytest.mark.parametrize("at", THROWS)
async def test_d5_a_signal_thrown_by_a_shared_definition_reaches_the_tenant_it_runs_in(
    client: httpx.AsyncClient, callers: Callers, at: Literal["intermediate", "end"]
) -> None:
    """MT.MultiTenancySignalReceiveTest.throwIntermediateSignalForNonTenant /
    throwEndSignalForNonTenant. Camunda: the shared definitions' instance and start event
    (without tenant), not tenant1's; DESIGN §3 (D5, C6): the throwing instance is T2's, so T2's
    instance of the shared catch and the shared start event for T2 — T1's waiting instance
    not."""
    shared = await deploy(
        client,
        callers.admin,
        None,
        camunda_signal_start(),
        camunda_signal_catch(),
        camunda_signal_throw(at=at),
    )
    await deploy(client, callers.admin, "T1", camunda_signal_start(), camunda_signal_catch())
    await start(client, callers.t2, "signalCatch")
    await start(client, callers.t1, "signalCatch")
    await start(client, callers.t2, "signalThrow")
    expected = sorted([("T2", shared["signalCatch"]), ("T2", shared["signalStart"])])
    assert await reached(client, callers.admin) == expected


# --------------------------------------------------------------------------- tenant checks


async def test_a3_c6_a_signal_from_a_user_without_tenants_reaches_nothing(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancySignalReceiveCmdTenantCheckTest.sendSignalToStartEventNoAuthenticatedTenants
    / sendSignalToIntermediateCatchEventNoAuthenticatedTenants /
    sendSignalToStartAndIntermediateCatchEventNoAuthenticatedTenants. Camunda: the shared
    definition's start event and waiting instance (no tenant); DESIGN §3: a user of no tenant
    sees no waiting instance (A3) and has no tenant for a start (C6): nothing happens."""
    await deploy(client, callers.admin, None, camunda_signal_start(), camunda_signal_catch())
    await deploy(client, callers.admin, "T1", camunda_signal_start(), camunda_signal_catch())
    await start(client, callers.t1, "signalCatch", withoutTenantId=True)
    await start(client, callers.t1, "signalCatch")
    await send_signal(client, callers.none)
    assert await reached(client, callers.admin) == []
    assert await instances_of(client, callers.admin, "signalStart") == []


async def test_d4_a_signal_from_a_member_of_t1_reaches_t1_only(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancySignalReceiveCmdTenantCheckTest.sendSignalToStartEventWithAuthenticatedTenant
    / sendSignalToIntermediateCatchEventWithAuthenticatedTenant /
    sendSignalToStartAndIntermediateCatchEventWithAuthenticatedTenant."""
    ids = {
        t: await deploy(client, callers.admin, t, camunda_signal_start(), camunda_signal_catch())
        for t in ("T1", "T2")
    }
    await start(client, callers.t1, "signalCatch")
    await start(client, callers.t2, "signalCatch")
    await send_signal(client, callers.t1)
    assert await reached(client, callers.admin) == sorted(("T1", d) for d in ids["T1"].values())


async def test_a6_switched_off_a_signal_from_a_user_without_tenants_reaches_every_tenant(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancySignalReceiveCmdTenantCheckTest.sendSignalToStartEventDisabledTenantCheck
    / sendSignalToIntermediateCatchEventDisabledTenantCheck /
    sendSignalToStartAndIntermediateCatchEventDisabledTenantCheck."""
    ids = {
        t: await deploy(client, callers.admin, t, camunda_signal_start(), camunda_signal_catch())
        for t in ("T1", "T2")
    }
    await start(client, callers.t1, "signalCatch")
    await start(client, callers.t2, "signalCatch")
    async with open_client(switched_off()) as (_, off):
        await send_signal(off, callers.none)
    expected = sorted((t, d) for t in ids for d in ids[t].values())
    assert await reached(client, callers.admin) == expected


async def test_c9_a_signal_to_another_tenants_execution_is_like_an_unknown_one(
    client: httpx.AsyncClient, callers: Callers
) -> None:
    """MT.tenantcheck.MultiTenancySignalReceiveCmdTenantCheckTest.failToSendSignalToIntermediateCatchEventWithExecutionIdAndNoAuthenticatedTenants
    ("Cannot update the process instance") and
    sendSignalToIntermediateCatchEventWithExecutionIdAndAuthenticatedTenant. DESIGN §3: the
    refusal of a random execution id (404), for a member of T2 too."""
    t1 = await deploy(client, callers.admin, "T1", camunda_signal_catch())
    started = await start(client, callers.t1, "signalCatch")
    execution = waiting_execution(started)
    for outsider in (callers.none, callers.t2):

        async def send(execution_id: str, outsider: Headers = outsider) -> httpx.Response:
            body = {"name": SIGNAL, "executionId": execution_id}
            return await client.post("/signal", json=body, headers=outsider)

        await assert_like_unknown(send, execution)
    assert await reached(client, callers.admin) == []
    await send_signal(client, callers.t1, executionId=execution)
    assert await reached(client, callers.admin) == [("T1", t1["signalCatch"])]


# =========================================================================== external tasks
# MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest: T1's instance of
# twoExternalTaskProcess (Camunda starts it without authentication; here T1's member does).

WORKER = "aWorkerId"
LOCK_MS = 10_000
ERROR_MESSAGE = "errorMessage"
ERROR_DETAILS = "anErrorDetail"


def fetch_body(max_tasks: int = 1, *, worker: str = WORKER, **topic: Any) -> dict[str, Any]:
    return {
        "workerId": worker,
        "maxTasks": max_tasks,
        "topics": [{"topicName": TOPIC, "lockDuration": LOCK_MS, **topic}],
    }


async def fetch(
    client: httpx.AsyncClient, headers: Headers, max_tasks: int = 1, **topic: Any
) -> list[dict[str, Any]]:
    """`POST /external-task/fetchAndLock` on Camunda's topic as `aWorkerId`: the locked tasks."""
    response = await client.post(
        "/external-task/fetchAndLock", json=fetch_body(max_tasks, **topic), headers=headers
    )
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


@pytest.fixture
async def waiting(client: httpx.AsyncClient, callers: Callers) -> str:
    """T1's instance of twoExternalTaskProcess, its external task not locked: the instance id."""
    await deploy(client, callers.admin, "T1", two_external_tasks())
    return str((await start(client, callers.t1, "twoExternalTaskProcess"))["id"])


@dataclass(frozen=True, slots=True)
class Locked:
    """`waiting`'s external task, fetched and locked by an admin as `aWorkerId`."""

    instance_id: str
    task_id: str
    lock_expiration_time: str


@pytest.fixture
async def locked(client: httpx.AsyncClient, callers: Callers, waiting: str) -> Locked:
    [task] = await fetch(client, callers.admin)
    return Locked(waiting, task["id"], task["lockExpirationTime"])


# --------------------------------------------------------------------------- fetch and lock


async def test_a1_a3_fetch_and_lock_gets_the_callers_tenants_tasks_only(
    client: httpx.AsyncClient, callers: Callers, waiting: str
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.testFetchAndLockWithNoAuthenticatedTenant
    / testFetchAndLockWithDifferentTenant / testFetchAndLockWithAuthenticatedTenant, and
    MT.MultiTenancyExecutionPropagationTest.testPropagateTenantIdToExternalTask."""
    for outsider in (callers.none, callers.t2):
        assert await fetch(client, outsider) == []
    [task] = await fetch(client, callers.t1)
    seen = (task["processInstanceId"], task["tenantId"], task["workerId"], task["topicName"])
    assert seen == (waiting, "T1", WORKER, TOPIC)
    assert task["activityId"] == "externalTask"


@pytest.mark.parametrize("who", ["switched-off", "admin"])
async def test_a4_a6_fetch_and_lock_with_the_check_off_gets_t1s_task(
    client: httpx.AsyncClient, callers: Callers, waiting: str, who: str
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.testFetchAndLockWithDisabledTenantCheck
    (a user of no tenant, switched off) and MultiTenancyCommandTenantCheckTest
    .disableTenantCheckForCamundaAdmin."""
    if who == "admin":
        tasks = await fetch(client, callers.admin)
    else:
        async with open_client(switched_off()) as (_, off):
            tasks = await fetch(off, callers.none)
    assert [(t["processInstanceId"], t["tenantId"]) for t in tasks] == [(waiting, "T1")]


async def test_a9_c6_fetch_without_tenant_id_gets_nothing(
    client: httpx.AsyncClient, callers: Callers, waiting: str
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.testFetchAndLockWithoutTenantId.
    Camunda: tasks without tenant (none here); DESIGN §3 (C6): no external task is without
    tenant, not even that of an instance of a shared definition (here T1's)."""
    await deploy(client, callers.admin, None, one_external_task())
    await start(client, callers.t1, "oneExternalTaskProcess")
    for caller in (callers.t1, callers.admin):
        assert await fetch(client, caller, 5, withoutTenantId=True) == []


async def test_a7_a8_fetch_with_tenant_id_in(
    client: httpx.AsyncClient, callers: Callers, waiting: str
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.testFetchAndLockWithTenantId /
    testFetchAndLockWithTenantIdIn / testFetchAndLockWithTenantIdInTwoTenants. Besides T1's
    task: T2's instance of its own oneExternalTaskProcess and T3's of the shared one (Camunda:
    of a shared definition, without tenant). T1's member gets T1's task even when asking for
    T1 and T2 (A7); an admin gets T1's and T2's, not T3's."""
    await deploy(client, callers.admin, "T2", one_external_task())
    await deploy(client, callers.admin, None, one_external_task())
    in_t2 = await start(client, callers.t2, "oneExternalTaskProcess")
    in_t3 = await start(client, callers.admin, "oneExternalTaskProcess", tenant="T3")
    [mine] = await fetch(client, callers.t1, 5, tenantIdIn=["T1", "T2"])
    assert (mine["processInstanceId"], mine["tenantId"]) == (waiting, "T1")
    unlocked = await client.post(f"/external-task/{mine['id']}/unlock", headers=callers.t1)
    assert unlocked.status_code == 204, unlocked.text
    tasks = await fetch(client, callers.admin, 5, tenantIdIn=["T1", "T2"])
    seen = sorted((t["tenantId"], t["processInstanceId"]) for t in tasks)
    assert seen == [("T1", waiting), ("T2", in_t2["id"])]
    [rest] = await fetch(client, callers.admin, 5, tenantIdIn=["T3", "nonExisting"])
    assert (rest["tenantId"], rest["processInstanceId"]) == ("T3", in_t3["id"])


async def test_g2_a_system_worker_fetches_for_every_tenant_and_completes_as_the_starter(
    client: httpx.AsyncClient, callers: Callers, waiting: str, seed: Seed, settings: Settings
) -> None:
    """No Camunda method: Camunda's workers fetch without authentication, for every tenant.
    DESIGN §3 / §5 (G2): a member of a SYSTEM_WORKER_GROUPS group, of no tenant, fetches every
    tenant's tasks, each carrying its tenantId; its completion runs in the task's tenant on
    behalf of the instance's starter. An ordinary user of no tenant fetches nothing."""
    await deploy(client, callers.admin, "T2", one_external_task())
    await start(client, callers.t2, "oneExternalTaskProcess")
    worker = await member(seed, settings, "robot", groups=["system-workers"])
    async with open_client(make_settings(system_worker_groups=["system-workers"])) as (_, app):
        assert await fetch(app, callers.none, 10) == []
        tasks = await fetch(app, worker, 10)
        assert sorted(t["tenantId"] for t in tasks) == ["T1", "T2"]
        [task] = [t for t in tasks if t["tenantId"] == "T1"]
        done = await app.post(
            f"/external-task/{task['id']}/complete", json={"workerId": WORKER}, headers=worker
        )
        assert done.status_code == 204, done.text
    [after] = await tasks_of(client, callers.t1)
    assert (after["taskDefinitionKey"], after["tenantId"]) == ("afterExternalTask", "T1")
    [log] = await get_json(client, "/history/external-task-log", callers.t1, successLog="true")
    seen = (log["externalTaskId"], log["tenantId"], log["workerId"], log["userId"])
    assert seen == (task["id"], "T1", WORKER, "t1-user")


# --------------------------------------------------------------------------- commands
# Each command's ...WithAuthenticatedTenant, ...WithNoAuthenticatedTenant (Camunda: "Cannot
# update the process instance '<id>' because it belongs to no authenticated tenant."; DESIGN
# §3: 404 with the body of a random id (`assert_like_unknown`), for a user of no tenant and
# for T2's member — both naming the lock's worker id, so only the tenant check stands in the
# way — and nothing changes) and ...WithDisabledTenantCheck (switched off; and an admin).

Verify = Callable[[httpx.AsyncClient, Headers, Locked, httpx.Response], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    camunda: str  # the Camunda test methods' stem
    method: str
    path: str  # "{}" is the external task's id
    body: Any
    verify: Verify  # run as T1's member afterwards: the command took effect


def external_task_has(**expected: Any) -> Verify:
    async def verify(client: httpx.AsyncClient, viewer: Headers, lk: Locked, _: Any) -> None:
        found = await get_json(client, f"/external-task/{lk.task_id}", viewer)
        assert {k: found[k] for k in expected} == expected, found

    return verify


def moved_on_to(activity: str) -> Verify:
    async def verify(client: httpx.AsyncClient, viewer: Headers, lk: Locked, _: Any) -> None:
        assert await get_json(client, "/external-task/count", viewer) == {"count": 0}
        [task] = await tasks_of(client, viewer, processInstanceId=lk.instance_id)
        assert task["taskDefinitionKey"] == activity

    return verify


async def fetched_again_with_the_error(
    client: httpx.AsyncClient, viewer: Headers, lk: Locked, _: Any
) -> None:
    [task] = await fetch(client, viewer)
    seen = (task["id"], task["errorMessage"], task["errorDetails"], task["retries"])
    assert seen == (lk.task_id, ERROR_MESSAGE, ERROR_DETAILS, 1)


async def unlocked(client: httpx.AsyncClient, viewer: Headers, lk: Locked, _: Any) -> None:
    assert await get_json(client, "/external-task/count", viewer, locked="true") == {"count": 0}
    assert await get_json(client, "/external-task/count", viewer, notLocked="true") == {"count": 1}


async def lock_extended(client: httpx.AsyncClient, viewer: Headers, lk: Locked, _: Any) -> None:
    found = await get_json(client, f"/external-task/{lk.task_id}", viewer)
    assert found["lockExpirationTime"] > lk.lock_expiration_time, found


async def read_as_t1s(
    _c: httpx.AsyncClient, _v: Headers, lk: Locked, response: httpx.Response
) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["tenantId"], body["workerId"]) == (lk.task_id, "T1", WORKER)


EXTERNAL_TASK_COMMANDS: list[Any] = [
    pytest.param(
        Command("(ExternalTaskQuery by id)", "GET", "/external-task/{}", None, read_as_t1s),
        id="getExternalTask",
    ),
    pytest.param(
        Command(
            "testComplete",
            "POST",
            "/external-task/{}/complete",
            {"workerId": WORKER},
            moved_on_to("afterExternalTask"),
        ),
        id="complete",
    ),
    pytest.param(
        Command(
            "testHandleFailure",
            "POST",
            "/external-task/{}/failure",
            {
                "workerId": WORKER,
                "errorMessage": ERROR_MESSAGE,
                "errorDetails": ERROR_DETAILS,
                "retries": 1,
                "retryTimeout": 0,
            },
            fetched_again_with_the_error,
        ),
        id="handleFailure",
    ),
    pytest.param(
        Command(
            "testHandleBPMNError",
            "POST",
            "/external-task/{}/bpmnError",
            {"workerId": WORKER, "errorCode": ERROR_CODE},
            moved_on_to("afterBpmnError"),
        ),
        id="handleBpmnError",
    ),
    pytest.param(
        Command(
            "testSetRetries",
            "PUT",
            "/external-task/{}/retries",
            {"retries": 5},
            external_task_has(retries=5),
        ),
        id="setRetries",
    ),
    pytest.param(
        Command(
            "testSetPriority",
            "PUT",
            "/external-task/{}/priority",
            {"priority": 1},
            external_task_has(priority=1),
        ),
        id="setPriority",
    ),
    pytest.param(
        Command("testUnlock", "POST", "/external-task/{}/unlock", None, unlocked), id="unlock"
    ),
    pytest.param(
        Command(
            "(extendLock: no Camunda MT test)",
            "POST",
            "/external-task/{}/extendLock",
            {"workerId": WORKER, "newDuration": 600_000},
            lock_extended,
        ),
        id="extendLock",
    ),
]


async def observed_external_task(
    client: httpx.AsyncClient, viewer: Headers, lk: Locked
) -> list[Any]:
    """Everything a command could change, as T1's member sees it."""
    return [
        (await client.get(path, headers=viewer)).json()
        for path in (
            f"/external-task/{lk.task_id}",
            "/task",
            "/incident",
            f"/process-instance/{lk.instance_id}/activity-instances",
        )
    ]


async def send_command(
    client: httpx.AsyncClient, headers: Headers, command: Command, task_id: str
) -> httpx.Response:
    return await client.request(
        command.method, command.path.format(task_id), json=command.body, headers=headers
    )


async def run_command(
    client: httpx.AsyncClient, headers: Headers, command: Command, lk: Locked
) -> httpx.Response:
    response = await send_command(client, headers, command, lk.task_id)
    assert response.status_code in (200, 204), f"{command.camunda}: {response.text}"
    return response


@pytest.mark.parametrize("command", EXTERNAL_TASK_COMMANDS)
async def test_c9_a_command_on_t1s_external_task_is_404_for_others_and_works_for_its_member(
    client: httpx.AsyncClient, callers: Callers, locked: Locked, command: Command
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.<command>WithNoAuthenticatedTenant
    and <command>WithAuthenticatedTenant (methods: `Command.camunda`). Camunda: "Cannot update
    the process instance ... because it belongs to no authenticated tenant."; DESIGN §3: 404
    like a random id, nothing changes."""
    before = await observed_external_task(client, callers.t1, locked)
    for outsider in (callers.none, callers.t2):
        await assert_like_unknown(partial(send_command, client, outsider, command), locked.task_id)
    assert await observed_external_task(client, callers.t1, locked) == before
    response = await run_command(client, callers.t1, command, locked)
    await command.verify(client, callers.t1, locked, response)


@pytest.mark.parametrize("who", ["switched-off", "admin"])
@pytest.mark.parametrize("command", EXTERNAL_TASK_COMMANDS)
async def test_a4_a6_a_command_on_t1s_external_task_with_the_check_off(
    client: httpx.AsyncClient, callers: Callers, locked: Locked, command: Command, who: str
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.<command>WithDisabledTenantCheck
    (a user of no tenant, `TENANT_CHECK_ENABLED=false`) and MultiTenancyCommandTenantCheckTest
    .disableTenantCheckForCamundaAdmin."""
    if who == "admin":
        response = await run_command(client, callers.admin, command, locked)
    else:
        async with open_client(switched_off()) as (_, off):
            response = await run_command(off, callers.none, command, locked)
    await command.verify(client, callers.t1, locked, response)


# =========================================================================== queries
# MT.query.MultiTenancyExternalTaskQueryTest, MT.query.MultiTenancyIncidentQueryTest and
# MT.query.history.MultiTenancyHistoricExternalTaskLogTest. Camunda's data: one row (set) in
# tenant1, one in tenant2 (and, for the log, a shared definition deployed). Tessera's: T1's and
# T2's instances of their own oneExternalTaskProcess and T3's of the shared one (C6), each
# external task failed with no retries left — so it has an incident (Camunda's incident test
# fails a job instead) and two log rows, "created" and "failed".

QUERIES = [
    pytest.param("/external-task", id="ExternalTaskQueryTest"),
    pytest.param("/incident", id="IncidentQueryTest"),
    pytest.param("/history/external-task-log", id="HistoricExternalTaskLogTest"),
]
_PER_TENANT = {"/history/external-task-log": 2}


def rows_of(path: str, *tenants: str) -> list[str]:
    """The tenant ids a query of `path` returns for the rows of `tenants`, in that order."""
    return [t for t in tenants for _ in range(_PER_TENANT.get(path, 1))]


@pytest.fixture
async def failed(client: httpx.AsyncClient, callers: Callers) -> dict[str, str]:
    """The external task id per tenant (see above)."""
    for tenant in (None, "T1", "T2"):
        await deploy(client, callers.admin, tenant, one_external_task())
    for caller, tenant in ((callers.t1, None), (callers.t2, None), (callers.admin, "T3")):
        await start(client, caller, "oneExternalTaskProcess", tenant=tenant)
    tasks = await fetch(client, callers.admin, 10)
    for task in tasks:
        body = {"workerId": WORKER, "errorMessage": "failed", "retries": 0, "retryTimeout": 0}
        response = await client.post(
            f"/external-task/{task['id']}/failure", json=body, headers=callers.admin
        )
        assert response.status_code == 204, response.text
    by_tenant = {t["tenantId"]: t["id"] for t in tasks}
    assert sorted(by_tenant) == ["T1", "T2", "T3"]
    return by_tenant


async def tenants_of(
    client: httpx.AsyncClient, path: str, headers: Headers, **params: Any
) -> list[str]:
    """Tenant ids of `path`'s rows in response order, after checking `/count` (A12)."""
    return [row["tenantId"] for row in await rows_and_count(client, path, headers, **params)]


@pytest.mark.parametrize("path", QUERIES)
async def test_a4_admin_sees_every_tenants_rows_without_a_filter(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQueryWithoutTenantId / shouldQueryWithoutTenantId. Camunda: without
    authentication; DESIGN §3: an admin."""
    found = sorted(await tenants_of(client, path, callers.admin))
    assert found == rows_of(path, "T1", "T2", "T3")


@pytest.mark.parametrize("path", QUERIES)
async def test_a8_tenant_id_in_selects_those_tenants_and_unknown_ones_match_nothing(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQueryByTenantId / testQueryByTenantIds / testQueryByNonExistingTenantId
    (the log's should...)."""
    admin = callers.admin
    assert await tenants_of(client, path, admin, tenantIdIn="T1") == rows_of(path, "T1")
    assert await tenants_of(client, path, admin, tenantIdIn="T2") == rows_of(path, "T2")
    both_ = sorted(await tenants_of(client, path, admin, tenantIdIn="T1,T2"))
    assert both_ == rows_of(path, "T1", "T2")
    mine = await tenants_of(client, path, admin, tenantIdIn="T1,nonExisting")
    assert mine == rows_of(path, "T1")
    assert await tenants_of(client, path, admin, tenantIdIn="nonExisting") == []


@pytest.mark.parametrize("path", QUERIES)
async def test_a11_sort_by_tenant_id_both_ways(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQuerySortingAsc / testQuerySortingDesc (the log's should...)."""
    everything = rows_of(path, "T1", "T2", "T3")
    ascending = await tenants_of(client, path, callers.admin, sortBy="tenantId", sortOrder="asc")
    descending = await tenants_of(client, path, callers.admin, sortBy="tenantId", sortOrder="desc")
    assert (ascending, descending) == (everything, everything[::-1])


@pytest.mark.parametrize("path", QUERIES)
async def test_a3_a_user_without_tenants_sees_no_row(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQueryNoAuthenticatedTenants / shouldQueryNoAuthenticatedTenants."""
    assert await tenants_of(client, path, callers.none) == []
    assert await tenants_of(client, path, callers.none, tenantIdIn="T1,T2,T3") == []


@pytest.mark.parametrize("path", QUERIES)
async def test_a1_a7_member_of_t1_sees_t1_rows_and_filters_never_widen(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQueryAuthenticatedTenant / shouldQueryAuthenticatedTenant."""
    t1, mine = callers.t1, rows_of(path, "T1")
    assert await tenants_of(client, path, t1) == mine
    assert await tenants_of(client, path, t1, tenantIdIn="T1") == mine
    assert await tenants_of(client, path, t1, tenantIdIn="T2") == []
    assert await tenants_of(client, path, t1, tenantIdIn="T1,T2") == mine


@pytest.mark.parametrize("path", QUERIES)
async def test_a2_member_of_t1_and_t2_sees_both(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQueryAuthenticatedTenants / shouldQueryAuthenticatedTenants (T3's rows stay
    invisible)."""
    t12 = callers.t12
    assert sorted(await tenants_of(client, path, t12)) == rows_of(path, "T1", "T2")
    assert await tenants_of(client, path, t12, tenantIdIn="T2") == rows_of(path, "T2")


@pytest.mark.parametrize("path", QUERIES)
async def test_a6_switched_off_a_user_without_tenants_sees_every_row(
    callers: Callers, failed: dict[str, str], path: str
) -> None:
    """<class>.testQueryDisabledTenantCheck / shouldQueryDisabledTenantCheck."""
    async with open_client(switched_off()) as (_, off):
        found = sorted(await tenants_of(off, path, callers.none))
    assert found == rows_of(path, "T1", "T2", "T3")


@pytest.mark.parametrize("path", QUERIES[:2])
async def test_a9_without_tenant_id_matches_nothing_as_no_runtime_row_is_shared(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str], path: str
) -> None:
    """Camunda's ExternalTaskQuery and IncidentQuery have no withoutTenantId (its REST incident
    query has). DESIGN §3 (C6): no external task or incident is without tenant — T3's rows are
    of a shared definition's instance."""
    for caller in (callers.admin, callers.t12):
        assert await tenants_of(client, path, caller, withoutTenantId="true") == []


async def test_a7_a12_the_external_task_body_query_follows_the_same_rules(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str]
) -> None:
    """MT.query.MultiTenancyExternalTaskQueryTest.testQueryAuthenticatedTenant through
    `POST /external-task` (and the GET count)."""
    for body, expected in (
        ({}, ["T1"]),
        ({"tenantIdIn": ["T1", "T2"]}, ["T1"]),
        ({"tenantIdIn": ["T2"]}, []),
    ):
        listed = await client.post("/external-task", json=body, headers=callers.t1)
        assert listed.status_code == 200, listed.text
        assert [row["tenantId"] for row in listed.json()] == expected, body


async def test_c7_a_failed_external_tasks_incident_belongs_to_its_tenant(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str]
) -> None:
    """MT.MultiTenancyExecutionPropagationTest.testPropagateTenantIdToFailedExternalTaskIncident
    (and testPropagateTenantIdToExternalTask: the tasks stay, with no retries left)."""
    incidents = await get_json(client, "/incident", callers.admin)
    seen = sorted((i["tenantId"], i["incidentType"], i["configuration"]) for i in incidents)
    assert seen == [(t, "failedExternalTask", failed[t]) for t in ("T1", "T2", "T3")]
    tasks = await get_json(client, "/external-task", callers.admin, noRetriesLeft="true")
    assert sorted((t["tenantId"], t["id"], t["retries"]) for t in tasks) == sorted(
        (t, failed[t], 0) for t in failed
    )


async def test_c9_only_t1_may_set_retries_of_its_failed_task_and_resolve_the_incident(
    client: httpx.AsyncClient, callers: Callers, failed: dict[str, str]
) -> None:
    """MT.tenantcheck.MultiTenancyExternalTaskCmdsTenantCheckTest.testSetRetriesWithNoAuthenticatedTenant
    / ...WithAuthenticatedTenant on a failed task: retries > 0 resolve its incident."""
    retries = Command(
        "testSetRetries", "PUT", "/external-task/{}/retries", {"retries": 2}, read_as_t1s
    )
    for outsider in (callers.none, callers.t2):
        await assert_like_unknown(partial(send_command, client, outsider, retries), failed["T1"])
    assert await tenants_of(client, "/incident", callers.t1) == ["T1"]
    response = await send_command(client, callers.t1, retries, failed["T1"])
    assert response.status_code == 204, response.text
    assert sorted(await tenants_of(client, "/incident", callers.admin)) == ["T2", "T3"]
