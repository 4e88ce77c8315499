"""Listeners, the outbox and delivery (CONFORMANCE G5, G2): a real arq worker in burst mode
on the suite's Redis, and a real HTTP receiver on loopback (which only an admin's
`allowPrivateNetwork` lets a webhook reach)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update

from app.core import outbound
from app.core.config import Settings
from app.models import (
    Listener,
    ListenerDelivery,
    OutboxEvent,
    TenantGroupMembership,
    TenantUserMembership,
)
from app.services import outbox
from tests.api.conftest import Headers, Seed, TenantMember, assert_problem, table_rows
from tests.api.runtime_fixtures import deploy_model, one_task, process, start
from tests.api.worker_fixtures import drain, run_worker, sweep_once

# --------------------------------------------------------------------------- the receiver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 that records every request and answers each path with
    the next status queued for it (200 once the queue is empty)."""

    port: int
    requests: list[Received] = field(default_factory=list)
    statuses: dict[str, list[int]] = field(default_factory=dict)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                queued = state.statuses.get(self.path)
                code = queued.pop(0) if queued else 200
            self.send_response(code)
            if code in (301, 302):
                self.send_header("Location", state.url("/redirected"))
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --------------------------------------------------------------------------- the worker


async def sweep_then_run(settings: Settings) -> None:
    """What the cron sweeper does every few seconds, then a worker run."""
    await sweep_once(settings)
    await run_worker(settings)


async def make_due(seed: Seed) -> None:
    """Time passes: every pending delivery's backoff is over."""
    async with seed() as session:
        await session.execute(
            update(ListenerDelivery)
            .where(ListenerDelivery.status == "pending")
            .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )


# --------------------------------------------------------------------------- helpers


async def create(
    client: httpx.AsyncClient, headers: Headers, *, expect: int = 201, **body: Any
) -> dict[str, Any]:
    response = await client.post("/listeners", json=body, headers=headers)
    if expect >= 400:
        assert_problem(response, expect)
    else:
        assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


def webhook(
    url: str, *, events: list[str], tenant: str | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"eventTypes": events, "action": "webhook", "target": {"url": url}, **extra}
    if tenant is not None:
        body["tenantId"] = tenant
    return body


async def deliveries(
    client: httpx.AsyncClient, headers: Headers, listener_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/listeners/{listener_id}/deliveries", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def events_of(seed: Seed) -> list[tuple[str, str | None, str | None]]:
    """(type, tenant, actor) of every outbox event, oldest first."""
    async with seed() as session:
        rows = await session.execute(
            select(OutboxEvent.event_type, OutboxEvent.tenant_id, OutboxEvent.actor).order_by(
                OutboxEvent.created_at, OutboxEvent.id
            )
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def complete_only_task(client: httpx.AsyncClient, headers: Headers, key: str) -> None:
    tasks = await client.get("/task", params={"processDefinitionKey": key}, headers=headers)
    [task] = tasks.json()
    done = await client.post(f"/task/{task['id']}/complete", json={}, headers=headers)
    assert done.status_code == 204, done.text


# --------------------------------------------------------------------------- G5


async def test_G5_event_in_t1_reaches_only_t1_listeners_and_system_listeners(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    settings: Settings,
    receiver: Receiver,
) -> None:
    heard = ["process-instance.*", "task.created"]
    private = {"allowPrivateNetwork": True}
    system = await create(
        client, admin, **webhook(receiver.url("/system"), events=["*"], **private)
    )
    await create(
        client, admin, **webhook(receiver.url("/t1"), events=heard, tenant="T1", **private)
    )
    await create(
        client, admin, **webhook(receiver.url("/t2"), events=heard, tenant="T2", **private)
    )
    await deploy_model(client, admin, {"w.bpmn": one_task("w")})  # shared: a system event
    instance = (await start(client, tenant_a.headers, "w"))["id"]
    await run_worker(settings)

    def seen(path: str) -> set[tuple[str, str | None]]:
        return {(r.json["type"], r.json["tenantId"]) for r in receiver.at(path)}

    mine = {("process-instance.started", "T1"), ("task.created", "T1")}
    assert seen("/t1") == mine
    assert seen("/t2") == set()
    assert seen("/system") == {*mine, ("deployment.created", None)}
    started = next(r.json for r in receiver.at("/t1") if r.json["type"].startswith("process"))
    assert started["payload"]["processInstanceId"] == instance
    assert started["actor"] == "t1-user"
    # T1 sees the system listener's deliveries of T1's events, not those of the system space.
    theirs = await deliveries(client, tenant_a.headers, system["id"])
    assert {d["tenantId"] for d in theirs} == {"T1"} and len(theirs) == 2
    assert len(await deliveries(client, admin, system["id"])) == 3
    assert await deliveries(client, tenant_b.headers, system["id"]) == []


async def test_G5_delivery_at_least_once_duplicates_harmless(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    receiver: Receiver,
    seed: Seed,
) -> None:
    receiver.statuses["/hook"] = [500, 200]
    listener = await create(
        client,
        admin,
        **webhook(receiver.url("/hook"), events=["task.created"], tenant="T1"),
        allowPrivateNetwork=True,
    )
    await deploy_model(client, admin, {"w.bpmn": one_task("w")}, tenant="T1")
    await start(client, tenant_a.headers, "w")
    await run_worker(settings)
    [first] = receiver.at("/hook")
    [pending] = await deliveries(client, tenant_a.headers, listener["id"])
    assert (pending["status"], pending["attempts"]) == ("pending", 1)
    assert "HTTP 500" in pending["error"]
    assert datetime.fromisoformat(pending["dueAt"]) > datetime.now(UTC)  # backing off

    await make_due(seed)
    await sweep_then_run(settings)
    first_again = receiver.at("/hook")[1]
    assert first_again.headers["Tessera-Event-Id"] == first.headers["Tessera-Event-Id"]
    assert first_again.json["id"] == first.headers["Tessera-Event-Id"]
    [done] = await deliveries(client, tenant_a.headers, listener["id"])
    assert (done["status"], done["attempts"], done["responseStatus"]) == ("succeeded", 2, 200)

    # The event dispatched again (a crash before its dispatch committed): no second delivery.
    async with seed() as session:
        await session.execute(update(OutboxEvent).values(dispatched_at=None))
    await sweep_then_run(settings)
    assert len(await deliveries(client, admin, listener["id"])) == 1
    assert len(receiver.at("/hook")) == 2
    async with seed() as session:
        undispatched = select(OutboxEvent).where(OutboxEvent.dispatched_at.is_(None))
        assert (await session.scalars(undispatched)).all() == []


async def test_G5_dead_letter_after_max_attempts_then_retry(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    receiver: Receiver,
    seed: Seed,
) -> None:
    receiver.statuses["/dead"] = [503, 503, 200]
    listener = await create(
        client,
        admin,
        **webhook(receiver.url("/dead"), events=["task.*"], tenant="T1"),
        allowPrivateNetwork=True,
        maxAttempts=2,
    )
    await deploy_model(client, admin, {"w.bpmn": one_task("w")}, tenant="T1")
    await start(client, tenant_a.headers, "w")
    await run_worker(settings)
    await make_due(seed)
    await sweep_then_run(settings)
    [dead] = await deliveries(client, tenant_a.headers, listener["id"], status="failed")
    assert (dead["attempts"], dead["eventType"], dead["responseStatus"]) == (2, "task.created", 503)
    assert await deliveries(client, tenant_a.headers, listener["id"], status="pending") == []
    await sweep_then_run(settings)  # a dead letter is not attempted again
    assert len(receiver.at("/dead")) == 2

    path = f"/listeners/{listener['id']}/deliveries/{dead['id']}/retry"
    retried = await client.post(path, headers=tenant_a.headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    await run_worker(settings)  # the retry woke the tenant's slice
    [done] = await deliveries(client, tenant_a.headers, listener["id"])
    assert (done["status"], done["attempts"]) == ("succeeded", 1)
    assert_problem(await client.post(path, headers=tenant_a.headers), 409)


async def test_G5_webhook_is_signed_so_the_receiver_can_verify_it(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    receiver: Receiver,
) -> None:
    secret = "a-shared-secret-only-the-receiver-knows"
    listener = await create(
        client,
        admin,
        **webhook(receiver.url("/signed"), events=["task.created"], tenant="T1"),
        allowPrivateNetwork=True,
        secret=secret,
    )
    assert listener["hasSecret"] is True and "secret" not in listener
    await deploy_model(client, admin, {"w.bpmn": one_task("w")}, tenant="T1")
    await start(client, tenant_a.headers, "w")
    await run_worker(settings)
    [call] = receiver.at("/signed")
    # What a receiver does, with nothing but the secret and the standard library:
    parts = dict(part.split("=", 1) for part in call.headers["Tessera-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + call.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - datetime.now(UTC).timestamp()) < 60
    body = call.json
    assert set(body) == {"id", "type", "tenantId", "actor", "createdAt", "payload"}
    assert (body["type"], body["tenantId"], body["actor"]) == ("task.created", "T1", "t1-user")
    assert body["id"] == call.headers["Tessera-Event-Id"]
    assert call.headers["Content-Type"] == "application/json"


# --------------------------------------------------------------------------- G2


def _ends_at_once(key: str) -> bytes:
    return process(
        key,
        """
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end" />
""",
    )


async def test_a_listener_that_starts_what_it_hears_stops_after_a_chain_of_three(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, settings: Settings
) -> None:
    """Starting `loop` emits process-instance.started, which starts `loop` ... The event of
    the third start by a listener reaches no acting listener: 1 + 3 instances, not forever."""
    await deploy_model(client, admin, {"l.bpmn": one_task("loop")}, tenant="T1")
    await create(
        client,
        tenant_a.headers,
        tenantId="T1",
        eventTypes=["process-instance.started"],
        action="start-process",
        target={"processDefinitionKey": "loop"},
    )
    await start(client, tenant_a.headers, "loop")
    await drain(settings)
    started = await client.get(
        "/history/process-instance", params={"processDefinitionKey": "loop"}, headers=admin
    )
    assert len(started.json()) == 1 + outbox.MAX_CHAIN


async def test_G2_a_listener_acts_as_the_events_actor_only_while_still_a_member(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    seed: Seed,
) -> None:
    await deploy_model(
        client, admin, {"w.bpmn": one_task("w"), "f.bpmn": _ends_at_once("follow")}, tenant="T1"
    )
    listener = await create(
        client,
        tenant_a.headers,
        tenantId="T1",
        eventTypes=["task.completed"],
        action="start-process",
        target={"processDefinitionKey": "follow"},
    )
    await start(client, tenant_a.headers, "w")
    await complete_only_task(client, tenant_a.headers, "w")
    await run_worker(settings)
    [followed] = (
        await client.get(
            "/history/process-instance", params={"processDefinitionKey": "follow"}, headers=admin
        )
    ).json()
    [done] = await deliveries(client, admin, listener["id"])
    assert followed["tenantId"] == "T1" and followed["startUserId"] == "t1-user"
    assert followed["businessKey"] == done["eventId"]  # a duplicate would show as such

    await start(client, tenant_a.headers, "w")
    await complete_only_task(client, tenant_a.headers, "w")
    async with seed() as session:  # t1-user leaves T1 before the worker runs
        await session.execute(
            delete(TenantUserMembership).where(TenantUserMembership.user_id == "t1-user")
        )
        await session.execute(
            delete(TenantGroupMembership).where(TenantGroupMembership.group_id == "t1-group")
        )
    await run_worker(settings)
    history = await client.get(
        "/history/process-instance", params={"processDefinitionKey": "follow"}, headers=admin
    )
    assert len(history.json()) == 1  # nothing started in the name of a former member
    [refused] = await deliveries(client, admin, listener["id"], status="failed")
    assert refused["attempts"] == 1  # for good: retrying cannot make them a member again
    assert "may no longer act in tenant 'T1'" in refused["error"]


# --------------------------------------------------------------------------- isolation


async def test_G5_listeners_are_isolated_like_every_shareable_resource(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    seed: Seed,
) -> None:
    public = "https://93.184.215.14/hook"  # an address literal: no DNS needed
    mine = await create(client, tenant_a.headers, **webhook(public, events=["*"], tenant="T1"))
    assert mine["tenantId"] == "T1" and mine["allowPrivateNetwork"] is False
    system = await create(
        client, admin, **webhook("https://93.184.215.14/admin", events=["*"]), secret="hidden"
    )
    path = f"/listeners/{mine['id']}"
    unknown = "/listeners/00000000-0000-0000-0000-000000000000"
    for method, body in (("GET", None), ("PUT", {"enabled": False}), ("DELETE", None)):
        theirs = await client.request(method, path, json=body, headers=tenant_b.headers)
        missing = await client.request(method, unknown, json=body, headers=tenant_b.headers)
        assert_problem(theirs, 404)
        assert theirs.content == missing.content
    assert_problem(await client.get(f"{path}/deliveries", headers=tenant_b.headers), 404)
    listed = await client.get("/listeners", headers=tenant_b.headers)
    assert [item["id"] for item in listed.json()] == [system["id"]]
    # T1 sees its own and the system listener, but no secret of either.
    seen = await client.get("/listeners", params={"sortBy": "tenantId"}, headers=tenant_a.headers)
    assert [item["id"] for item in seen.json()] == [system["id"], mine["id"]]
    assert seen.json()[0]["hasSecret"] is True and "hidden" not in seen.text
    only_t1 = await client.get("/listeners", params={"tenantIdIn": "T1"}, headers=tenant_a.headers)
    assert [item["id"] for item in only_t1.json()] == [mine["id"]]
    widened = await client.get(
        "/listeners/count", params={"tenantIdIn": "T1"}, headers=tenant_b.headers
    )
    assert widened.json() == {"count": 0}
    assert len((await client.get("/listeners", headers=admin)).json()) == 2

    before = await table_rows(seed, [Listener])
    # Only admins create or change system listeners, or let one reach private networks.
    await create(client, tenant_a.headers, expect=403, **webhook(public, events=["*"]))
    await create(client, tenant_b.headers, expect=403, **webhook(public, events=["*"], tenant="T1"))
    await create(
        client,
        tenant_a.headers,
        expect=403,
        **webhook(public, events=["*"], tenant="T1"),
        allowPrivateNetwork=True,
    )
    system_path = f"/listeners/{system['id']}"
    changed = await client.put(system_path, json={"enabled": False}, headers=tenant_a.headers)
    assert_problem(changed, 403)
    assert_problem(await client.delete(system_path, headers=tenant_a.headers), 403)
    assert await table_rows(seed, [Listener]) == before

    renamed = await client.put(path, json={"name": "mine"}, headers=tenant_a.headers)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "mine" and renamed.json()["target"] == mine["target"]
    assert (await client.delete(path, headers=tenant_a.headers)).status_code == 204
    assert_problem(await client.get(path, headers=tenant_a.headers), 404)


# --------------------------------------------------------------------------- bad input


_BAD = {
    "unknown action": {"eventTypes": ["*"], "action": "email", "target": {}},
    "no event type": {
        "eventTypes": [],
        "action": "start-process",
        "target": {"processDefinitionKey": "k"},
    },
    "unknown event type": {
        "eventTypes": ["task.exploded"],
        "action": "start-process",
        "target": {"processDefinitionKey": "k"},
    },
    "unknown family": {
        "eventTypes": ["nothing.*"],
        "action": "start-process",
        "target": {"processDefinitionKey": "k"},
    },
    "webhook without url": {"eventTypes": ["*"], "action": "webhook", "target": {}},
    "start without key": {"eventTypes": ["*"], "action": "start-process", "target": {}},
    "correlate without message": {
        "eventTypes": ["*"],
        "action": "correlate-message",
        "target": {"businessKeyFrom": "taskId"},
    },
    "unknown target field": {
        "eventTypes": ["*"],
        "action": "start-process",
        "target": {"processDefinitionKey": "k", "tenantId": "T2"},
    },
    "no attempts": {
        "eventTypes": ["*"],
        "action": "start-process",
        "target": {"processDefinitionKey": "k"},
        "maxAttempts": 0,
    },
    "too many attempts": {
        "eventTypes": ["*"],
        "action": "start-process",
        "target": {"processDefinitionKey": "k"},
        "maxAttempts": 1000,
    },
    "not http": {
        "eventTypes": ["*"],
        "action": "webhook",
        "target": {"url": "gopher://93.184.215.14/"},
    },
}


@pytest.mark.parametrize("body", _BAD.values(), ids=_BAD.keys())
async def test_bad_listener_input_is_a_400_and_stores_nothing(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed, body: dict[str, Any]
) -> None:
    before = await table_rows(seed, [Listener])
    await create(client, tenant_a.headers, expect=400, tenantId="T1", **body)
    assert await table_rows(seed, [Listener]) == before


_REFUSED = [
    "http://127.0.0.1/hook",
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost:8000/hook",
    "http://2130706433/hook",  # 127.0.0.1 written as a number
    "http://0.0.0.0/hook",
    "http://user:pass@93.184.215.14/hook",
    "file:///etc/passwd",
    "ftp://93.184.215.14/hook",
]


@pytest.mark.parametrize("url", _REFUSED)
async def test_ssrf_webhook_targets_are_refused_for_a_tenant(
    client: httpx.AsyncClient, tenant_a: TenantMember, seed: Seed, url: str
) -> None:
    before = await table_rows(seed, [Listener])
    await create(client, tenant_a.headers, expect=400, **webhook(url, events=["*"], tenant="T1"))
    assert await table_rows(seed, [Listener]) == before


async def test_ssrf_an_existing_listener_cannot_be_pointed_at_a_private_address(
    client: httpx.AsyncClient, tenant_a: TenantMember, admin: Headers, receiver: Receiver
) -> None:
    mine = await create(
        client, tenant_a.headers, **webhook("https://93.184.215.14/", events=["*"], tenant="T1")
    )
    moved = await client.put(
        f"/listeners/{mine['id']}",
        json={"target": {"url": receiver.url("/inside")}},
        headers=tenant_a.headers,
    )
    assert_problem(moved, 400)
    # An admin's allowance holds only for the target the admin saved.
    allowed = await create(
        client,
        admin,
        **webhook(receiver.url("/ok"), events=["*"], tenant="T1"),
        allowPrivateNetwork=True,
    )
    redirected = await client.put(
        f"/listeners/{allowed['id']}",
        json={"target": {"url": receiver.url("/elsewhere")}},
        headers=tenant_a.headers,
    )
    assert_problem(redirected, 403)


async def test_outbound_connects_to_the_checked_address_and_follows_no_redirect(
    receiver: Receiver,
) -> None:
    with pytest.raises(outbound.OutboundRefused):
        await outbound.post_json(receiver.url("/x", host="localhost"), {}, timeout_seconds=5)
    answer = await outbound.post_json(
        receiver.url("/x", host="localhost"),
        {"a": 1},
        timeout_seconds=5,
        allow_private_network=True,
        event_id="e-1",
    )
    assert answer.ok and answer.body == b"ok"
    [call] = receiver.requests
    assert call.headers["Host"] == f"localhost:{receiver.port}"  # the name, at the address
    assert call.headers["Tessera-Event-Id"] == "e-1" and "Tessera-Signature" not in call.headers
    receiver.statuses["/moved"] = [302]
    moved = await outbound.post_json(
        receiver.url("/moved"), {}, timeout_seconds=5, allow_private_network=True
    )
    assert moved.status == 302 and not moved.ok
    assert receiver.at("/redirected") == []


# --------------------------------------------------------------------------- emitting


async def test_events_are_written_with_the_change_and_only_for_a_change(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, seed: Seed
) -> None:
    async with seed() as session:
        await session.execute(delete(OutboxEvent))  # the fixtures' own
    await client.post("/user/create", json={"profile": {"id": "newbie"}}, headers=admin)
    for _ in range(2):  # the second PUT is a no-op: no second event
        await client.put("/tenant/T1/user-members/newbie", headers=admin)
    for _ in range(2):
        await client.delete("/tenant/T1/user-members/newbie", headers=admin)
    await client.delete("/user/newbie", headers=admin)
    bad = await client.post(
        "/deployment/create", files={"x.bpmn": ("x.bpmn", b"<nope")}, headers=admin
    )
    assert bad.status_code == 400  # rolled back: no deployment.created
    await deploy_model(client, admin, {"w.bpmn": one_task("w")}, tenant="T1")
    instance = (await start(client, tenant_a.headers, "w"))["id"]
    await complete_only_task(client, tenant_a.headers, "w")
    # Events of one transaction share its timestamp: compared as a multiset.
    assert sorted(await events_of(seed), key=str) == sorted(
        [
            ("user.created", None, "root"),
            ("tenant-membership.created", "T1", "root"),
            ("tenant-membership.deleted", "T1", "root"),
            ("user.deleted", None, "root"),
            ("deployment.created", "T1", "root"),
            ("process-instance.started", "T1", "t1-user"),
            ("task.created", "T1", "t1-user"),
            ("task.completed", "T1", "t1-user"),
            ("process-instance.ended", "T1", "t1-user"),
        ],
        key=str,
    )
    deleted = await start(client, tenant_a.headers, "w")
    response = await client.delete(f"/process-instance/{deleted['id']}", headers=tenant_a.headers)
    assert response.status_code == 204
    async with seed() as session:
        ended = await session.scalars(
            select(OutboxEvent.payload).where(OutboxEvent.event_type == "process-instance.ended")
        )
        states = {p["processInstanceId"]: p["state"] for p in ended}
    assert states == {instance: "COMPLETED", deleted["id"]: "EXTERNALLY_TERMINATED"}


async def test_deleting_a_tenant_takes_its_undelivered_events_with_it(
    client: httpx.AsyncClient, admin: Headers, seed: Seed, tenant_a: TenantMember
) -> None:
    """Membership changes always leave events behind; they must not block the delete."""
    async with seed() as session:
        await session.execute(delete(TenantUserMembership))
        await session.execute(delete(TenantGroupMembership))
    await client.put("/tenant/T1/user-members/t1-user", headers=admin)
    await client.delete("/tenant/T1/user-members/t1-user", headers=admin)
    assert (await client.delete("/tenant/T1", headers=admin)).status_code == 204
    assert [e for e in await events_of(seed) if e[1] == "T1"] == []
