"""`GET /process-definition?latestVersion=true` over many tenants: SQL, ORM, HTTP, plans.

Data: 10,000 tenants x 5 keys x 3 versions (150,000 tenant rows; `--quick`: 1,000 tenants)
+ 100 shared keys x 3 versions, bulk-loaded by the owner (bypass on), then VACUUM ANALYZE.
Every tenant deploys the same templates, so only (tenant, key) tells the scopes apart.
Callers: a member of ONE tenant (its 5 + 100 shared = 105 latest rows) and an admin with
`tenantIdIn=<that tenant>&includeProcessDefinitionsWithoutTenantId=true` (the same 105).

Measured per caller, rounds rotating the variants:
  * bare asyncpg: the SQL the ORM emits for the request (captured in-process from
    `definitions.list_definitions`, with its set_config) on a connection of the runtime role:
    BEGIN, set_config, SELECT, COMMIT, prepared statements as the app's driver uses them;
  * the same with plan_cache_mode=force_custom_plan (a prepared statement may move to its
    generic plan after five runs): the reference, an index-driven plan for these rows;
  * in-process ORM: the service call in the caller's unit of work (no HTTP, no token);
  * info: Tessera `GET` through uvicorn (one worker) by `wrk -t1 -c1` (one request at a time,
    so its p50 compares with the sequential timings above), and its server CPU per request.
Targets (exit 1 when missed):
  * each caller's SQL costs at most 2x the reference (the member's SQL with custom plans);
  * no plan (EXPLAIN ANALYZE as the runtime role under RLS, custom and generic) reads more
    than 10% of process_definitions for its 105 rows: what the guarded NOT EXISTS per scope
    in `definitions._is_latest` exists for (a COALESCE scope test read the whole table).
`--explain` prints the plans in full. Everything created is deleted at the end.

    python benchmarks/bench_latest_version.py [--quick] [--explain] [--tenants N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from app.core.filters import TenantSelector
from app.core.pagination import Page, Sorting
from app.core.tenancy import TenancyContext
from app.models.repository import ProcessDefinition
from app.services import definitions
from benchmarks._support import (
    BYPASS,
    SETTINGS_SQL,
    BenchEnv,
    Load,
    Result,
    Samples,
    Server,
    Target,
    Verdicts,
    asyncpg_dsn,
    bearer_token,
    bench_principal,
    captured_statements,
    delete_platform_rows,
    execution_ms,
    explain_last_select,
    fmt_seconds,
    header,
    http_json,
    load_env,
    make_settings,
    measure,
    owner_engine,
    print_plan,
    report_latency,
    rotated,
    rows_read,
    run_interleaved,
    running,
    server_env,
    settings_parameters,
    table,
    vacuum_analyze,
)

PREFIX = "bench-latest-"
READER, ADMIN, ADMIN_GROUP = f"{PREFIX}reader", f"{PREFIX}admin", f"{PREFIX}admins"
TENANT_KEYS, SHARED_KEYS, VERSIONS, PAGE = 5, 100, 3, 200
EXPECTED_LATEST = TENANT_KEYS + SHARED_KEYS
SAME_ANSWER = Target("<=", 2.0)  # the SQL of each caller vs the index-driven reference
MAX_SHARE_READ = 0.10  # of process_definitions, by any plan

# Run in this order by the owner, in one transaction, with the values of `create_data`.
LOAD = [
    "INSERT INTO tenants (id, name) SELECT :p || 't' || lpad(g::text, 5, '0'),"
    " 'Benchmark tenant' FROM generate_series(1, :tenants) AS g",
    "INSERT INTO users (id) VALUES (:reader), (:admin)",
    "INSERT INTO groups (id, name) VALUES (:group, 'Benchmark admins')",
    "INSERT INTO group_memberships (group_id, user_id) VALUES (:group, :admin)",
    "INSERT INTO tenant_user_memberships (tenant_id, user_id) VALUES (:reader_tenant, :reader)",
    # One deployment per tenant plus one shared; their names carry the prefix for clean-up.
    "INSERT INTO deployments (id, name, tenant_id) SELECT gen_random_uuid(), :p || 'load', id"
    " FROM tenants WHERE id LIKE :p || 't%' ORDER BY id",
    "INSERT INTO deployments (id, name, tenant_id)"
    " VALUES (gen_random_uuid(), :p || 'shared', NULL)",
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


def tenant_id(n: int) -> str:
    return f"{PREFIX}t{n:05d}"


async def delete_data(owner: AsyncEngine) -> None:
    """Deployments first (resources and definitions cascade), then tenants, users, groups."""
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        await connection.execute(
            text("DELETE FROM deployments WHERE name LIKE :p"), {"p": f"{PREFIX}%"}
        )
        await delete_platform_rows(connection, PREFIX)


async def create_data(owner: AsyncEngine, *, tenants: int, reader_tenant: str) -> int:
    """The bulk rows, VACUUM ANALYZE; returns the rows of process_definitions."""
    values = {"p": PREFIX, "tenants": tenants, "reader_tenant": reader_tenant}
    values |= {"reader": READER, "admin": ADMIN, "group": ADMIN_GROUP}
    values |= {"tenant_keys": TENANT_KEYS, "shared_keys": SHARED_KEYS, "versions": VERSIONS}
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        for statement in LOAD:
            await connection.execute(text(statement), values)
    await vacuum_analyze(owner, "tenants", "deployments", "process_definitions")
    async with owner.begin() as connection:
        await connection.execute(BYPASS)
        return int(await connection.scalar(text("SELECT count(*) FROM process_definitions")) or 0)


# --------------------------------------------------------------------------- callers


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
    member = bench_principal(READER, {tenant})
    admin = bench_principal(ADMIN, groups={ADMIN_GROUP}, admin=True)
    return [
        Caller("member", READER, TenancyContext.for_principal(member), TenantSelector(), base),
        Caller(
            "admin",
            ADMIN,
            TenancyContext.for_principal(admin),
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
    sql, params = next((s, p) for s, p in sent if "process_definitions" in s)
    settings_params = settings_parameters(caller.context)
    return Captured(SETTINGS_SQL, settings_params, sql, tuple(params), {r.id for r in rows})


async def bare_query(connection: asyncpg.Connection, captured: Captured, _i: int) -> None:
    """What Tessera sends for the list, by hand: BEGIN, set_config, the SELECT, COMMIT."""
    async with connection.transaction():
        await connection.fetchrow(captured.settings_sql, *captured.settings_params)
        rows = await connection.fetch(captured.sql, *captured.params)
    if len(rows) != EXPECTED_LATEST:
        raise RuntimeError(f"bare query returned {len(rows)} rows, expected {EXPECTED_LATEST}")


async def orm_list(factory: SessionFactory, settings: Settings, caller: Caller, _i: int) -> None:
    """The endpoint's service call in the caller's unit of work (no HTTP, token, principal
    query or response model)."""
    async with unit_of_work(factory, caller.context, settings=settings) as session:
        rows = await list_latest(session, caller)
    if len(rows) != EXPECTED_LATEST:
        raise RuntimeError(f"ORM returned {len(rows)} rows, expected {EXPECTED_LATEST}")


# --------------------------------------------------------------------------- report


def report(
    results: dict[str, Samples],
    http: dict[str, list[Result]],
    plans: dict[str, list[str]],
    verdicts: Verdicts,
    *,
    rows: int,
    explain: bool,
) -> None:
    sql, custom, orm = "bare asyncpg: ORM's SQL", "same SQL, custom plans only", "in-process ORM"
    print(f"== latestVersion=true, {rows:,} rows, {EXPECTED_LATEST} latest (medians)")
    lines: list[tuple[str, ...]] = []
    p50s: dict[str, float] = {}
    for label in ("member", "admin"):
        for name in (sql, custom, orm):
            samples = results[f"{name} ({label})"]
            lines.append(
                (label, name, fmt_seconds(samples.median()), fmt_seconds(samples.quantile(0.99)))
            )
        runs = http[label]
        p50s[label] = statistics.median(r.p50 for r in runs)
        lines.append((
            label, "Tessera GET, wrk -c1", fmt_seconds(p50s[label]),
            fmt_seconds(statistics.median(r.p99 for r in runs)),
            f"{statistics.median(r.rps for r in runs):,.0f}",
            f"{statistics.median(r.cpu for r in runs) * 1e3:.2f}",
        ))  # fmt: skip
    table(("caller", "variant", "median/p50", "p99", "req/s", "server CPU ms/req"), lines)
    for label in ("member", "admin"):
        bare, in_process = (results[f"{n} ({label})"].median() for n in (sql, orm))
        print(
            f"  {label}: SQL round trips {fmt_seconds(bare)} + ORM and tenancy (in-process"
            f" minus SQL) {fmt_seconds(in_process - bare)} + HTTP, token, principal query,"
            f" response model {fmt_seconds(p50s[label] - in_process)} = {fmt_seconds(p50s[label])}"
        )
    print()
    reference = f"{custom} (member)"
    for label in ("member", "admin"):
        measured = f"{sql} ({label})"
        report_latency(
            f"the {label}'s SQL vs an index-driven plan for the same rows",
            {reference: results[reference], measured: results[measured]},
            baseline=reference,
            measured=measured,
            target=SAME_ANSWER,
            verdicts=verdicts,
        )
    print(f"== plans (EXPLAIN ANALYZE as the runtime role under RLS; table {rows:,} rows)")
    plan_rows: list[tuple[str, ...]] = []
    for name, plan in plans.items():
        read = rows_read(plan, "process_definitions")
        outcome = verdicts.check(
            f"plan {name}: reads {read:,} rows ({read / rows:.1%}) ≤ {MAX_SHARE_READ:.0%} of"
            " the table",
            read <= MAX_SHARE_READ * rows,
        )
        share = f"{read / rows:.1%}"
        plan_rows.append((name, f"{execution_ms(plan):.2f} ms", f"{read:,}", share, outcome))
    table(("plan", "execution", "rows read", "of table", "verdict"), plan_rows)
    if explain:
        for name, plan in plans.items():
            print_plan(f"latestVersion, {name}", plan, limit=60)


# --------------------------------------------------------------------------- main


async def measure_all(
    env: BenchEnv, settings: Settings, server: Server, tenant: str, args: argparse.Namespace
) -> tuple[dict[str, Samples], dict[str, list[Result]], dict[str, list[str]], bool]:
    rounds, ops, seconds = (3, 10, 1) if args.quick else (5, 20, 2)
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    dsn = asyncpg_dsn(env.database_url)
    connection = await asyncpg.connect(dsn)
    custom = await asyncpg.connect(dsn, server_settings={"plan_cache_mode": "force_custom_plan"})
    try:
        variants: dict[str, Callable[[int], Awaitable[object]]] = {}
        plans: dict[str, list[str]] = {}
        loads: dict[str, Load] = {}
        same = True
        for caller in callers(tenant):
            captured = await capture(engine, factory, settings, caller)
            token = await bearer_token(env, caller.user)
            loads[caller.label] = Load(
                (f"/process-definition?{caller.query}",),
                headers={"Authorization": f"Bearer {token}"},
            )
            load = loads[caller.label]
            status, body = http_json("GET", server.url + load.paths[0], headers=load.headers)
            same &= status == 200 and {d["id"] for d in body} == captured.ids
            same &= len(captured.ids) == EXPECTED_LATEST
            label = caller.label
            variants[f"bare asyncpg: ORM's SQL ({label})"] = partial(
                bare_query, connection, captured
            )
            variants[f"same SQL, custom plans only ({label})"] = partial(
                bare_query, custom, captured
            )
            variants[f"in-process ORM ({label})"] = partial(orm_list, factory, settings, caller)
            for generic in (False, True):
                async with unit_of_work(factory, caller.context, settings=settings) as session:
                    plans[
                        f"{label}{', generic' if generic else ', custom'}"
                    ] = await explain_last_select(
                        engine, session, partial(list_latest, session, caller), generic=generic
                    )
        results = await run_interleaved(variants, rounds=rounds, ops=ops, warmup=6)
        http: dict[str, list[Result]] = {label: [] for label in loads}
        for label in loads:
            measure(server, loads[label], seconds=1, connections=1)  # warm-up
        for r in range(rounds):
            for label in rotated(list(loads), r):
                http[label].append(measure(server, loads[label], seconds=seconds, connections=1))
    finally:
        await connection.close()
        await custom.close()
        await engine.dispose()
    return results, http, plans, same


async def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    env = load_env()
    settings = make_settings(env, admin_groups=[ADMIN_GROUP])
    tenants = args.tenants or (1_000 if args.quick else 10_000)
    tenant = tenant_id(max(1, tenants // 2))
    header(
        "bench_latest_version: GET /process-definition?latestVersion=true at scale",
        [
            f"{tenants:,} tenants x {TENANT_KEYS} keys x {VERSIONS} versions + {SHARED_KEYS}"
            f" shared keys x {VERSIONS}; callers: a member of {tenant}, an admin filtering on it",
            "in-process variants sequential, rounds rotating; Tessera in a uvicorn subprocess",
        ],
    )
    owner = owner_engine(env)
    verdicts = Verdicts()
    await delete_data(owner)  # leftovers of an interrupted run
    try:
        loaded = time.perf_counter()
        rows = await create_data(owner, tenants=tenants, reader_tenant=tenant)
        print(f"loaded {rows:,} process definitions in {time.perf_counter() - loaded:.1f} s\n")
        server = Server("Tessera", "app.main:create_app", server_env(env, ADMIN_GROUPS=ADMIN_GROUP))
        with running([server]):
            results, http, plans, same = await measure_all(env, settings, server, tenant, args)
        verdicts.check(f"ORM, bare SQL and HTTP return the same {EXPECTED_LATEST} rows", same)
        report(results, http, plans, verdicts, rows=rows, explain=args.explain)
    finally:
        await delete_data(owner)
        await owner.dispose()
    code = verdicts.exit_code()
    print(f"wall time {time.perf_counter() - began:.1f} s")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 tenants, fewer rounds")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans")
    parser.add_argument("--tenants", type=int, default=0, help="override the tenant count")
    raise SystemExit(asyncio.run(run(parser.parse_args())))
