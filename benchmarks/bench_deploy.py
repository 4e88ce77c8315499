"""Deploy throughput through the whole stack: `POST /deployment/create` of one small BPMN.

Measured: Tessera (`app.main:create_app`, one uvicorn worker) called with the bearer token
of a member of one tenant and `tenant-id` of that tenant, one small BPMN (start → end,
~0.6 kB) per deployment, in two shapes: a new key per deployment (version 1 each) and the
same key every time (new versions, serialized by the per-key advisory lock).
Baseline, same run: the raw asyncpg app (`_bare_app.py`, one uvicorn worker, runtime role
under RLS) answering the same multipart request by writing the same rows by hand in one
transaction (deployment, resource, advisory lock, max(version) + 1, definition), without
parsing the model (the key comes from the file name).
Load: `wrk -t1 -c8 -d<N>s --latency` per server and shape (a Lua script builds the
multipart body, with a key unique to each request for "new key"); rounds rotate the order.
Server CPU per deploy from the uvicorn process's own CPU time. Info: the service in-process
(`deployments.create_deployment` in a unit of work, sequential, CPU per deploy of this
process) and `parse_resource` alone, which split Tessera's server CPU into parse, rest of
the service (ORM, tenancy, asyncpg) and HTTP (multipart, JWT + principal, response).
No ratio target (issue 5 set none). The run fails (exit 1) when a request fails or when the
versions of the same-key deployments are not 1..n without gaps.

    python benchmarks/bench_deploy.py [--quick] [--seconds N] [--connections N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import statistics
import time

from sqlalchemy import text

from app.core.db import create_engine, create_session_factory, unit_of_work
from app.core.tenancy import TenancyContext
from app.services import deployments
from app.services.definitions_parser import parse_resource
from benchmarks._support import (
    BYPASS,
    KEY,
    RESULT_COLUMNS,
    BenchEnv,
    Load,
    Result,
    Server,
    Verdicts,
    bearer_token,
    bench_principal,
    delete_platform_rows,
    fmt_seconds,
    header,
    http_json,
    load_env,
    make_settings,
    measure,
    owner_engine,
    result_cells,
    result_ratios,
    rotated,
    running,
    server_env,
    table,
)

PREFIX = "bench-dep-"
TENANT, DEPLOYER = f"{PREFIX}t", f"{PREFIX}deployer"
BOUNDARY = "tessera-bench-boundary"
SERVERS = ("raw", "Tessera")
SHAPES = ("new key each", "same key")


def bpmn(key: str) -> str:
    """One executable process `key`: start event → end event."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="defs_{key}" targetNamespace="http://tessera.test/bench">
  <bpmn:process id="{key}" name="Benchmark {key}" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>flow</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="flow" sourceRef="start" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>flow</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>
"""


def deploy_load(token: str, key: str) -> Load:
    """The multipart request of one deployment of `bpmn(key)` (KEY in `key`: per request)."""
    fields = {"deployment-name": f"{PREFIX}deploy", "tenant-id": TENANT}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="data"; filename="{key}.bpmn"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n{bpmn(key)}\r\n--{BOUNDARY}--\r\n"
    )
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
    }
    return Load(("/deployment/create",), method="POST", headers=headers, body="".join(parts))


def same_key(server: str) -> str:
    return f"{PREFIX}same-{server.lower()}"


# --------------------------------------------------------------------------- data


async def cleanup(env: BenchEnv) -> None:
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await connection.execute(BYPASS)
            await connection.execute(
                text("DELETE FROM deployments WHERE name LIKE :p"), {"p": f"{PREFIX}%"}
            )
            await delete_platform_rows(connection, PREFIX)
    finally:
        await engine.dispose()


async def seed(env: BenchEnv) -> None:
    await cleanup(env)
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            values = {"t": TENANT, "u": DEPLOYER}
            for statement in (
                "INSERT INTO tenants (id, name) VALUES (:t, 'Benchmark deploys')",
                "INSERT INTO users (id) VALUES (:u)",
                "INSERT INTO tenant_user_memberships (tenant_id, user_id) VALUES (:t, :u)",
            ):
                await connection.execute(text(statement), values)
    finally:
        await engine.dispose()


async def versions_of(env: BenchEnv, key: str) -> list[int]:
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await connection.execute(BYPASS)
            rows = await connection.execute(
                text(
                    "SELECT version FROM process_definitions WHERE tenant_id = :t AND key = :k"
                    " ORDER BY version"
                ),
                {"t": TENANT, "k": key},
            )
            return [int(r[0]) for r in rows]
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- in-process info


async def in_process(env: BenchEnv, count: int) -> tuple[float, float]:
    """CPU seconds per deploy of `create_deployment` in a unit of work (sequential, this
    process: parse + ORM + tenancy + asyncpg client side), and of `parse_resource` alone."""
    settings = make_settings(env)
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    context = TenancyContext.for_principal(bench_principal(DEPLOYER, {TENANT}))

    async def deploy(key: str) -> None:
        async with unit_of_work(factory, context, settings=settings) as session:
            await deployments.create_deployment(
                session,
                name=f"{PREFIX}deploy",
                source=None,
                tenant_id=TENANT,
                resources=[deployments.UploadedResource(f"{key}.bpmn", bpmn(key).encode())],
            )

    try:
        for i in range(10):  # warm-up: pool, prepared statements, validators
            await deploy(f"{PREFIX}warm-{i}")
        started = time.process_time()
        for i in range(count):
            await deploy(f"{PREFIX}service-{i}")
        service = (time.process_time() - started) / count
    finally:
        await engine.dispose()
    data = bpmn(f"{PREFIX}parse").encode()
    started = time.process_time()
    for _ in range(count):
        parse_resource("parse.bpmn", data)
    return service, (time.process_time() - started) / count


# --------------------------------------------------------------------------- main


def report(results: dict[tuple[str, str], list[Result]], service: float, parse: float) -> None:
    print("== POST /deployment/create, one small BPMN each (median of rounds)")
    rows = [(s, n, *result_cells(results[n, s])) for s in SHAPES for n in SERVERS]
    table(("shape", "server", *RESULT_COLUMNS), rows)
    for shape in SHAPES:
        rps, cpu = result_ratios(results["Tessera", shape], results["raw", shape])
        print(
            f"  Tessera / raw ({shape}): {rps:.3f}× deploys/s, {cpu:.3f}× by server CPU (no target)"
        )
    server = statistics.median(r.cpu for r in results["Tessera", "new key each"])
    rest, http = service - parse, server - service
    print(
        f"  where Tessera's server CPU goes (new key each, {server * 1e3:.2f} ms per deploy):"
        f" parse {fmt_seconds(parse)} ({parse / server:.0%}); rest of the service (ORM, tenancy,"
        f" asyncpg; in-process minus parse) {fmt_seconds(rest)} ({rest / server:.0%});"
        f" HTTP (multipart, JWT + principal, response, uvicorn) {fmt_seconds(http)}"
        f" ({http / server:.0%}). One worker tops out near {1 / server:.0f} deploys/s.\n"
    )


def main(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    env = load_env()
    seconds, rounds = (2, 2) if args.quick else (args.seconds, args.rounds)
    spec = f"wrk -t1 -c{args.connections} -d{seconds}s, {rounds} rounds"
    header(
        "bench_deploy: POST /deployment/create through Tessera vs the same rows by hand",
        [f"{spec}; Tessera and the raw app one uvicorn worker each, both under RLS"],
    )
    asyncio.run(seed(env))
    verdicts = Verdicts()
    try:
        token = asyncio.run(bearer_token(env, DEPLOYER))
        servers = {
            "raw": Server(
                "raw", "benchmarks._bare_app:create_raw_app", server_env(env, BENCH_TENANT=TENANT)
            ),
            "Tessera": Server("Tessera", "app.main:create_app", server_env(env)),
        }
        servers["raw"].ready_path = "/ping"
        results: dict[tuple[str, str], list[Result]] = {(n, s): [] for n in SERVERS for s in SHAPES}
        with running(list(servers.values())):
            for name, server in servers.items():
                load = deploy_load(token, f"{PREFIX}check-{name.lower()}")
                assert isinstance(load.body, str)
                status, body = http_json(
                    "POST",
                    server.url + load.paths[0],
                    headers=load.headers,
                    body=load.body.encode(),
                )
                verdicts.check(f"{name} deploys ({status})", status == 200 and bool(body))
            variants = [(n, s) for s in SHAPES for n in SERVERS]
            for r in range(-1, rounds):  # round -1: warm-up, not recorded
                for name, shape in rotated(variants, max(r, 0)):
                    key = f"{PREFIX}{name.lower()}-r{r + 1}-{KEY}"
                    load = deploy_load(token, key if shape == "new key each" else same_key(name))
                    run = measure(
                        servers[name], load, seconds=seconds if r >= 0 else 1,
                        connections=args.connections,
                    )  # fmt: skip
                    if r >= 0:
                        results[name, shape].append(run)
        errors = sum(r.errors for runs in results.values() for r in runs)
        verdicts.check(f"no failed deploys under load ({errors} failed)", errors == 0)
        for name in SERVERS:
            found = asyncio.run(versions_of(env, same_key(name)))
            gap_free = found == list(range(1, len(found) + 1))
            verdicts.check(f"{name}, same key: {len(found)} versions, 1..n gap-free", gap_free)
        service, parse = asyncio.run(in_process(env, 60 if args.quick else 200))
        report(results, service, parse)
    finally:
        asyncio.run(cleanup(env))
    code = verdicts.exit_code()
    print(f"wall time {time.perf_counter() - began:.1f} s")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 rounds x 2 s")
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8, help="wrk -c")
    raise SystemExit(main(parser.parse_args()))
