"""Throughput of an authenticated `GET /tenant/{id}` through the whole Tessera stack.

Measured: Tessera (`app.main:create_app`, settings from the environment) served by uvicorn
in a subprocess (one worker, uvloop + httptools, access log off, LOG_LEVEL=WARNING), called
with a bearer token from `create_access_token` by a member of the tenant. Per request:
middleware, JWT check, unit of work (BEGIN, `load_principal`, set_config of the RLS
settings, `session.get(Tenant)`, COMMIT), pydantic response.
Baseline: a bare FastAPI + asyncpg app (`benchmarks/_bare_app.py`), same uvicorn process
model and pool size (10 + 10 overflow), running `SELECT id, name FROM tenants WHERE id = $1`
on its pool. Info lines, same bare process: `/tx/tenant/{id}` sends by hand the round trips
a Tessera request makes (JWT, BEGIN, principal query, set_config, tenant query, COMMIT), and
`/ping` (no database) shows the ceiling of this client on this machine.
Load: one httpx.AsyncClient, 16 concurrent keep-alive connections, a fixed number of
requests per round against 127.0.0.1; rounds alternate between the servers.
Target: Tessera ≥ 50% of the bare app's requests/second (median of per-round ratios).

    python benchmarks/bench_http_get.py [--quick] [--concurrency N]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from app.core.security import create_access_token
from benchmarks._support import (
    BENCH_SECRET,
    BenchEnv,
    Target,
    asyncpg_dsn,
    delete_platform_rows,
    header,
    load_env,
    make_settings,
    owner_engine,
)

PREFIX = "bench-http-"
TENANT = f"{PREFIX}t1"
USER = f"{PREFIX}u1"
ROOT = Path(__file__).resolve().parents[1]
TARGET = Target(">=", 0.50)


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    target: str  # uvicorn factory "module:function"
    env: dict[str, str] = field(repr=False)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def child_env(env: BenchEnv, **extra: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k not in {"ADMIN_USER", "ADMIN_PASSWORD"}}
    values.update(
        DATABASE_URL=env.database_url,
        DATABASE_OWNER_URL=env.owner_url,
        REDIS_URL=env.redis_url,
        SECRET_KEY=BENCH_SECRET,
        ENVIRONMENT="test",
        LOG_LEVEL="WARNING",
        LOG_JSON="false",
        TENANT_CHECK_ENABLED="true",
        DATABASE_POOL_SIZE="10",
        DATABASE_MAX_OVERFLOW="10",
        PYTHONPATH=str(ROOT),
    )
    values.update(extra)
    return values


def start(server: Server, logs: Path) -> None:
    server.port = free_port()
    server.log = logs / f"{server.name}.log"
    command = [
        sys.executable, "-m", "uvicorn", server.target, "--factory",
        "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1",
        "--log-level", "warning", "--no-access-log", "--app-dir", str(ROOT),
    ]  # fmt: skip
    with server.log.open("wb") as log:
        server.process = subprocess.Popen(  # noqa: S603 - fixed command, our interpreter
            command, env=server.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )


async def wait_ready(server: Server, client: httpx.AsyncClient, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            break
        with contextlib.suppress(httpx.TransportError):
            if (await client.get(server.base_url + path)).status_code == 200:
                return
        await asyncio.sleep(0.1)
    log = server.log.read_text() if server.log else ""
    raise RuntimeError(f"{server.name} did not start:\n{log}")


def stop(server: Server) -> None:
    if server.process is None or server.process.poll() is not None:
        return
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


# --------------------------------------------------------------------------- load


def cpu_seconds(server: Server) -> float:
    """User + system CPU of the server process so far (Linux /proc); 0 if unavailable."""
    assert server.process is not None
    try:
        fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    requests_per_second: float
    latencies: list[float]
    errors: int
    cpu_per_request: float = 0.0  # server process CPU seconds (user + system) per request


@dataclass
class Series:
    runs: list[Run] = field(default_factory=list)

    def rps(self) -> list[float]:
        return [r.requests_per_second for r in self.runs]

    def cpu(self) -> list[float]:
        return [r.cpu_per_request for r in self.runs]

    def latency(self, q: float) -> float:
        data = sorted(x for r in self.runs for x in r.latencies)
        return data[min(len(data) - 1, int(q * len(data)))]


async def load(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], *, total: int, concurrency: int
) -> Run:
    """`total` GETs of `url` from `concurrency` workers sharing one counter."""
    remaining = total
    latencies: list[float] = []
    errors = 0

    async def worker() -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            response = await client.get(url, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Run(total / elapsed, latencies, errors)


async def db_sessions(env: BenchEnv) -> int:
    """Connections ever opened to this database (pg_stat_database.sessions, PG ≥ 14)."""
    engine = owner_engine(env)
    try:
        async with engine.connect() as connection:
            value = await connection.scalar(
                text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            )
    finally:
        await engine.dispose()
    return int(value or 0)


# --------------------------------------------------------------------------- data


async def create_data(env: BenchEnv) -> None:
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await delete_platform_rows(connection, PREFIX)
            await connection.execute(
                text("INSERT INTO tenants (id, name) VALUES (:t, 'Benchmark tenant')"),
                {"t": TENANT},
            )
            await connection.execute(text("INSERT INTO users (id) VALUES (:u)"), {"u": USER})
            await connection.execute(
                text("INSERT INTO tenant_user_memberships (tenant_id, user_id) VALUES (:t, :u)"),
                {"t": TENANT, "u": USER},
            )
    finally:
        await engine.dispose()


async def delete_data(env: BenchEnv) -> None:
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await delete_platform_rows(connection, PREFIX)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- main


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench_http_") as logs:
        try:
            for server in servers:
                start(server, Path(logs))
            yield Path(logs)
        finally:
            for server in servers:
                stop(server)


async def main(args: argparse.Namespace) -> None:
    began = time.perf_counter()
    env = load_env()
    settings = make_settings(env)
    total, rounds = (300, 3) if args.quick else (1000, 5)
    concurrency = args.concurrency
    header(
        "bench_http_get: authenticated GET /tenant/{id}, Tessera vs bare FastAPI + asyncpg",
        [
            f"uvicorn subprocess per app, 1 worker; httpx.AsyncClient, {concurrency} "
            f"concurrent keep-alive connections; {rounds} rounds x {total} requests per variant",
            "both apps share this machine's cores with PostgreSQL and the client",
        ],
    )
    await create_data(env)
    tessera = Server("tessera", "app.main:create_app", child_env(env))
    bare = Server(
        "bare",
        "benchmarks._bare_app:create_app",
        child_env(
            env,
            BENCH_BARE_DSN=asyncpg_dsn(env.database_url),
            BENCH_SECRET=BENCH_SECRET,
            BENCH_POOL_MIN="10",
            BENCH_POOL_MAX="20",
        ),
    )
    token, _ = create_access_token(settings, USER)
    auth = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    try:
        with running([tessera, bare]):
            async with httpx.AsyncClient(limits=limits, timeout=60) as client:
                await wait_ready(tessera, client, "/health")
                await wait_ready(bare, client, "/ping")
                variants = {
                    "bare FastAPI + asyncpg": (bare, f"/tenant/{TENANT}"),
                    "Tessera": (tessera, f"/tenant/{TENANT}"),
                    "bare + Tessera's round trips": (bare, f"/tx/tenant/{TENANT}"),
                    "bare /ping (no database)": (bare, "/ping"),
                }
                urls = {name: server.base_url + path for name, (server, path) in variants.items()}
                for name, url in urls.items():
                    response = await client.get(url, headers=auth)
                    if response.status_code != 200 or (
                        "ping" not in url and response.json().get("id") != TENANT
                    ):
                        raise RuntimeError(f"{name}: {response.status_code} {response.text}")
                names = list(variants)
                for name in names:  # warm-up: pools filled, statements prepared
                    await load(client, urls[name], auth, total=total // 2, concurrency=concurrency)
                results = {name: Series() for name in names}
                sessions = {name: 0 for name in names}
                for r in range(rounds):
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        server = variants[name][0]
                        before = await db_sessions(env)
                        cpu_before = cpu_seconds(server)
                        run = await load(
                            client, urls[name], auth, total=total, concurrency=concurrency
                        )
                        run.cpu_per_request = (cpu_seconds(server) - cpu_before) / total
                        sessions[name] += await db_sessions(env) - before - 1
                        results[name].runs.append(run)
        report(results, sessions, baseline=names[0], measured=names[1], total=total * rounds)
    finally:
        await delete_data(env)
    print(f"wall time {time.perf_counter() - began:.1f} s")


def report(
    results: dict[str, Series], sessions: dict[str, int], *, baseline: str, measured: str,
    total: int,
) -> None:  # fmt: skip
    print("== GET /tenant/{id}: requests/second and server CPU per request (medians of rounds)")
    width = max(len(n) for n in results)
    for name, series in results.items():
        tag = "baseline" if name == baseline else ("measured" if name == measured else "info")
        rps = series.rps()
        print(
            f"  {tag:8}  {name:<{width}}  {statistics.median(rps):6.0f} req/s"
            f" (rounds {min(rps):.0f}–{max(rps):.0f})"
            f"  server CPU {statistics.median(series.cpu()) * 1e6:5.0f} µs/req"
            f"  latency p50 {series.latency(0.5) * 1e3:5.1f} ms"
            f" p99 {series.latency(0.99) * 1e3:5.1f} ms"
            f"  new DB connections {max(sessions[name], 0)}"
            f"  non-200 {sum(r.errors for r in series.runs)}/{total}"
        )
    ratios = [m / b for m, b in zip(results[measured].rps(), results[baseline].rps(), strict=True)]
    ratio = statistics.median(ratios)
    met = TARGET.met(ratio)
    print(
        f"  ratio {measured} / {baseline}: {ratio:.3f}× of bare throughput "
        f"(rounds {min(ratios):.3f}–{max(ratios):.3f})  target {TARGET}  "
        f"{'MET' if met else 'MISSED'}"
    )
    cpu = {n: statistics.median(s.cpu()) for n, s in results.items()}
    names = list(results)
    if len(names) >= 4 and all(cpu.values()):
        bare, tessera, trips, ping = (cpu[n] for n in names[:4])
        print(
            f"  server CPU per request: ping {ping * 1e6:.0f} µs; bare {bare * 1e6:.0f} µs; "
            f"+ Tessera's round trips and JWT {(trips - bare) * 1e6:+.0f} µs; "
            f"+ Python stack (DI, ORM, tenancy, schemas) {(tessera - trips) * 1e6:+.0f} µs"
        )
        ceiling = statistics.median(results[names[3]].rps())
        print(
            f"  if the server were the only bottleneck: Tessera ≈ {bare / tessera:.3f}× of bare "
            f"(CPU ratio); the client tops out near {ceiling:.0f} req/s (/ping), which caps "
            "the bare app's figure"
        )
    print(f"\nsummary: {int(met)}/1 targets met")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer requests and rounds")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent connections")
    arguments = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(arguments))
    else:
        uvloop.run(main(arguments))
