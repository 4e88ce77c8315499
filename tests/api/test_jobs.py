"""Job definitions and their runs (`/jobs`), run by a real arq worker (burst mode, real
Redis): one run per tenant with that tenant's visibility (G1), as the user who saved or
triggered it (G2), failures isolated per run (G3), fair acquisition across tenants (G4);
isolation of definitions and runs; bad input."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import delete, func, select, update

from app.core.config import Settings
from app.core.queue import enqueue_slices
from app.models import JobDefinition, JobRun, TenantGroupMembership, TenantUserMembership
from app.services import job_definitions
from tests.api.conftest import (
    Headers,
    Seed,
    TenantMember,
    assert_problem,
    open_client,
    table_rows,
)
from tests.api.runtime_fixtures import deploy_model, one_task
from tests.api.worker_fixtures import drain, run_worker, sweep_once
from tests.conftest import make_settings

START_P = {"handler": "process.start", "parameters": {"processDefinitionKey": "p"}}


def quick_retries() -> Settings:
    """Failed runs are due again at once (the default backoff starts at 10 s)."""
    return make_settings(job_retry_backoff_seconds=0)


async def create_job(
    client: httpx.AsyncClient, headers: Headers, key: str, *, expect: int = 201, **body: Any
) -> dict[str, Any]:
    response = await client.post("/jobs", json={"key": key, **body}, headers=headers)
    assert response.status_code == expect, response.text
    result: dict[str, Any] = response.json()
    return result


async def trigger(
    client: httpx.AsyncClient, headers: Headers, key: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(f"/jobs/{key}/trigger", json=body, headers=headers)
    assert response.status_code == 202, response.text
    result: dict[str, Any] = response.json()
    return result


async def runs(
    client: httpx.AsyncClient, headers: Headers, key: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(f"/jobs/{key}/runs", params=params, headers=headers)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


async def instances(client: httpx.AsyncClient, headers: Headers) -> list[dict[str, Any]]:
    response = await client.get("/history/process-instance", headers=headers)
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


async def run_rows(seed: Seed) -> list[tuple[str, str, str]]:
    """(tenant, handler, status) of every run, in every tenant."""
    async with seed() as session:
        rows = await session.execute(
            select(JobRun.tenant_id, JobRun.handler, JobRun.status).order_by(
                JobRun.tenant_id, JobRun.created_at
            )
        )
        return [(row[0], row[1], row[2]) for row in rows]


async def make_due(seed: Seed, key: str) -> None:
    """Every definition of `key`: its next tick is now."""
    async with seed() as session:
        await session.execute(
            update(JobDefinition)
            .where(JobDefinition.key == key)
            .values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        )


# --------------------------------------------------------------------------- G1


async def test_G1_a_shared_job_runs_once_per_tenant_with_exactly_that_tenants_visibility(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    settings: Settings,
) -> None:
    """The shared job starts key `p`: T1's run starts T1's own version, T2's run the shared
    one, each instance in its tenant, each run visible only to its tenant."""
    await deploy_model(client, admin, {"p.bpmn": one_task("p", name="shared")})
    await deploy_model(client, admin, {"p.bpmn": one_task("p", name="t1")}, tenant="T1")
    await create_job(client, admin, "nightly", **START_P)
    fanned = await trigger(client, admin, "nightly")  # an admin of no tenant: every tenant
    assert (fanned["runCount"], sorted(fanned["tenantIds"])) == (2, ["T1", "T2"])
    await run_worker(settings)

    for member, definition_name in ((tenant_a, "t1"), (tenant_b, "shared")):
        [run] = await runs(client, member.headers, "nightly")
        assert (run["tenantId"], run["status"], run["attempts"]) == (
            member.tenant_id,
            "succeeded",
            1,
        )
        [instance] = await instances(client, member.headers)
        assert instance["id"] == run["result"]["processInstanceId"]
        assert instance["tenantId"] == member.tenant_id
        definition = await client.get(
            f"/process-definition/{instance['processDefinitionId']}", headers=admin
        )
        assert definition.json()["name"] == definition_name
    assert len(await runs(client, admin, "nightly")) == 2


async def test_G1_a_tick_fanned_out_twice_makes_each_tenants_run_once_and_overrides_win(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    settings: Settings,
    seed: Seed,
) -> None:
    await deploy_model(client, admin, {"p.bpmn": one_task("p")})
    await create_job(client, admin, "hourly", cron="0 * * * *", **START_P)
    # T2 has its own `hourly` (a no-op, hourly too): the shared one no longer runs for T2.
    await create_job(
        client, tenant_b.headers, "hourly", tenantId="T2", handler="noop", cron="0 * * * *"
    )
    await make_due(seed, "hourly")
    async with seed() as session:
        shared = await session.scalar(
            select(JobDefinition).where(JobDefinition.tenant_id.is_(None))
        )
        assert shared is not None and shared.next_run_at is not None
        tick = shared.next_run_at
        first = await job_definitions.create_runs(
            session, shared, scheduled_for=tick, trigger="schedule", acting_user=shared.acting_user
        )
        again = await job_definitions.create_runs(
            session, shared, scheduled_for=tick, trigger="schedule", acting_user=shared.acting_user
        )
    assert (first, again) == (["T1"], [])
    await sweep_once(settings)  # fires the same tick of both definitions (the shared one's again)
    await run_worker(settings)
    assert await run_rows(seed) == [
        ("T1", "process.start", "succeeded"),
        ("T2", "noop", "succeeded"),
    ]
    definition = (await client.get("/jobs/hourly", headers=tenant_a.headers)).json()
    assert definition["tenantId"] is None
    assert datetime.fromisoformat(definition["nextRunAt"]) > datetime.now(UTC)


# --------------------------------------------------------------------------- G2


async def test_G2_a_run_acts_as_the_user_who_saved_the_job(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    seed: Seed,
) -> None:
    await deploy_model(client, admin, {"p.bpmn": one_task("p")}, tenant="T1")
    job = await create_job(
        client, tenant_a.headers, "mine", tenantId="T1", intervalSeconds=60, **START_P
    )
    assert job["actingUser"] == "t1-user"
    await make_due(seed, "mine")
    await sweep_once(settings)
    await run_worker(settings)
    [run] = await runs(client, tenant_a.headers, "mine")
    assert (run["status"], run["actingUser"], run["trigger"]) == (
        "succeeded",
        "t1-user",
        "schedule",
    )
    [instance] = await instances(client, tenant_a.headers)
    assert instance["startUserId"] == "t1-user"


async def test_G2_a_user_who_left_the_tenant_has_no_run_done_in_their_name(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    settings: Settings,
    seed: Seed,
) -> None:
    await deploy_model(client, admin, {"p.bpmn": one_task("p")}, tenant="T1")
    await create_job(client, tenant_a.headers, "mine", tenantId="T1", intervalSeconds=60, **START_P)
    async with seed() as session:  # directly and through its group
        await session.execute(
            delete(TenantUserMembership).where(TenantUserMembership.user_id == "t1-user")
        )
        await session.execute(
            delete(TenantGroupMembership).where(TenantGroupMembership.group_id == "t1-group")
        )
    await make_due(seed, "mine")
    await sweep_once(settings)
    await run_worker(settings)
    [run] = await runs(client, admin, "mine")
    assert run["status"] == "failed" and "may no longer act in tenant 'T1'" in run["error"]
    assert run["attempts"] == 1  # final at once: retrying cannot make the user a member
    assert await instances(client, admin) == []
    [incident] = (await client.get("/incident", headers=admin)).json()
    assert (incident["incidentType"], incident["configuration"], incident["tenantId"]) == (
        "failedJobRun",
        run["id"],
        "T1",
    )
    assert incident["processInstanceId"] is None and incident["activityId"] == "mine"


# --------------------------------------------------------------------------- G3


async def test_G3_a_failing_run_in_t1_does_not_stop_t2s_run_each_has_its_own_retries_and_incident(
    admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember, seed: Seed
) -> None:
    """The shared job starts `only-t2`, which only T2 has: T1's run cannot see it (its
    tenant's visibility) and fails; T2's run succeeds. T1's incident is T1's alone."""
    settings = quick_retries()
    async with open_client(settings) as (_, client):
        await deploy_model(client, admin, {"o.bpmn": one_task("only-t2")}, tenant="T2")
        await create_job(
            client,
            admin,
            "sync",
            handler="process.start",
            maxAttempts=2,
            parameters={"processDefinitionKey": "only-t2"},
        )
        await trigger(client, admin, "sync")
        await run_worker(settings)  # T1 fails once and is due again at once; T2 succeeds
        [t1_run] = await runs(client, tenant_a.headers, "sync")
        [t2_run] = await runs(client, tenant_b.headers, "sync")
        assert (t2_run["status"], t2_run["attempts"]) == ("succeeded", 1)
        assert t1_run["status"] in {"pending", "failed"}
        await run_worker(settings)
        [t1_run] = await runs(client, tenant_a.headers, "sync")
        assert (t1_run["status"], t1_run["attempts"]) == ("failed", 2)
        assert "Process definition not found" in t1_run["error"]
        [incident] = (await client.get("/incident", headers=tenant_a.headers)).json()
        assert incident["configuration"] == t1_run["id"]
        assert (await client.get("/incident", headers=tenant_b.headers)).json() == []

        # An operator of T1 retries it: the incident is resolved, all attempts again.
        retried = await client.post(
            f"/jobs/sync/runs/{t1_run['id']}/retry", headers=tenant_a.headers
        )
        assert retried.status_code == 204, retried.text
        assert (await client.get("/incident/count", headers=admin)).json() == {"count": 0}
        [t1_run] = await runs(client, tenant_a.headers, "sync")
        assert (t1_run["status"], t1_run["attempts"]) == ("pending", 0)
        # T2 cannot retry (or see) T1's run; a run that did not fail is not retried.
        other = await client.post(f"/jobs/sync/runs/{t1_run['id']}/retry", headers=tenant_b.headers)
        assert_problem(other, 404)
        again = await client.post(f"/jobs/sync/runs/{t2_run['id']}/retry", headers=tenant_b.headers)
        assert_problem(again, 400)


# --------------------------------------------------------------------------- G4


async def test_G4_one_tenants_backlog_does_not_starve_another_tenants_run(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    settings: Settings,
    seed: Seed,
) -> None:
    """T1 has 2,000 runs queued before T2's one: after three slices (T1, T2, T1 again),
    T2's run is done while most of T1's backlog still waits."""
    await create_job(client, tenant_a.headers, "bulk", tenantId="T1", handler="noop")
    await create_job(client, tenant_b.headers, "one", tenantId="T2", handler="noop")
    async with seed() as session:
        bulk = await session.scalar(select(JobDefinition).where(JobDefinition.key == "bulk"))
        assert bulk is not None
        start = datetime.now(UTC) - timedelta(minutes=1)
        for n in range(2000):
            await job_definitions.create_runs(
                session,
                bulk,
                scheduled_for=start + timedelta(microseconds=n),
                trigger="manual",
                acting_user="t1-user",
            )
    redis = await create_pool(RedisSettings.from_dsn(settings.redis_url))
    await enqueue_slices(redis, "run_job_runs", ["T1"])
    await redis.aclose()
    await trigger(client, tenant_b.headers, "one")  # enqueued after T1's slice
    await run_worker(settings, max_burst_jobs=3)
    [lone] = await runs(client, tenant_b.headers, "one")
    assert lone["status"] == "succeeded"
    pending = await client.get(
        "/jobs/bulk/runs/count", params={"status": "pending"}, headers=tenant_a.headers
    )
    assert pending.json()["count"] >= 2000 - 2 * settings.job_slice_size
    await drain(settings)  # and the backlog drains, slice after slice
    async with seed() as session:
        left = await session.scalar(
            select(func.count()).select_from(JobRun).where(JobRun.status == "pending")
        )
    assert left == 0


# --------------------------------------------------------------------------- isolation


async def test_a_tenants_job_and_runs_are_invisible_and_unchangeable_for_another_tenant(
    client: httpx.AsyncClient,
    admin: Headers,
    tenant_a: TenantMember,
    tenant_b: TenantMember,
    settings: Settings,
) -> None:
    await create_job(client, tenant_a.headers, "mine", tenantId="T1", handler="noop")
    ran = await trigger(client, tenant_a.headers, "mine")
    assert ran["tenantIds"] == ["T1"]
    await run_worker(settings)
    [run] = await runs(client, tenant_a.headers, "mine")
    t2 = tenant_b.headers
    assert (await client.get("/jobs", headers=t2)).json() == []
    assert (await client.get("/jobs/count", headers=t2)).json() == {"count": 0}
    for response in (
        await client.get("/jobs/mine", headers=t2),
        await client.put("/jobs/mine", json={"handler": "noop"}, headers=t2),
        await client.delete("/jobs/mine", headers=t2),
        await client.post("/jobs/mine/trigger", json={}, headers=t2),
        await client.get(f"/jobs/mine/runs/{run['id']}", headers=t2),
    ):
        assert_problem(response, 404)
    assert await runs(client, t2, "mine") == []
    # Naming T1 explicitly is a 403 for a non-member, as everywhere (DESIGN §3).
    assert_problem(await client.get("/jobs/mine", params={"tenantId": "T1"}, headers=t2), 403)
    assert_problem(
        await client.post(
            "/jobs", json={"key": "x", "tenantId": "T1", "handler": "noop"}, headers=t2
        ),
        403,
    )
    # The admin sees it; T1's job is unchanged.
    assert [j["key"] for j in (await client.get("/jobs", headers=admin)).json()] == ["mine"]
    assert len(await runs(client, admin, "mine")) == 1


async def test_a_shared_job_is_seen_by_tenants_written_by_admins_and_overridden_by_key(
    client: httpx.AsyncClient, admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    await create_job(client, admin, "nightly", handler="noop", cron="0 3 * * *")
    assert (await client.get("/jobs/nightly", headers=tenant_a.headers)).json()["tenantId"] is None
    assert_problem(
        await client.post(
            "/jobs", json={"key": "other", "handler": "noop"}, headers=tenant_a.headers
        ),
        403,
    )
    assert_problem(
        await client.put("/jobs/nightly", json={"handler": "noop"}, headers=tenant_a.headers), 403
    )
    assert_problem(await client.delete("/jobs/nightly", headers=tenant_a.headers), 403)
    own = await create_job(
        client, tenant_a.headers, "nightly", tenantId="T1", handler="noop", cron="0 4 * * *"
    )
    assert (await client.get("/jobs/nightly", headers=tenant_a.headers)).json()["id"] == own["id"]
    assert (await client.get("/jobs/nightly", headers=tenant_b.headers)).json()["tenantId"] is None
    shared = await client.get(
        "/jobs/nightly", params={"withoutTenantId": "true"}, headers=tenant_a.headers
    )
    assert shared.json()["tenantId"] is None
    listed = await client.get("/jobs", params={"withoutTenantId": "true"}, headers=tenant_a.headers)
    assert [j["tenantId"] for j in listed.json()] == [None]
    assert len((await client.get("/jobs", headers=tenant_a.headers)).json()) == 2
    assert len((await client.get("/jobs", headers=tenant_b.headers)).json()) == 1
    # A tenant triggering the shared job runs it for itself only.
    assert (await trigger(client, tenant_b.headers, "nightly", tenantId="T2"))["tenantIds"] == [
        "T2"
    ]
    # The admin replaces the shared one; the tenant's own is untouched.
    replaced = await client.put(
        "/jobs/nightly",
        params={"withoutTenantId": "true"},
        json={"handler": "noop", "cron": "0 5 * * *"},
        headers=admin,
    )
    assert replaced.status_code == 200, replaced.text
    assert (await client.get("/jobs/nightly", headers=tenant_a.headers)).json()[
        "cron"
    ] == "0 4 * * *"


async def test_with_the_tenant_check_switched_off_a_tenant_sees_every_job(
    admin: Headers, tenant_a: TenantMember, tenant_b: TenantMember
) -> None:
    async with open_client(make_settings(tenant_check_enabled=False)) as (_, off):
        await create_job(off, tenant_a.headers, "mine", tenantId="T1", handler="noop")
        seen = await off.get("/jobs", headers=tenant_b.headers)
        assert [j["key"] for j in seen.json()] == ["mine"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"handler": "shell"}, 400, "Unknown job handler 'shell'"),
        ({"handler": "noop", "cron": "61 * * * *"}, 400, "Malformed cron"),
        ({"handler": "noop", "cron": "* * *"}, 400, "Malformed cron"),
        ({"handler": "noop", "cron": "0 * * * *", "intervalSeconds": 60}, 400, "not both"),
        ({"handler": "noop", "intervalSeconds": 0}, 422, ""),
        ({"handler": "process.start", "parameters": {}}, 400, "processDefinitionKey"),
        (
            {"handler": "process.start", "parameters": {"processDefinitionKey": "p", "code": "x"}},
            400,
            "code",
        ),
        ({"handler": "noop", "parameters": {"anything": 1}}, 400, "anything"),
        (
            {
                "handler": "process.start",
                "parameters": {
                    "processDefinitionKey": "p",
                    "variables": {"a": {"value": "x", "type": "Integer"}},
                },
            },
            400,
            "a",
        ),
        ({"handler": "noop", "maxAttempts": 0}, 422, ""),
        (
            {"handler": "http.call", "parameters": {"url": "ftp://example.com/x"}},
            400,
            "http and https",
        ),
        (
            {"handler": "http.call", "parameters": {"url": "file:///etc/passwd"}},
            400,
            "http and https",
        ),
        (
            {"handler": "http.call", "parameters": {"url": "http://127.0.0.1:6379/"}},
            400,
            "refused address",
        ),
        (
            {"handler": "http.call", "parameters": {"url": "http://169.254.169.254/x"}},
            400,
            "refused address",
        ),
        (
            {"handler": "http.call", "parameters": {"url": "http://10.1.2.3/"}},
            400,
            "refused address",
        ),
        (
            {"handler": "http.call", "parameters": {"url": "http://localhost/"}},
            400,
            "refused address",
        ),
        (
            {
                "handler": "http.call",
                "parameters": {"url": "http://localhost/", "allowPrivateNetwork": True},
            },
            403,
            "administrators",
        ),
        ({"handler": "noop", "key": "bad key/with slash"}, 422, ""),
        ({"handler": "noop", "tenantId": "nope"}, 403, ""),
    ],
)
async def test_bad_job_definitions_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    tenant_a: TenantMember,
    seed: Seed,
    body: dict[str, Any],
    status: int,
    words: str,
) -> None:
    payload = {"key": "k", "tenantId": "T1", **body}
    problem = assert_problem(
        await client.post("/jobs", json=payload, headers=tenant_a.headers), status
    )
    assert words in problem["detail"]
    assert (await table_rows(seed, [JobDefinition]))["job_definitions"] == []


async def test_a_second_job_with_the_same_key_in_one_scope_is_a_conflict(
    client: httpx.AsyncClient, tenant_a: TenantMember, admin: Headers
) -> None:
    await create_job(client, tenant_a.headers, "k", tenantId="T1", handler="noop")
    problem = assert_problem(
        await client.post(
            "/jobs",
            json={"key": "k", "tenantId": "T1", "handler": "noop"},
            headers=tenant_a.headers,
        ),
        409,
    )
    assert "exists in tenant 'T1'" in problem["detail"]
    await create_job(client, admin, "k", handler="noop")  # the shared space is another scope


async def test_the_handler_registry_lists_each_handler_with_its_parameters(
    client: httpx.AsyncClient, tenant_a: TenantMember
) -> None:
    response = await client.get("/jobs/handlers", headers=tenant_a.headers)
    handlers = {h["name"]: h for h in response.json()}
    assert {"noop", "process.start", "decision.evaluate"} <= set(handlers)
    assert handlers["process.start"]["parameters"]["required"] == ["processDefinitionKey"]


# --------------------------------------------------------------------------- http.call


class _Receiver(BaseHTTPRequestHandler):
    """Answers with the status the test sets; records each request's headers and body."""

    calls: ClassVar[list[tuple[dict[str, str], Any]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append((dict(self.headers), body))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    _Receiver.calls, _Receiver.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


async def test_an_http_call_job_posts_its_body_with_the_run_id_and_retries_a_failed_answer(
    admin: Headers, tenant_a: TenantMember, receiver: str
) -> None:
    """An admin may allow a loopback target (here: the test's receiver)."""
    settings = quick_retries()
    async with open_client(settings) as (_, client):
        parameters = {"url": receiver, "body": {"hello": "T1"}, "allowPrivateNetwork": True}
        await create_job(
            client, admin, "ping", tenantId="T1", handler="http.call", parameters=parameters
        )
        _Receiver.status = 503
        await trigger(client, tenant_a.headers, "ping")
        await run_worker(settings, max_burst_jobs=1)
        [run] = await runs(client, tenant_a.headers, "ping")
        assert (run["status"], run["attempts"]) == ("pending", 1)
        assert "answered HTTP 503" in run["error"]
        _Receiver.status = 200
        await drain(settings)
        [run] = await runs(client, tenant_a.headers, "ping")
        assert (run["status"], run["attempts"], run["result"]) == ("succeeded", 2, {"status": 200})
    assert [body for _, body in _Receiver.calls] == [{"hello": "T1"}, {"hello": "T1"}]
    assert {headers["Tessera-Run-Id"] for headers, _ in _Receiver.calls} == {run["id"]}


async def test_runs_that_write_nothing_fail_one_by_one_within_one_slice(
    admin: Headers, tenant_a: TenantMember, receiver: str, seed: Seed
) -> None:
    """noop, a failing http.call, noop of one tenant: done in one unit of work, each with
    its own outcome (the failure rolls nothing of the others back: they share one unit of
    work, app.services.job_runs)."""
    settings = quick_retries()
    _Receiver.status = 500
    async with open_client(settings) as (_, client):
        await create_job(client, tenant_a.headers, "quiet", tenantId="T1", handler="noop")
        await create_job(
            client,
            admin,
            "ping",
            tenantId="T1",
            handler="http.call",
            parameters={"url": receiver, "allowPrivateNetwork": True},
        )
        for key in ("quiet", "ping", "quiet"):
            await trigger(client, tenant_a.headers, key)
        await run_worker(settings, max_burst_jobs=1)
        statuses = sorted((r["jobKey"], r["status"]) for r in await runs(client, admin, "quiet"))
        assert statuses == [("quiet", "succeeded"), ("quiet", "succeeded")]
        [ping] = await runs(client, admin, "ping")
        assert (ping["status"], ping["attempts"]) == ("pending", 1)
        assert "answered HTTP 500" in ping["error"]
