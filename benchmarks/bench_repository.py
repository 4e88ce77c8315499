"""The repository at scale: deploy throughput, and `latestVersion` reads over many tenants.

A. Deploy. `POST /deployment/create` of one small BPMN (start → end, ~0.6 kB) per
   deployment through the whole Tessera stack (uvicorn subprocess as in bench_http_get, one
   worker; bearer token of a member of one tenant; `tenant-id` of that tenant), from
   `--concurrency` clients, in two shapes: a new key per deployment (version 1 each) and the
   same key every time (new versions, serialized by the per-key advisory lock).
   Baseline, same run, same concurrency: a bare asyncpg script writing the same rows as the
   runtime role under RLS, one transaction per deployment (set_config, INSERT deployment,
   INSERT resource, advisory lock, max(version)+1, INSERT definition).
   Info: the service in-process (`deployments.create_deployment` in a unit of work: parse +
   ORM + database; no HTTP, no token), `parse_resource` alone (SpiffWorkflow + XSD), CPU per
   deploy of the server and of this process, and how busy the whole machine was.
   No target: the issue sets none; the ratio is the cost of parsing + the stack.
B. `GET /process-definition?latestVersion=true&maxResults=200` over 10,000 tenants x 5 keys
   x 3 versions (150,000 tenant rows) + 100 shared keys x 3 versions; the tenants' keys are
   named alike (every tenant deploys the same templates). Callers: a member of ONE tenant
   (its 5 + 100 shared = 105 latest rows) and an admin with `tenantIdIn=<that tenant>&
   includeProcessDefinitionsWithoutTenantId=true` (the same 105 rows).
   Baseline: the SQL the ORM emits for that request (captured in-process from
   `definitions.list_definitions`, with its set_config) on a bare asyncpg connection of the
   runtime role: BEGIN, set_config, SELECT, COMMIT, prepared statements as the app's driver.
   Info: the same SQL on a connection with plan_cache_mode=force_custom_plan (PostgreSQL may
   move a prepared statement to its generic plan after five runs), and a candidate rewrite
   of the latest-version predicate that is not in the app.
   Expectation (not an issue target): each caller's 105 rows cost at most 2x what an
   index-driven plan for them costs (reference: the member's SQL with custom plans).
   Plans: rows of process_definitions each plan reads (EXPLAIN ANALYZE, custom and generic).

Rows are bulk-loaded by the owner (`tessera.bypass` on: RLS is FORCEd for the owner too):
tenants `bench-repo-*`, one deployment per tenant plus one shared, definitions by
generate_series (no resources: the queries do not read them), then VACUUM ANALYZE.
Everything created is deleted at the end. `--explain` prints the plans in full.

    python benchmarks/bench_repository.py [--quick] [--explain] [--concurrency N] [--tenants N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import hashlib
import re
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from app.core.filters import TenantSelector
from app.core.pagination import Page, Sorting
from app.core.security import create_access_token
from app.core.tenancy import Principal, TenancyContext
from app.models.repository import ProcessDefinition
from app.services import definitions, deployments
from app.services.definitions_parser import parse_resource
from benchmarks._bare_app import SETTINGS_SQL
from benchmarks._support import (
    BenchEnv,
    Samples,
    Target,
    asyncpg_dsn,
    captured_statements,
    delete_platform_rows,
    explain_last_select,
    fmt_seconds,
    header,
    load_env,
    make_settings,
    owner_engine,
    print_plan,
    report_latency,
    run_interleaved,
    vacuum_analyze,
)
from benchmarks.bench_http_get import (
    Run,
    Series,
    Server,
    child_env,
    cpu_seconds,
    running,
    wait_ready,
)

PREFIX = "bench-repo-"
DEPLOY_TENANT = f"{PREFIX}deploy"
DEPLOYER = f"{PREFIX}deployer"  # member of DEPLOY_TENANT
READER = f"{PREFIX}reader"  # member of the one bulk tenant the reads are about
ADMIN = f"{PREFIX}admin"  # member of ADMIN_GROUP, no tenant
ADMIN_GROUP = f"{PREFIX}admins"  # ADMIN_GROUPS of the server under test
TENANT_KEYS, SHARED_KEYS, VERSIONS = 5, 100, 3
PAGE = 200
EXPECTED_LATEST = TENANT_KEYS + SHARED_KEYS
# Expectation, not an issue target: the latest rows of one tenant (+ shared) cost at most
# twice what an index-driven plan for them costs (the member's SQL with custom plans).
SAME_ANSWER = Target("<=", 2.0)
# RLS is FORCEd for the owner too: its bulk load and clean-up run with the bypass setting.
BYPASS = text("SELECT set_config('tessera.bypass', 'on', true)")


def bpmn(key: str) -> bytes:
    """One executable process `key`: start event → end event."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="defs_{key}" targetNamespace="http://tessera.test/bench">
  <bpmn:process id="{key}" name="Benchmark {key}" isExecutable="true">
    <bpmn:startEvent id="start">
      <bpmn:outgoing>flow</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:sequenceFlow id="flow" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end">
      <bpmn:incoming>flow</bpmn:incoming>
    </bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def tenant_id(n: int) -> str:
    return f"{PREFIX}t{n:05d}"


# --------------------------------------------------------------------------- data


async def delete_data(owner: AsyncEngine) -> None:
    """Deployments first (resources and definitions cascade), then tenants, users, groups."""
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        pattern = {"p": PREFIX.replace("_", r"\_") + "%"}
        await connection.execute(
            text("DELETE FROM deployments WHERE tenant_id LIKE :p OR name LIKE :p"), pattern
        )
        await delete_platform_rows(connection, PREFIX)


# Run in this order by the owner, in one transaction, with the bind values of `create_data`.
LOAD = [
    "INSERT INTO tenants (id, name) VALUES (:deploy_tenant, 'Benchmark deploys')",
    "INSERT INTO tenants (id, name) SELECT :p || 't' || lpad(g::text, 5, '0'),"
    " 'Benchmark tenant' FROM generate_series(1, :tenants) AS g",
    "INSERT INTO users (id) VALUES (:deployer), (:reader), (:admin)",
    "INSERT INTO groups (id, name) VALUES (:group, 'Benchmark admins')",
    "INSERT INTO group_memberships (group_id, user_id) VALUES (:group, :admin)",
    "INSERT INTO tenant_user_memberships (tenant_id, user_id)"
    " VALUES (:deploy_tenant, :deployer), (:reader_tenant, :reader)",
    # One deployment per tenant plus one shared; their names carry the prefix for clean-up.
    "INSERT INTO deployments (id, name, tenant_id) SELECT gen_random_uuid(), :p || 'load', id"
    " FROM tenants WHERE id LIKE :p || 't%' ORDER BY id",
    "INSERT INTO deployments (id, name, tenant_id)"
    " VALUES (gen_random_uuid(), :p || 'shared', NULL)",
    # Keys named alike in every tenant: only (tenant, key) tells the scopes apart.
    "INSERT INTO process_definitions (id, tenant_id, deployment_id, key, name, version,"
    " resource_name, suspended, startable)"
    " SELECT :p || 'proc-' || k || ':' || v || ':' || gen_random_uuid(), d.tenant_id, d.id,"
    " :p || 'proc-' || k, 'Tenant process ' || k, v, 'bench.bpmn', false, true"
    " FROM deployments d, generate_series(0, :tenant_keys - 1) AS k,"
    " generate_series(1, :versions) AS v WHERE d.name = :p || 'load' ORDER BY d.tenant_id, k, v",
    "INSERT INTO process_definitions (id, tenant_id, deployment_id, key, name, version,"
    " resource_name, suspended, startable)"
    " SELECT :p || 'shared-' || k || ':' || v || ':' || gen_random_uuid(), NULL, d.id,"
    " :p || 'shared-' || lpad(k::text, 3, '0'), 'Shared process ' || k, v, 'bench.bpmn',"
    " false, true FROM deployments d, generate_series(0, :shared_keys - 1) AS k,"
    " generate_series(1, :versions) AS v WHERE d.name = :p || 'shared'",
]


async def create_data(owner: AsyncEngine, *, tenants: int) -> float:
    """Platform rows, then the bulk repository rows, then VACUUM ANALYZE; returns seconds."""
    began = time.perf_counter()
    values = {
        "p": PREFIX,
        "tenants": tenants,
        "deploy_tenant": DEPLOY_TENANT,
        "reader_tenant": tenant_id(reader_tenant(tenants)),
        "deployer": DEPLOYER,
        "reader": READER,
        "admin": ADMIN,
        "group": ADMIN_GROUP,
        "tenant_keys": TENANT_KEYS,
        "shared_keys": SHARED_KEYS,
        "versions": VERSIONS,
    }
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        for statement in LOAD:
            await connection.execute(text(statement), values)
    await vacuum_analyze(owner, "tenants", "deployments", "process_definitions")
    return time.perf_counter() - began


def reader_tenant(tenants: int) -> int:
    return max(1, tenants // 2)


async def table_rows(owner: AsyncEngine) -> int:
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        return int(await connection.scalar(text("SELECT count(*) FROM process_definitions")) or 0)


# --------------------------------------------------------------------------- A. deploy


@dataclass(frozen=True, slots=True)
class DeployVariant:
    name: str
    kind: str  # "tessera" | "service" | "bare"
    same_key: bool
    key_stem: str


async def drive(operation: Callable[[int], Awaitable[bool]], *, total: int, workers: int) -> Run:
    """`total` calls of `operation(i)` from `workers` concurrent tasks; False = an error."""
    counter = iter(range(total))
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            ok = await operation(i)
            latencies.append(time.perf_counter() - started)
            errors += not ok

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return Run(total / (time.perf_counter() - started), latencies, errors)


BARE_DEPLOY = [
    "INSERT INTO deployments (id, name, source, tenant_id) VALUES ($1, $2, NULL, $3)"
    " RETURNING deployment_time",
    "INSERT INTO deployment_resources (id, deployment_id, name, content, checksum, tenant_id)"
    " VALUES ($1, $2, $3, $4, $5, $6)",
    "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
    "SELECT max(version) FROM process_definitions WHERE key = $1 AND tenant_id = $2",
    "INSERT INTO process_definitions (id, tenant_id, deployment_id, key, name, version,"
    " version_tag, category, resource_name, history_time_to_live, suspended, startable)"
    " VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, NULL, false, true)",
]


async def bare_deploy(pool: asyncpg.Pool, key: str) -> bool:
    """The rows of one deployment by hand, as the runtime role under RLS."""
    content = bpmn(key)
    name = f"{key}.bpmn"
    deployment = uuid.uuid4()
    async with pool.acquire() as connection, connection.transaction():
        await connection.fetchrow(SETTINGS_SQL, DEPLOY_TENANT, "off")
        await connection.fetchrow(BARE_DEPLOY[0], deployment, f"{PREFIX}deploy", DEPLOY_TENANT)
        await connection.execute(
            BARE_DEPLOY[1],
            uuid.uuid4(),
            deployment,
            name,
            content,
            hashlib.sha256(content).hexdigest(),
            DEPLOY_TENANT,
        )
        await connection.fetchval(BARE_DEPLOY[2], f"process_definitions:{DEPLOY_TENANT}:{key}")
        version = (await connection.fetchval(BARE_DEPLOY[3], key, DEPLOY_TENANT) or 0) + 1
        await connection.execute(
            BARE_DEPLOY[4],
            f"{key}:{version}:{uuid.uuid4()}",
            DEPLOY_TENANT,
            deployment,
            key,
            f"Benchmark {key}",
            version,
            "http://tessera.test/bench",
            name,
        )
    return True


async def tessera_deploy(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], key: str
) -> bool:
    response = await client.post(
        url,
        headers=headers,
        data={"deployment-name": f"{PREFIX}deploy", "tenant-id": DEPLOY_TENANT},
        files={"data": (f"{key}.bpmn", bpmn(key), "application/octet-stream")},
    )
    return response.status_code == 200


async def service_deploy(factory: SessionFactory, settings: Settings, key: str) -> bool:
    """`deployments.create_deployment` in a unit of work of the deployer, no HTTP."""
    context = TenancyContext.for_principal(
        Principal(DEPLOYER, frozenset(), frozenset({DEPLOY_TENANT}), False)
    )
    async with unit_of_work(factory, context, settings=settings) as session:
        await deployments.create_deployment(
            session,
            name=f"{PREFIX}deploy",
            source=None,
            tenant_id=DEPLOY_TENANT,
            resources=[deployments.UploadedResource(f"{key}.bpmn", bpmn(key))],
        )
    return True


def parse_timing(count: int) -> Samples:
    """`parse_resource` of the benchmark's BPMN, in this process, `count` times."""
    data = bpmn(f"{PREFIX}parse")
    for _ in range(20):  # validators built, caches warm
        parse_resource("parse.bpmn", data)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        parse_resource("parse.bpmn", data)
        timings.append(time.perf_counter() - started)
    return Samples([timings])


async def versions_of(owner: AsyncEngine, key: str) -> list[int]:
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        rows = await connection.execute(
            text(
                "SELECT version FROM process_definitions WHERE tenant_id = :t AND key = :k"
                " ORDER BY version"
            ),
            {"t": DEPLOY_TENANT, "k": key},
        )
        return [int(r[0]) for r in rows]


async def bench_deploy(
    env: BenchEnv,
    owner: AsyncEngine,
    settings: Settings,
    client: httpx.AsyncClient,
    server: Server,
    *,
    total: int,
    rounds: int,
    workers: int,
) -> None:
    variants = [
        DeployVariant("bare asyncpg, new key each", "bare", False, f"{PREFIX}bu"),
        DeployVariant("Tessera, new key each", "tessera", False, f"{PREFIX}tu"),
        DeployVariant("bare asyncpg, same key", "bare", True, f"{PREFIX}bs"),
        DeployVariant("Tessera, same key", "tessera", True, f"{PREFIX}ts"),
        DeployVariant("in-process service, new key each", "service", False, f"{PREFIX}su"),
    ]
    token, _ = create_access_token(settings, DEPLOYER)
    auth = {"Authorization": f"Bearer {token}"}
    url = server.base_url + "/deployment/create"
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    pool = await asyncpg.create_pool(
        asyncpg_dsn(env.database_url), min_size=workers, max_size=workers
    )
    counters = dict.fromkeys((v.name for v in variants), 0)

    def operation(variant: DeployVariant) -> Callable[[int], Awaitable[bool]]:
        async def deploy_one(_i: int) -> bool:
            if variant.same_key:
                key = variant.key_stem
            else:
                counters[variant.name] += 1
                key = f"{variant.key_stem}{counters[variant.name]}"
            if variant.kind == "bare":
                return await bare_deploy(pool, key)
            if variant.kind == "service":
                return await service_deploy(factory, settings, key)
            return await tessera_deploy(client, url, auth, key)

        return deploy_one

    try:
        first = await client.post(
            url,
            headers=auth,
            data={"tenant-id": DEPLOY_TENANT, "deployment-name": f"{PREFIX}deploy"},
            files={"data": ("check.bpmn", bpmn(f"{PREFIX}check"), "application/xml")},
        )
        body = first.json() if first.status_code == 200 else {}
        if not body.get("deployedProcessDefinitions"):
            raise RuntimeError(f"deploy check: {first.status_code} {first.text}")
        operations = {v.name: operation(v) for v in variants}
        for op in operations.values():  # warm-up: pools, prepared statements, parsers
            await drive(op, total=max(10, total // 10), workers=workers)
        results = {v.name: Series() for v in variants}
        deploys = dict.fromkeys(results, 0)
        usage: dict[str, list[Usage]] = {name: [] for name in results}
        for r in range(rounds):
            names = list(operations)
            for name in names[r % len(names) :] + names[: r % len(names)]:
                kind = next(v.kind for v in variants if v.name == name)
                server_before, own_before, machine_before = (
                    cpu_seconds(server),
                    time.process_time(),
                    machine_cpu(),
                )
                run = await drive(operations[name], total=total, workers=workers)
                server_cpu = cpu_seconds(server) - server_before
                own_cpu = time.process_time() - own_before
                busy, elapsed = (a - b for a, b in zip(machine_cpu(), machine_before, strict=True))
                run.cpu_per_request = (server_cpu if kind == "tessera" else own_cpu) / total
                usage[name].append(Usage(own_cpu / total, busy / elapsed if elapsed else 0.0))
                results[name].runs.append(run)
                deploys[name] += total
        checks = {}
        for v in variants:
            if v.same_key:
                found = await versions_of(owner, v.key_stem)
                checks[v.name] = found == list(range(1, len(found) + 1))
        parse = parse_timing(200 if total >= 100 else 60)
        report_deploy(results, usage, deploys, checks, parse, workers=workers)
    finally:
        await pool.close()
        await engine.dispose()


def report_deploy(
    results: dict[str, Series],
    usage: dict[str, list[Usage]],
    deploys: dict[str, int],
    checks: dict[str, bool],
    parse: Samples,
    *,
    workers: int,
) -> None:
    print(f"== A. POST /deployment/create, one small BPMN each, {workers} concurrent clients")
    width = max(len(n) for n in results)
    for name, series in results.items():
        rps = series.rps()
        cpu_label = "server" if name.startswith("Tessera") else "bench process"
        versions = (
            f"  versions gap-free: {'yes' if checks[name] else 'NO'}" if name in checks else ""
        )
        client = statistics.median(u.client_cpu for u in usage[name])
        client_note = f" + client {client * 1e3:.2f}" if name.startswith("Tessera") else ""
        print(
            f"  {name:<{width}}  {statistics.median(rps):5.0f} deploys/s"
            f" (rounds {min(rps):.0f}–{max(rps):.0f})"
            f"  p50 {series.latency(0.5) * 1e3:5.1f} ms  p99 {series.latency(0.99) * 1e3:5.1f} ms"
            f"  CPU/deploy: {cpu_label} {statistics.median(series.cpu()) * 1e3:.2f}{client_note} ms"
            f"  machine busy {statistics.median(u.machine_busy for u in usage[name]):.0%}"
            f"  errors {sum(r.errors for r in series.runs)}/{deploys[name]}{versions}"
        )
    for shape in ("new key each", "same key"):
        measured, baseline = results[f"Tessera, {shape}"], results[f"bare asyncpg, {shape}"]
        ratios = [m / b for m, b in zip(measured.rps(), baseline.rps(), strict=True)]
        print(
            f"  ratio Tessera / bare asyncpg ({shape}): {statistics.median(ratios):.3f}× of bare"
            f" throughput (rounds {min(ratios):.3f}–{max(ratios):.3f})  no target (issue sets"
            " none)"
        )
    tessera = results["Tessera, new key each"]
    service = results["in-process service, new key each"]
    server_cpu = statistics.median(tessera.cpu())
    service_cpu = statistics.median(service.cpu())
    parse_s = parse.median()
    print(
        f"  parse_resource alone (in-process, sequential): median {fmt_seconds(parse_s).strip()}"
        f", p99 {fmt_seconds(parse.quantile(0.99)).strip()}"
    )
    rest, http = service_cpu - parse_s, server_cpu - service_cpu
    print(
        f"  where Tessera's server CPU goes (new key each, {server_cpu * 1e3:.2f} ms per deploy):"
        f" parse {parse_s * 1e3:.2f} ms ({parse_s / server_cpu:.0%}); rest of the service"
        f" (ORM, tenancy, asyncpg: in-process run minus parse) {rest * 1e3:.2f} ms"
        f" ({rest / server_cpu:.0%}); HTTP layer (multipart, JWT + principal, response,"
        f" uvicorn) {http * 1e3:.2f} ms ({http / server_cpu:.0%}). One worker tops out near"
        f" {1 / server_cpu:.0f} deploys/s of server CPU"
    )
    same, new = (
        statistics.median(results[f"Tessera, {k}"].rps()) for k in ("same key", "new key each")
    )
    bare_same, bare_new = (
        statistics.median(results[f"bare asyncpg, {k}"].rps()) for k in ("same key", "new key each")
    )
    print(
        f"  same key / new key throughput: Tessera {same / new:.2f}×,"
        f" bare {bare_same / bare_new:.2f}×"
        " (deploys of one key queue on its advisory lock from the version lookup to COMMIT;"
        " that costs throughput only where the rest of the deploy is fast)"
    )
    print()


@dataclass(frozen=True, slots=True)
class Usage:
    client_cpu: float  # this process's CPU seconds per deploy
    machine_busy: float  # share of all cores busy during the run (Linux /proc/stat)


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far; (0, 0) where /proc/stat is missing."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


# --------------------------------------------------------------------------- B. latestVersion


@dataclass(frozen=True, slots=True)
class Caller:
    label: str
    user: str
    context: TenancyContext
    selector: TenantSelector
    query: str  # of the HTTP request


@dataclass
class Captured:
    settings_sql: str
    settings_params: tuple[Any, ...]
    sql: str
    params: tuple[Any, ...]
    ids: set[str]


def callers(tenant: str) -> list[Caller]:
    base = f"latestVersion=true&maxResults={PAGE}"
    return [
        Caller(
            "member",
            READER,
            TenancyContext.for_principal(
                Principal(READER, frozenset(), frozenset({tenant}), False)
            ),
            TenantSelector(),
            base,
        ),
        Caller(
            "admin",
            ADMIN,
            TenancyContext.for_principal(
                Principal(ADMIN, frozenset({ADMIN_GROUP}), frozenset(), True)
            ),
            TenantSelector([tenant], False, True),
            f"{base}&tenantIdIn={tenant}&includeProcessDefinitionsWithoutTenantId=true",
        ),
    ]


def list_latest(session: Any, caller: Caller) -> Awaitable[Any]:
    return definitions.list_definitions(
        session,
        ProcessDefinition,
        filters=definitions.DefinitionFilter(latest_version=True, tenants=caller.selector),
        sorting=Sorting(None, None),
        page=Page(0, PAGE),
    )


async def capture(
    engine: AsyncEngine, factory: SessionFactory, settings: Settings, caller: Caller
) -> Captured:
    """The set_config and the SELECT the ORM sends for this caller's list request."""
    with captured_statements(engine) as sent:
        async with unit_of_work(factory, caller.context, settings=settings) as session:
            rows = await list_latest(session, caller)
    settings_sql, settings_params = next((s, p) for s, p in sent if "set_config" in s)
    sql, params = next((s, p) for s, p in sent if "process_definitions" in s)
    return Captured(settings_sql, tuple(settings_params), sql, tuple(params), {r.id for r in rows})


# A rewrite of `_is_latest` (not in the app) that the existing partial unique indexes answer:
# the scope test as plain `=` / IS NULL instead of coalesce() = coalesce(), one guarded
# NOT EXISTS per scope. coalesce() matches neither partial index, and an expression index on
# it does not help under RLS either: PostgreSQL does not treat COALESCE as leakproof, so the
# qual is not pushed below the policy into an index condition (tried while writing this).
# OUTER and INNER are the caller's tenant criteria, as the ORM adds them to the query and to
# the aliased subquery.
CANDIDATE = """
SELECT p.suspended, p.startable, p.id, p.key, p.name, p.version, p.version_tag, p.category,
       p.resource_name, p.history_time_to_live, p.deployment_id, p.tenant_id
FROM process_definitions p
WHERE OUTER
  AND (p.tenant_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM process_definitions n
        WHERE n.tenant_id = p.tenant_id AND n.key = p.key AND n.version > p.version INNER))
  AND (p.tenant_id IS NOT NULL OR NOT EXISTS (
        SELECT 1 FROM process_definitions n
        WHERE n.tenant_id IS NULL AND n.key = p.key AND n.version > p.version INNER))
ORDER BY p.id LIMIT $2 OFFSET $3
"""


def candidate_sql(caller: Caller, tenant: str) -> tuple[str, tuple[Any, ...]]:
    if caller.label == "member":
        outer = "(p.tenant_id = $1 OR p.tenant_id IS NULL)"
        inner = "AND (n.tenant_id = $1 OR n.tenant_id IS NULL)"
    else:
        outer, inner = "(p.tenant_id IN ($1) OR p.tenant_id IS NULL)", ""
    return CANDIDATE.replace("OUTER", outer).replace("INNER", inner), (tenant, PAGE, 0)


async def bare_query(
    connection: asyncpg.Connection,
    captured: Captured,
    sql: str,
    params: tuple[Any, ...],
    _i: int,
) -> None:
    """What Tessera sends for the list, by hand: BEGIN, set_config, the SELECT, COMMIT."""
    async with connection.transaction():
        await connection.fetchrow(captured.settings_sql, *captured.settings_params)
        rows = await connection.fetch(sql, *params)
    if len(rows) != EXPECTED_LATEST:
        raise RuntimeError(f"bare query returned {len(rows)} rows, expected {EXPECTED_LATEST}")


async def tessera_get(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], _i: int
) -> None:
    response = await client.get(url, headers=headers)
    if response.status_code != 200 or len(response.json()) != EXPECTED_LATEST:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:300]}")


async def orm_list(factory: SessionFactory, settings: Settings, caller: Caller, _i: int) -> None:
    """The service call of the endpoint in a unit of work of the caller (no HTTP, no token,
    no principal query, no response model)."""
    async with unit_of_work(factory, caller.context, settings=settings) as session:
        rows = await list_latest(session, caller)
    if len(rows) != EXPECTED_LATEST:
        raise RuntimeError(f"ORM returned {len(rows)} rows, expected {EXPECTED_LATEST}")


_ACTUAL = re.compile(r"rows=([\d.]+) loops=(\d+)")
_REMOVED = re.compile(r"^Rows Removed by (?:Filter|Index Recheck): ([\d.]+)")


def rows_read(plan: list[str]) -> int:
    """Rows of process_definitions the plan's scan nodes produced or filtered away."""
    total, loops = 0.0, 0
    for line in plan:
        stripped = line.strip()
        if "Scan" in line and " on process_definitions" in line and "Bitmap Index" not in line:
            found = _ACTUAL.search(line)
            loops = int(found[2]) if found else 0
            total += float(found[1]) * loops if found else 0.0
        elif removed := _REMOVED.match(stripped):
            total += float(removed[1]) * loops
        elif stripped.startswith("->"):
            loops = 0
    return int(total)


def execution_ms(plan: list[str]) -> float:
    line = next((x for x in plan if x.startswith("Execution Time")), "Execution Time: nan ms")
    return float(line.split(":")[1].split()[0])


async def bench_latest(
    env: BenchEnv,
    settings: Settings,
    client: httpx.AsyncClient,
    server: Server,
    *,
    tenant: str,
    rows: int,
    rounds: int,
    ops: int,
    explain: bool,
) -> None:
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    dsn = asyncpg_dsn(env.database_url)
    # Prepared statements, as SQLAlchemy's asyncpg dialect uses them: after five runs
    # PostgreSQL may switch a statement to its generic plan. `custom` never does.
    connection = await asyncpg.connect(dsn)
    custom = await asyncpg.connect(dsn, server_settings={"plan_cache_mode": "force_custom_plan"})
    try:
        variants: dict[str, Callable[[int], Awaitable[object]]] = {}
        plans: dict[str, list[str]] = {}
        for caller in callers(tenant):
            captured = await capture(engine, factory, settings, caller)
            if len(captured.ids) != EXPECTED_LATEST:
                raise RuntimeError(f"{caller.label}: ORM returned {len(captured.ids)} rows")
            candidate, candidate_params = candidate_sql(caller, tenant)
            found = await check_candidate(connection, captured, candidate, candidate_params)
            if found != captured.ids:
                print(f"  !! the candidate returns other rows than the ORM ({caller.label})")
            token, _ = create_access_token(settings, caller.user)
            auth = {"Authorization": f"Bearer {token}"}
            url = f"{server.base_url}/process-definition?{caller.query}"
            label = caller.label
            variants[f"bare asyncpg: ORM's SQL ({label})"] = partial(
                bare_query, connection, captured, captured.sql, captured.params
            )
            variants[f"Tessera GET ({label})"] = partial(tessera_get, client, url, auth)
            variants[f"in-process ORM, no HTTP ({label})"] = partial(
                orm_list, factory, settings, caller
            )
            variants[f"bare asyncpg: ORM's SQL, custom plans only ({label})"] = partial(
                bare_query, custom, captured, captured.sql, captured.params
            )
            variants[f"bare asyncpg: candidate rewrite ({label})"] = partial(
                bare_query, connection, captured, candidate, candidate_params
            )
            for generic in (False, True):
                async with unit_of_work(factory, caller.context, settings=settings) as session:
                    plans[
                        f"{label}, ORM{', generic' if generic else ''}"
                    ] = await explain_last_select(
                        engine, session, partial(list_latest, session, caller), generic=generic
                    )
                plans[f"{label}, candidate{', generic' if generic else ''}"] = await explain_bare(
                    connection, captured, candidate, candidate_params, generic=generic
                )
        results = await run_interleaved(variants, rounds=rounds, ops=ops, warmup=6)
    finally:
        await connection.close()
        await custom.close()
        await engine.dispose()
    report_latest(results, plans, rows=rows, explain=explain)


def report_latest(
    results: dict[str, Samples], plans: dict[str, list[str]], *, rows: int, explain: bool
) -> None:
    title = (
        f"B. GET /process-definition?latestVersion=true, {rows:,} rows, {EXPECTED_LATEST} latest"
    )
    for label in ("member", "admin"):
        report_latency(
            f"{title}: {label}",
            {n: s for n, s in results.items() if n.endswith(f"({label})")},
            baseline=f"bare asyncpg: ORM's SQL ({label})",
            measured=f"Tessera GET ({label})",
            target=None,
        )
    print("== B. where a GET's time goes (medians)")
    for label in ("member", "admin"):
        sql, orm, http = (
            results[f"{name} ({label})"].median()
            for name in ("bare asyncpg: ORM's SQL", "in-process ORM, no HTTP", "Tessera GET")
        )
        print(
            f"  {label}: SQL round trips {fmt_seconds(sql).strip()}"
            f" + ORM and tenancy (in-process minus SQL) {fmt_seconds(orm - sql).strip()}"
            f" + HTTP, token, principal query, response model {fmt_seconds(http - orm).strip()}"
            f" = {fmt_seconds(http).strip()}"
            + (
                "  (a part < 0: noise, or plans differ by connection)"
                if sql > orm or orm > http
                else ""
            )
        )
    print()
    reference = "bare asyncpg: ORM's SQL, custom plans only (member)"
    met = [
        report_latency(
            f"B. expectation (not an issue target): the {label}'s 105 rows cost about what"
            " an index-driven plan for them costs",
            {reference: results[reference], measured: results[measured]},
            baseline=reference,
            measured=measured,
            target=SAME_ANSWER,
        )
        for label, measured in (
            ("member", "bare asyncpg: ORM's SQL (member)"),
            ("admin", "bare asyncpg: ORM's SQL (admin)"),
        )
    ]
    print(f"== B. plans (EXPLAIN ANALYZE as the runtime role under RLS; table {rows:,} rows)")
    width = max(len(n) for n in plans)
    for name, plan in plans.items():
        read = rows_read(plan)
        print(
            f"  {name:<{width}}  {execution_ms(plan):8.2f} ms  reads {read:>8,} rows"
            f" ({read / rows:6.1%} of the table)"
        )
    walks = [n for n, p in plans.items() if "candidate" not in n and rows_read(p) > rows / 10]
    candidate = max(rows_read(p) for n, p in plans.items() if "candidate" in n)
    if walks:
        print(
            f"  index verdict: {' and '.join(f'[{w}]' for w in walks)} read most of the table"
            f" for {EXPECTED_LATEST} rows. No index is missing for it: the (tenant_id, key,"
            " version) and (key, version) partial unique indexes answer the NOT EXISTS probe"
            " once its scope test is `=` / IS NULL (the candidate reads at most"
            f" {candidate:,} rows in any plan);"
            " `coalesce(newer.tenant_id, '') = coalesce(tenant_id, '')` can use neither."
        )
    else:
        print("  index verdict: no plan reads most of the table at this size; none missing.")
    print()
    if explain:
        for name, plan in plans.items():
            print_plan(f"latestVersion, {name}", plan, limit=60)
    print(f"summary: {sum(met)}/{len(met)} expectations met (deploy and stack ratios: no target)")


async def check_candidate(
    connection: asyncpg.Connection, captured: Captured, sql: str, params: tuple[Any, ...]
) -> set[str]:
    async with connection.transaction():
        await connection.fetchrow(captured.settings_sql, *captured.settings_params)
        return {r["id"] for r in await connection.fetch(sql, *params)}


async def explain_bare(
    connection: asyncpg.Connection,
    captured: Captured,
    sql: str,
    params: tuple[Any, ...],
    *,
    generic: bool,
) -> list[str]:
    """EXPLAIN ANALYZE of `sql` in the caller's settings; `generic` as in
    `explain_last_select` (PREPARE, force_generic_plan, EXECUTE with literals)."""
    options = "(ANALYZE, BUFFERS, COSTS OFF)"
    async with connection.transaction():
        await connection.fetchrow(captured.settings_sql, *captured.settings_params)
        if not generic:
            return [r[0] for r in await connection.fetch(f"EXPLAIN {options} {sql}", *params)]
        await connection.execute(f"PREPARE bench_candidate AS {sql}")
        await connection.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        literals = ", ".join(
            str(p) if isinstance(p, int) else "'" + str(p).replace("'", "''") + "'" for p in params
        )
        plan = await connection.fetch(f"EXPLAIN {options} EXECUTE bench_candidate({literals})")
        await connection.execute("DEALLOCATE bench_candidate")
    return [r[0] for r in plan]


# --------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    env = load_env()
    settings = make_settings(env, admin_groups=[ADMIN_GROUP])
    tenants = args.tenants or (1_000 if args.quick else 10_000)
    total, deploy_rounds = (60, 2) if args.quick else (150, 3)
    read_rounds, read_ops = (3, 10) if args.quick else (5, 20)
    workers = args.concurrency
    header(
        "bench_repository: deploy throughput and latestVersion reads at scale",
        [
            f"A: {deploy_rounds} rounds x {total} deployments per variant, {workers} concurrent"
            " clients; Tessera in a uvicorn subprocess (1 worker), bare asyncpg in this process",
            f"B: {tenants:,} tenants x {TENANT_KEYS} keys x {VERSIONS} versions + {SHARED_KEYS}"
            f" shared keys x {VERSIONS}; {read_rounds} rounds x {read_ops} sequential reads",
            "server, PostgreSQL and client share this machine's cores",
        ],
    )
    owner = owner_engine(env)
    await delete_data(owner)  # leftovers of an interrupted run
    try:
        load_seconds = await create_data(owner, tenants=tenants)
        rows = await table_rows(owner)
        print(f"loaded {rows:,} process definitions in {load_seconds:.1f} s (incl. VACUUM ANALYZE)")
        print()
        tessera = Server("tessera", "app.main:create_app", child_env(env, ADMIN_GROUPS=ADMIN_GROUP))
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        with running([tessera]):
            async with httpx.AsyncClient(limits=limits, timeout=60) as client:
                await wait_ready(tessera, client, "/health")
                await bench_deploy(
                    env,
                    owner,
                    settings,
                    client,
                    tessera,
                    total=total,
                    rounds=deploy_rounds,
                    workers=workers,
                )
                await bench_latest(
                    env,
                    settings,
                    client,
                    tessera,
                    tenant=tenant_id(reader_tenant(tenants)),
                    rows=await table_rows(owner),  # the deploys above added some
                    rounds=read_rounds,
                    ops=read_ops,
                    explain=args.explain,
                )
    finally:
        await delete_data(owner)
        await owner.dispose()
    print(f"wall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 tenants, fewer rounds")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent deploy clients")
    parser.add_argument("--tenants", type=int, default=0, help="override the tenant count")
    arguments = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(arguments))
    else:
        uvloop.run(main(arguments))
