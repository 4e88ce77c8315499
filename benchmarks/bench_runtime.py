"""The process runtime through the HTTP API: start, complete, and the task list at scale.

A. `POST /process-definition/key/{key}/start` of a one-user-task model (start → user task →
   end) with two variables, as the member of one tenant: start + persist.
B. `POST /task/{id}/complete` with one variable, wrk rotating over open task ids read from
   the database before each run (the starts of A, topped up by unrecorded start runs), no
   id handed out twice. Fails when a request fails (a repeated id would be a 404), the ids
   run out, or fewer tasks left the table than wrk counted completions.
   A, B: `wrk -t1 -c8` against one uvicorn worker, the order rotating per round; server
   and PostgreSQL CPU per command from /proc. Targets: ≥ 500 per second each.
C. Baseline, same run: SpiffWorkflow alone in this process on the same model, in memory
   (`new_workflow` + `set_start_variables` + `run` + `serialize` per start; `restore` +
   `complete_task` + `serialize` per completion). Info: the services in-process
   (`start_by_key`, `tasks.complete`, a unit of work each, 8 at a time under uvloop) with
   their SQL statements, and one bare asyncpg round trip. They split the server's CPU into
   engine, rest of the service (ORM, tenancy, asyncpg) and HTTP (JSON, JWT + principal).
D. 1,000 tenants: one with 100,000 open tasks (`--quick`: 20,000), a comparison one with
   1,000, 998 with 100 (`--quick`: 20); one instance per task, tenants' rows interleaved,
   created_at rising. `GET /task?maxResults=25` (default order: id) and with
   `sortBy=created&sortOrder=desc`, as each tenant's member, `wrk -t1 -c1`, the four loads
   rotating. Target: p50 big / comparison ≤ 2× per query (median of per-round ratios);
   EXPLAIN ANALYZE of the service's SELECT in the big tenant is printed.
Exit status 1 when a target not declared a known miss is missed, or a check fails.

    python benchmarks/bench_runtime.py [--quick] [--seconds N] [--rounds N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import math
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

import asyncpg
import uvloop
from sqlalchemy import select, text

from app.core.db import create_engine, create_session_factory, unit_of_work
from app.core.pagination import Page, Sorting
from app.core.tenancy import TenancyContext
from app.models.runtime import Task
from app.services import deployments, engine, process_instances, tasks, workflow_views
from app.services.variables import parse_variables
from benchmarks._support import (
    BYPASS,
    RESULT_COLUMNS,
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
    bulk_load,
    busy_cores,
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
    postmaster_pid,
    print_plan,
    result_cells,
    rotated,
    rows_read,
    run_interleaved,
    running,
    server_env,
    table,
    vacuum_analyze,
)

T = TypeVar("T")
PREFIX = "bench-rt-"
RUN, BIG, SMALL = f"{PREFIX}run", f"{PREFIX}big", f"{PREFIX}cmp"  # tenants; members: -member
RUNNER = f"{RUN}-member"
KEY, LIST_KEY = f"{PREFIX}one-task", f"{PREFIX}listed"
OTHER_TENANTS, PAGE = 998, 25
START_VARS = {"amount": {"value": 42}, "customer": {"value": "acme"}}
COMPLETE_VARS = {"approved": {"value": True}}
RUNTIME_TABLES = ("process_instances", "history_activity_instances", "history_tasks",
                  "history_variables", "history_process_instances")  # fmt: skip
# Measured on the runtime issue's last commit (2 cores of a nested VM, at times shared with
# other sessions' test runs, which lower the rates but hardly the CPU per command).
_START_MISS = (
    "~167/s: 6.0 ms server CPU per start (one worker saturates there) plus 3.0 ms PostgreSQL;"
    " the engine is 5% of the server's CPU, the service's 8 ORM statements + commit ~90%"
)
_COMPLETE_MISS = (
    "~103/s: 9.7 ms server CPU per completion (one worker saturates there) plus 2.7 ms"
    " PostgreSQL; the engine is 4%, the service's 12 ORM statements ~87%"
)
RATES = {
    "start": Target(">=", 500, known_miss=_START_MISS, unit="/s"),
    "complete": Target(">=", 500, known_miss=_COMPLETE_MISS, unit="/s"),
}
LISTS = {  # name: the service's sorting, and the same as query parameters
    "default order (id)": (Sorting(None, None), ""),
    "created desc": (Sorting("created", "desc"), "&sortBy=created&sortOrder=desc"),
}
LIST_TARGETS = {
    "default order (id)": Target("<=", 2.0),
    "created desc": Target("<=", 2.0),
}


def one_task(key: str) -> bytes:
    """start → user task `work` → end (tests/api/runtime_fixtures.py `one_task`)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="defs_{key}" targetNamespace="http://tessera.test/bench">
  <bpmn:process id="{key}" name="Benchmark {key}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:userTask id="work" name="Work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


# --------------------------------------------------------------------------- data

SEED_PLATFORM = [
    "INSERT INTO tenants (id, name) SELECT unnest(CAST(:tenants AS text[])), 'Benchmark'",
    "INSERT INTO tenants (id, name) SELECT :p || 'o' || lpad(g::text, 4, '0'), 'Other'"
    " FROM generate_series(1, :others) AS g",
    "INSERT INTO users (id) SELECT unnest(CAST(:tenants AS text[])) || '-member'",
    "INSERT INTO tenant_user_memberships (tenant_id, user_id)"
    " SELECT t, t || '-member' FROM unnest(CAST(:tenants AS text[])) AS t",
]
# One instance per task, tenants interleaved (random order), started_at rising with it.
SEED_INSTANCES = """
INSERT INTO process_instances (id, tenant_id, process_definition_id, process_definition_key,
    suspended, root_process_instance_id, started_at, revision)
SELECT id, tenant_id, :definition, :key, false, id,
       now() - interval '1 day' + n * interval '1 millisecond', 1
FROM (SELECT gen_random_uuid() AS id, tenant_id, row_number() OVER (ORDER BY random()) AS n
      FROM (SELECT CAST(:big AS text) AS tenant_id, CAST(:big_n AS int) AS n
            UNION ALL SELECT :small, 1000
            UNION ALL SELECT :p || 'o' || lpad(g::text, 4, '0'), :per_other
            FROM generate_series(1, :others) AS g) AS counts,
           LATERAL generate_series(1, counts.n)) AS rows"""
SEED_TASKS = """
INSERT INTO tasks (id, tenant_id, process_instance_id, process_definition_id,
    task_definition_key, name, priority, candidate_groups, candidate_users, suspended,
    created_at)
SELECT gen_random_uuid(), tenant_id, id, process_definition_id, 'work', 'Work', 50, '{}',
       '{}', false, started_at
FROM process_instances WHERE process_definition_id = :definition ORDER BY started_at"""


async def cleanup(env: BenchEnv) -> None:
    owner = owner_engine(env)
    pattern = {"p": PREFIX.replace("_", r"\_") + "%"}
    try:
        async with owner.begin() as connection:
            await connection.execute(BYPASS)
            for name in RUNTIME_TABLES:  # an instance's runtime rows cascade with it
                statement = f"DELETE FROM {name} WHERE tenant_id LIKE :p"  # noqa: S608
                await connection.execute(text(statement), pattern)
            await connection.execute(text("DELETE FROM deployments WHERE name LIKE :p"), pattern)
            await delete_platform_rows(connection, PREFIX)
    finally:
        await owner.dispose()


async def deploy(env: BenchEnv, key: str, tenant: str | None) -> str:
    """Deploy `one_task(key)` through the service: a member's, or shared by an admin."""
    settings = make_settings(env)
    db = create_engine(settings)
    principal = bench_principal(RUNNER, {tenant} if tenant else (), admin=tenant is None)
    context = TenancyContext.for_principal(principal)
    resource = deployments.UploadedResource(f"{key}.bpmn", one_task(key))
    try:
        async with unit_of_work(create_session_factory(db), context, settings=settings) as s:
            result = await deployments.create_deployment(
                s, name=f"{PREFIX}deploy", source=None, tenant_id=tenant, resources=[resource]
            )
        return result.process_definitions[0].id
    finally:
        await db.dispose()


async def seed(env: BenchEnv, big_n: int, per_other: int) -> float:
    """Tenants, members, both definitions and the task list's rows; seconds it took."""
    await cleanup(env)
    began = time.perf_counter()
    values: dict[str, Any] = {"p": PREFIX, "tenants": [RUN, BIG, SMALL], "others": OTHER_TENANTS}
    owner = owner_engine(env)
    try:
        async with owner.begin() as connection:
            await connection.execute(BYPASS)
            for statement in SEED_PLATFORM:
                await connection.execute(text(statement), values)
        await deploy(env, KEY, RUN)
        values |= {"definition": await deploy(env, LIST_KEY, None), "key": LIST_KEY}
        values |= {"big": BIG, "big_n": big_n, "small": SMALL, "per_other": per_other}
        async with owner.begin() as connection:
            await connection.execute(BYPASS)
            await connection.execute(text(SEED_INSTANCES), values)
            await bulk_load(connection, Task.__table__, SEED_TASKS, values)  # type: ignore[arg-type]
        await vacuum_analyze(owner, "process_instances", "tasks")
    finally:
        await owner.dispose()
    return time.perf_counter() - began


async def open_tasks(env: BenchEnv) -> list[str]:
    """Ids of the open tasks of the runtime tenant, oldest first."""
    owner = owner_engine(env)
    try:
        async with owner.begin() as connection:
            await connection.execute(BYPASS)
            statement = text("SELECT id FROM tasks WHERE tenant_id = :t ORDER BY created_at")
            return [str(row[0]) for row in await connection.execute(statement, {"t": RUN})]
    finally:
        await owner.dispose()


# --------------------------------------------------------------------------- C: in process


async def engine_baseline(rounds: int, ops: int) -> dict[str, Samples]:
    """SpiffWorkflow alone on the same model: per start and per completion."""
    model = engine.parse_process_model(f"{PREFIX}baseline", KEY, one_task(KEY).decode())
    variables = {name: typed["value"] for name, typed in START_VARS.items()}
    done = {name: typed["value"] for name, typed in COMPLETE_VARS.items()}

    def script_engine() -> engine.SandboxedScriptEngine:
        return engine.SandboxedScriptEngine(attributes=model.attributes)

    def start(_: int = 0) -> str:
        workflow = engine.new_workflow(model, {}, script_engine())
        engine.set_start_variables(workflow, variables)
        engine.run(workflow)
        return engine.serialize(workflow)

    def waiting_task(state: str) -> uuid.UUID:
        workflow = engine.restore(state, model, {}, script_engine())
        return workflow_views.snapshot(workflow, uuid.uuid4(), KEY).user_tasks[0].id

    states = [(state, waiting_task(state)) for state in (start() for _ in range(200))]

    def complete(i: int) -> str:  # a state is restored afresh each time: reuse is fine
        state, task_id = states[i % len(states)]
        workflow = engine.restore(state, model, {}, script_engine())
        engine.complete_task(workflow, task_id, done)
        return engine.serialize(workflow)

    def timed(function: Callable[[int], str]) -> Callable[[int], Awaitable[None]]:
        async def call(i: int) -> None:
            function(i)

        return call

    variants = {"start": timed(start), "complete": timed(complete)}
    return await run_interleaved(variants, rounds=rounds, ops=ops, warmup=50)


async def round_trip(env: BenchEnv, count: int = 2_000) -> tuple[float, float]:
    """Client CPU and wall seconds of one PostgreSQL round trip (asyncpg, prepared
    `SELECT 1`) on this machine: what each SQL statement costs before any ORM work."""
    connection = await asyncpg.connect(asyncpg_dsn(env.database_url))
    try:
        statement = await connection.prepare("SELECT 1")
        for _ in range(100):
            await statement.fetchval()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(count):
            await statement.fetchval()
        return (time.process_time() - cpu) / count, (time.perf_counter() - wall) / count
    finally:
        await connection.close()


async def service_in_process(env: BenchEnv, count: int) -> dict[str, tuple[float, float]]:
    """CPU seconds and SQL statements per command of the services, each command in a unit
    of work, 8 at a time as wrk -c8 sends them (run under uvloop, as the server is)."""
    settings = make_settings(env)
    db = create_engine(settings)
    factory = create_session_factory(db)
    context = TenancyContext.for_principal(bench_principal(RUNNER, {RUN}))
    start_vars, complete_vars = parse_variables(START_VARS), parse_variables(COMPLETE_VARS)

    async def start(_: object = None) -> uuid.UUID:
        async with unit_of_work(factory, context, settings=settings) as session:
            started = await process_instances.start_by_key(
                session, KEY, tenant_id=None, without_tenant=False, business_key=None,
                variables=start_vars,
            )  # fmt: skip
            return started.instance_id

    async def eight_at_a_time(command: Callable[[Any], Awaitable[T]], items: Any) -> list[T]:
        todo, done = iter(items), []  # one iterator: each item is taken once

        async def worker() -> None:
            done.extend([await command(item) for item in todo])

        await asyncio.gather(*(worker() for _ in range(8)))
        return done

    async def complete(task_id: uuid.UUID) -> None:
        async with unit_of_work(factory, context, settings=settings) as session:
            await tasks.complete(session, str(task_id), variables=complete_vars)

    async def task_ids(instances: list[uuid.UUID]) -> list[uuid.UUID]:
        async with unit_of_work(factory, context, settings=settings) as session:
            found = select(Task.id).where(Task.process_instance_id.in_(instances))
            return list(await session.scalars(found))

    try:
        await eight_at_a_time(complete, await task_ids(await eight_at_a_time(start, range(40))))
        figures: dict[str, tuple[float, float]] = {}
        with captured_statements(db) as statements:
            began = time.process_time()
            instances = await eight_at_a_time(start, range(count))
            figures["start"] = ((time.process_time() - began) / count, len(statements) / count)
        ids = await task_ids(instances)
        with captured_statements(db) as statements:
            began = time.process_time()
            await eight_at_a_time(complete, ids)
            figures["complete"] = ((time.process_time() - began) / count, len(statements) / count)
        return figures
    finally:
        await db.dispose()


# --------------------------------------------------------------------------- A, B: HTTP


def runtime_loads(
    server: Server, env: BenchEnv, token: str, pg: int, *, seconds: float, rounds: int,
    checks: Verdicts,
) -> dict[str, list[Result]]:  # fmt: skip
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start_body = json.dumps({"variables": START_VARS})
    starts = Load((f"/process-definition/key/{KEY}/start",), "POST", auth, start_body)
    complete_body, used = json.dumps({"variables": COMPLETE_VARS}), set[str]()
    results: dict[str, list[Result]] = {"start": [], "complete": []}
    warm: dict[str, float] = {}  # rates of the warm-up runs: the first estimates
    problems: list[str] = []

    def rate(name: str) -> float:
        return max([warm.get(name, 0.0), *(r.rps for r in results[name])])

    def completions(duration: float) -> Result:
        expected = rate("complete") or 3 * rate("start")  # first run: a generous guess
        need = int(expected * duration * 2) + 100
        pool = [i for i in asyncio.run(open_tasks(env)) if i not in used]
        while len(pool) < need:  # top up with start runs (not recorded)
            top_up = math.ceil((need - len(pool)) / rate("start")) + 1
            measure(server, starts, seconds=top_up)
            pool = [i for i in asyncio.run(open_tasks(env)) if i not in used]
        pool = pool[:need]
        used.update(pool)
        load = Load(tuple(f"/task/{i}/complete" for i in pool), "POST", auth, complete_body)
        run = measure(server, load, seconds=duration, postmaster=pg)
        left = set(asyncio.run(open_tasks(env)))
        completed = sum(i not in left for i in pool)
        if run.requests >= len(pool) or completed < run.requests - run.errors:
            problems.append(f"{run.requests} requests, {len(pool)} ids, {completed} completed")
        return run

    url = server.url + starts.paths[0]
    status, started = http_json("POST", url, headers=auth, body=start_body.encode())
    checks.check(f"start answers 200 and an instance ({status})", status == 200 and "id" in started)
    for name in results:  # warm-up, 1 s each, not recorded
        run = measure(server, starts, seconds=1) if name == "start" else completions(1)
        warm[name] = run.rps
    for r in range(rounds):
        for name in rotated(list(results), r):
            if name == "start":
                results[name].append(measure(server, starts, seconds=seconds, postmaster=pg))
            else:
                results[name].append(completions(seconds))
    for problem in problems:
        print(f"  !! completion run: {problem}")
    checks.check("each completion request completed one task, once", not problems)
    return results


# --------------------------------------------------------------------------- D: task list


def list_loads(
    server: Server, tokens: dict[str, str], pg: int, *, seconds: float, rounds: int,
    checks: Verdicts,
) -> dict[tuple[str, str], list[Result]]:  # fmt: skip
    loads = {}
    for query, (_, order) in LISTS.items():
        for tenant in (BIG, SMALL):
            auth = {"Authorization": f"Bearer {tokens[tenant]}"}
            loads[query, tenant] = load = Load((f"/task?maxResults={PAGE}{order}",), headers=auth)
            status, rows = http_json("GET", server.url + load.paths[0], headers=auth)
            ok = status == 200 and len(rows) == PAGE and {t["tenantId"] for t in rows} == {tenant}
            created = [t["created"] for t in rows or []]
            ok = ok and (not order or created == sorted(created, reverse=True))
            checks.check(f"GET /task, {query}, {tenant}: {PAGE} own rows in order ({status})", ok)
    results: dict[tuple[str, str], list[Result]] = {key: [] for key in loads}
    for r in range(rounds):
        for key in rotated(list(loads), r):
            run = measure(server, loads[key], seconds=seconds, connections=1, postmaster=pg)
            results[key].append(run)
    return results


async def list_plans(env: BenchEnv) -> dict[str, list[str]]:
    """EXPLAIN ANALYZE of each list query as the service sends it, in the big tenant."""
    settings = make_settings(env)
    db = create_engine(settings)
    factory = create_session_factory(db)
    context = TenancyContext.for_principal(bench_principal(f"{BIG}-member", {BIG}))
    plans = {}
    try:
        for name, (sorting, _) in LISTS.items():
            async with unit_of_work(factory, context, settings=settings) as session:
                run = partial(tasks.list_tasks, session, filters=tasks.TaskFilter(),
                              sorting=sorting, page=Page(0, PAGE))  # fmt: skip
                plans[name] = await explain_last_select(db, session, run)
    finally:
        await db.dispose()
    return plans


# --------------------------------------------------------------------------- report


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def report_runtime(
    http: dict[str, list[Result]],
    baseline: dict[str, Samples],
    service: dict[str, tuple[float, float]],
    trip: tuple[float, float],
    verdicts: Verdicts,
) -> None:
    med = statistics.median
    print("== A, B: through the HTTP API (one uvicorn worker, wrk -c8; median of rounds)")
    rows = [(n, *result_cells(runs), ms(med(r.db_cpu for r in runs))) for n, runs in http.items()]
    table(("command", *RESULT_COLUMNS, "PG CPU ms/req"), rows)
    print("== C: SpiffWorkflow alone, in memory, this process (median of rounds)")
    rows = []
    for name, samples in baseline.items():
        rate = med(len(r) / sum(r) for r in samples.rounds)
        rows.append((name, f"{rate:,.0f}", fmt_seconds(samples.median()), ms(med(samples.cpu))))
    table(("engine op", "ops/s", "median", "CPU ms/op"), rows)
    print("== CPU per command, ms (server split by C and the service in-process, 8 at a time)")
    rows = []
    for name in http:
        server, pg = med(r.cpu for r in http[name]), med(r.db_cpu for r in http[name])
        core, (in_process, statements) = med(baseline[name].cpu), service[name]
        parts = [core, in_process - core, server - in_process]
        shares = [f"{ms(p)} ({p / server:.0%})" for p in parts]
        ceilings = f"{1 / server:,.0f} / {2 / (server + pg):,.0f}"
        rows.append((name, ms(server), *shares, ms(pg), f"{statements:.0f}", ceilings))
    columns = ("command", "server", "engine (C)", "rest of service", "HTTP + auth")
    table((*columns, "PostgreSQL", "SQL stmts", "ceiling/s: 1 worker / 2 cores (+PG)"), rows)
    print(
        f"  one PostgreSQL round trip (asyncpg, prepared SELECT 1) costs {fmt_seconds(trip[0])}"
        f" of client CPU ({fmt_seconds(trip[1])} wall) on this machine, before any ORM work\n"
    )
    for name, runs in http.items():
        verdicts.target(
            f"{name}s per second through the API", med(r.rps for r in runs), RATES[name]
        )


def report_lists(
    results: dict[tuple[str, str], list[Result]], plans: dict[str, list[str]], verdicts: Verdicts
) -> None:
    for name, plan in plans.items():
        print_plan(f"GET /task ({name}) in {BIG}", plan)
    print(f"== D: GET /task?maxResults={PAGE} as a tenant's member (wrk -c1; median of rounds)")
    rows = [(q, t, *result_cells(results[q, t])) for q in LISTS for t in (BIG, SMALL)]
    table(("query", "tenant", *RESULT_COLUMNS), rows)
    rows = []
    for query in LISTS:
        pairs = zip(results[query, BIG], results[query, SMALL], strict=True)
        ratio = statistics.median(b.p50 / s.p50 for b, s in pairs)
        verdict = verdicts.target(
            f"GET /task ({query}): p50 {BIG} / {SMALL}", ratio, LIST_TARGETS[query]
        )
        read, took = f"{rows_read(plans[query], 'tasks'):,}", f"{execution_ms(plans[query]):.2f}"
        rows.append((query, f"{ratio:.3f}×", read, took, str(LIST_TARGETS[query]), verdict))
    table(("query", "p50 ratio", "rows read (big)", "SQL ms (big)", "target", "verdict"), rows)


def main(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    env = load_env()
    seconds, rounds = (2.0, 2) if args.quick else (float(args.seconds), args.rounds)
    big_n, per_other = (20_000, 20) if args.quick else (100_000, 100)
    other_load = busy_cores()
    header(
        "bench_runtime: start, complete and the task list through the API, vs the engine alone",
        [
            f"wrk -t1 -c8 (lists -c1) -d{seconds:.0f}s, {rounds} rounds, order rotating; one"
            " uvicorn worker; server, PostgreSQL and wrk share this machine",
            f"busy before the run (other processes): {other_load:.2f} cores",
            f"task list: {big_n:,} open tasks in {BIG}, 1,000 in {SMALL},"
            f" {OTHER_TENANTS} tenants x {per_other}",
        ],
    )
    print(f"  seeded in {asyncio.run(seed(env, big_n, per_other)):.1f} s\n", flush=True)
    verdicts = Verdicts()
    try:
        pg = asyncio.run(postmaster_pid(env))
        tokens = {t: asyncio.run(bearer_token(env, f"{t}-member")) for t in (RUN, BIG, SMALL)}
        server = Server("Tessera", "app.main:create_app", server_env(env))
        with running([server]):
            http = runtime_loads(
                server, env, tokens[RUN], pg, seconds=seconds, rounds=rounds, checks=verdicts
            )
            lists = list_loads(server, tokens, pg, seconds=seconds, rounds=rounds, checks=verdicts)
        errors = sum(r.errors for runs in (*http.values(), *lists.values()) for r in runs)
        verdicts.check(f"no failed requests under load ({errors} failed)", errors == 0)
        baseline = asyncio.run(engine_baseline(rounds, 300 if args.quick else 1_000))
        service = uvloop.run(service_in_process(env, 200 if args.quick else 600))
        trip = uvloop.run(round_trip(env))
        report_runtime(http, baseline, service, trip, verdicts)
        report_lists(lists, asyncio.run(list_plans(env)), verdicts)
    finally:
        asyncio.run(cleanup(env))
    code = verdicts.exit_code()
    print(f"wall time {time.perf_counter() - began:.1f} s")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 rounds x 2 s, fewer rows")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3)
    raise SystemExit(main(parser.parse_args()))
