"""What every benchmark shares: environment, tables, servers, load, CPU, targets, reports.

* Environment: `load_env()` (DATABASE_URL = runtime role under RLS, DATABASE_OWNER_URL,
  REDIS_URL, as `make bench` sets them) and `make_settings()`.
* Servers: `Server` + `running()` start uvicorn subprocesses (factory app, one worker,
  uvloop + httptools, access log off, LOG_LEVEL=WARNING) on free loopback ports and wait
  until they answer; `Server.cpu_seconds()` is the process's own CPU time (/proc stat).
* Load: `wrk()` runs wrk (`--latency`, a small Lua script for bodies, headers, rotating
  paths and per-request keys) and reads requests/s, p50, p99 and errors from its output;
  `measure()` adds the server's CPU per request (CPU sampled before and after the run,
  divided by the requests wrk reports), the figure no client can cap, and PostgreSQL's
  (`postmaster_pid()`, `cluster_cpu_seconds()`); `busy_cores()` shows other load.
* In-process timing: `run_interleaved()` for benchmarks without HTTP.
* Verdicts: a `Target` is a comparison and a threshold; `Verdicts` records each one a
  benchmark prints and `Verdicts.exit_code()` is 1 when any was missed. A target known not to
  be met yet is declared so (`Target(..., known_miss="why")`) and printed as "known miss
  (not yet met)": it does not fail the run, and it is never hidden.
* Reports: `table()` (the one table printer), `report_latency()`, EXPLAIN helpers.

Rounds rotate the order of the variants, so drift on a noisy machine hits all alike.
Longer than ~400 lines on purpose: issue 13 asks for ONE support module, so that no benchmark
keeps a copy of another's helpers; its sections (marked below) do not depend on each other.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from sqlalchemy import ForeignKeyConstraint, PrimaryKeyConstraint, UniqueConstraint, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex, Table

from app.core.config import Settings
from app.core.security import create_access_token
from app.core.tenancy import (
    RLS_BYPASS,
    RLS_TENANT_IDS,
    Principal,
    TenancyContext,
    row_level_security_ddl,
    tenant_scoped_tables,
)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
BENCH_SECRET = "benchmark-secret-key-long-enough-for-hs256-0123456789abcdef"
# RLS is FORCEd for the owner too: its bulk loads and clean-ups run with the bypass on.
BYPASS = text("SELECT set_config('tessera.bypass', 'on', true)")

# --------------------------------------------------------------------------- environment


@dataclass(frozen=True, slots=True)
class BenchEnv:
    database_url: str  # runtime role, under RLS
    owner_url: str  # table owner: creates tables and bulk data
    redis_url: str


def load_env() -> BenchEnv:
    names = ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL")
    if missing := [n for n in names if not os.environ.get(n)]:
        raise SystemExit(f"set {', '.join(missing)} (`make bench` sets them)")
    return BenchEnv(*(os.environ[n] for n in names))


def make_settings(env: BenchEnv, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": env.database_url,
        "database_owner_url": env.owner_url,
        "redis_url": env.redis_url,
        "secret_key": BENCH_SECRET,
        "log_level": "WARNING",
        "log_json": False,
        "tenant_check_enabled": True,
        "admin_user": None,
        "admin_password": None,
    }
    return Settings(**(values | overrides))


def runtime_role(env: BenchEnv) -> str:
    if not (role := make_url(env.database_url).username):
        raise SystemExit("DATABASE_URL names no user: cannot grant it the benchmark tables")
    return role


def asyncpg_dsn(url: str) -> str:
    """`postgresql+asyncpg://…` → `postgresql://…` for asyncpg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def owner_engine(env: BenchEnv) -> AsyncEngine:
    return create_async_engine(env.owner_url, poolclass=NullPool)


# In-process callers have no user row; their principal is never re-validated (that check
# belongs to the request path, measured over HTTP).
NO_GENERATION = "00000000-0000-0000-0000-000000000000"


def bench_principal(
    user_id: str, tenant_ids: Iterable[str] = (), *, groups: Iterable[str] = (), admin: bool = False
) -> Principal:
    return Principal(
        user_id, frozenset(groups), frozenset(tenant_ids), admin, NO_GENERATION, version=0
    )


async def bearer_token(env: BenchEnv, user_id: str) -> str:
    """A valid token of `user_id` (seeded beforehand), at its current token generation."""
    engine = owner_engine(env)
    try:
        async with engine.connect() as connection:
            generation = (
                await connection.execute(
                    text("SELECT token_generation FROM users WHERE id = :id"), {"id": user_id}
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    token, _ = create_access_token(make_settings(env), user_id, generation)
    return token


# What the tenancy core sends at the start of a unit of work, for by-hand replicas.
SETTINGS_SQL = (
    f"SELECT set_config('{RLS_TENANT_IDS}', $1, true), set_config('{RLS_BYPASS}', $2, true)"
)


def settings_parameters(context: TenancyContext) -> tuple[str, str]:
    return ",".join(sorted(context.tenant_ids)), "on" if context.sees_all else "off"


def header(title: str, lines: Iterable[str]) -> None:
    print(f"# {title}")
    print(f"#   python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.machine()}")
    for line in lines:
        print(f"#   {line}")
    print(flush=True)


# --------------------------------------------------------------------------- tables and data


def bench_tables(base: type[DeclarativeBase]) -> list[Any]:
    """The benchmark's own tables (a `tenants` stand-in is only there for foreign keys)."""
    return [t for t in base.metadata.sorted_tables if t.name.startswith("bench_")]


async def create_bench_tables(connection: AsyncConnection, base: type[DeclarativeBase]) -> None:
    """Create the tables as the owner (no RLS yet, so bulk loads need no settings)."""
    await drop_bench_tables(connection, base)
    await connection.run_sync(base.metadata.create_all, tables=bench_tables(base))


async def secure_bench_tables(
    connection: AsyncConnection, base: type[DeclarativeBase], *, runtime: str
) -> None:
    """RLS exactly as migrations do it, and DML for the runtime role; after the bulk load."""
    for table, kind in tenant_scoped_tables(base.registry.mappers):
        for statement in row_level_security_ddl(table, kind):
            await connection.execute(text(statement))
    names = ", ".join(t.name for t in bench_tables(base))
    await connection.execute(
        text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON {names} TO "{runtime}"')
    )


async def drop_bench_tables(connection: AsyncConnection, base: type[DeclarativeBase]) -> None:
    for table in reversed(bench_tables(base)):
        await connection.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))


async def bulk_load(
    connection: AsyncConnection, table: Table, insert: str, params: dict[str, Any]
) -> None:
    """Run `insert` (INSERT … SELECT generate_series) with the table's keys and indexes
    dropped, then build them again: ~4x faster than maintaining them row by row."""
    kinds = (PrimaryKeyConstraint, UniqueConstraint, ForeignKeyConstraint)  # keys first
    constraints = [c for kind in kinds for c in table.constraints if isinstance(c, kind)]
    for index in table.indexes:
        await connection.execute(DropIndex(index))
    for constraint in reversed(constraints):
        await connection.execute(DropConstraint(constraint))
    await connection.execute(text(insert), params)
    for constraint in constraints:
        await connection.execute(AddConstraint(constraint))
    for index in table.indexes:
        await connection.execute(CreateIndex(index))


async def vacuum_analyze(engine: AsyncEngine, *tables: str) -> None:
    """VACUUM (ANALYZE): statistics, hint bits and visibility map as on a settled table."""
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for table in tables:
            await autocommit.execute(text(f"VACUUM (ANALYZE) {table}"))


async def delete_platform_rows(connection: AsyncConnection, prefix: str) -> None:
    """Remove the benchmark's tenants, users and groups; memberships cascade."""
    pattern = {"p": prefix.replace("_", r"\_") + "%"}
    for table in ("tenants", "users", "groups"):
        statement = text(f"DELETE FROM {table} WHERE id LIKE :p")  # noqa: S608 - fixed names
        await connection.execute(statement, pattern)


# --------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A uvicorn subprocess serving `factory` ("module:function")."""

    name: str
    factory: str
    env: dict[str, str] = field(repr=False)
    ready_path: str = "/health"
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (Linux /proc/<pid>/stat)."""
        assert self.process is not None
        stat = _proc_stat(self.process.pid)
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def server_env(env: BenchEnv, **extra: str) -> dict[str, str]:
    """The environment of a server: the bench databases, a fixed key, quiet logs."""
    values = {k: v for k, v in os.environ.items() if k not in {"ADMIN_USER", "ADMIN_PASSWORD"}}
    values |= {
        "DATABASE_URL": env.database_url,
        "DATABASE_OWNER_URL": env.owner_url,
        "REDIS_URL": env.redis_url,
        "SECRET_KEY": BENCH_SECRET,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
        "TENANT_CHECK_ENABLED": "true",
        "DATABASE_POOL_SIZE": "10",
        "DATABASE_MAX_OVERFLOW": "10",
        "PYTHONPATH": str(ROOT),
    }
    return values | extra


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(
    method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
) -> tuple[int, Any]:
    """One request (sanity checks before a load): status and decoded JSON body."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback servers
        url, data=body, method=method, headers=dict(headers or {})
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            status, data = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, data = error.code, error.read()
    return status, json.loads(data) if data else None


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
        return bool(response.status == 200)
    return False


@contextlib.contextmanager
def running(servers: Sequence[Server], *, timeout: float = 60) -> Iterator[None]:
    """Start every server, wait until each answers its `ready_path`, stop them on exit."""
    with tempfile.TemporaryDirectory(prefix="bench_servers_") as logs:
        try:
            for server in servers:
                server.port, server.log = _free_port(), Path(logs) / f"{server.name}.log"
                command = [
                    sys.executable, "-m", "uvicorn", server.factory, "--factory",
                    "--host", "127.0.0.1", "--port", str(server.port), "--workers", "1",
                    "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                    "--log-level", "warning", "--app-dir", str(ROOT),
                ]  # fmt: skip
                with server.log.open("wb") as log:
                    server.process = subprocess.Popen(
                        command, env=server.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
                    )
            for server in servers:
                deadline = time.monotonic() + timeout
                while not _answers(server.url + server.ready_path):
                    assert server.process is not None
                    if server.process.poll() is not None or time.monotonic() > deadline:
                        output = server.log.read_text() if server.log else ""
                        raise RuntimeError(f"{server.name} did not start:\n{output}")
                    time.sleep(0.1)
            yield
        finally:
            for server in servers:
                if server.process is not None and server.process.poll() is None:
                    server.process.terminate()
                    try:
                        server.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        server.process.kill()
                        server.process.wait()


# --------------------------------------------------------------------------- load: wrk


def ensure_wrk() -> str:
    """wrk from PATH; else install the Debian package (we run as root) and say so."""
    if found := shutil.which("wrk"):
        return found
    print("wrk is not on PATH: installing it with `apt-get install -y wrk`", flush=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "wrk"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        print("apt-get install failed: running `apt-get update`, then again", flush=True)
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    if not (found := shutil.which("wrk")):
        raise SystemExit("wrk is still not on PATH after installing it")
    return found


KEY = "@@KEY@@"  # in a `Load.body`: replaced by a key unique to each request


@dataclass(frozen=True, slots=True)
class Load:
    """What wrk sends: one path, or several taken in turn; an optional body, in which
    every `KEY` is replaced by a key unique to the request (`<thread>-<n>`)."""

    paths: tuple[str, ...]
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | bytes | None = None


def _lua(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    safe = set(b" -_./:=?&,;()[]{}<>@#%+*!'~|^$") | set(range(48, 58)) | set(range(65, 91))
    safe |= set(range(97, 123))
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in data) + '"'


def lua_script(load: Load) -> str:
    lines = [f"wrk.method = {_lua(load.method)}"]
    lines += [f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in load.headers.items()]
    body = load.body.encode() if isinstance(load.body, str) else load.body
    keyed = body is not None and KEY.encode() in body
    if body is not None and not keyed:
        lines.append(f"wrk.body = {_lua(body)}")
    if len(load.paths) == 1 and not keyed:
        return "\n".join(lines) + "\n"  # wrk builds the request once: the fastest client
    parts = body.split(KEY.encode()) if body is not None and keyed else []
    lines += [
        "local threads = 0",
        "function setup(thread) threads = threads + 1; thread:set('tid', threads) end",
        f"local paths = {{{', '.join(_lua(p) for p in load.paths)}}}",
        f"local parts = {{{', '.join(_lua(p) for p in parts)}}}",
        "local n = 0",
        "request = function()",
        "  n = n + 1",
        "  local path = paths[(n - 1) % #paths + 1]",
        "  if #parts == 0 then return wrk.format(nil, path) end",
        "  local key = tid .. '-' .. n",
        "  return wrk.format(nil, path, nil, table.concat(parts, key))",
        "end",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Result:
    requests: int
    rps: float
    p50: float  # seconds
    p99: float
    errors: int  # non-2xx/3xx responses + socket errors
    cpu: float = 0.0  # server CPU seconds per request (0 when not measured)
    db_cpu: float = 0.0  # PostgreSQL's CPU seconds per request (0 when not measured)


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> Result:
    def number(pattern: str) -> float:
        found = re.search(pattern, output)
        if found is None:
            raise RuntimeError(f"wrk output without /{pattern}/:\n{output}")
        return float(found[1])

    latency = {int(q): float(v) * _UNITS[u] for q, v, u in _LATENCY.findall(output)}
    socket_errors = _SOCKET_ERRORS.search(output)
    errors = sum(int(x) for x in socket_errors.groups()) if socket_errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Result(
        requests=int(number(r"(\d+) requests in")),
        rps=number(r"Requests/sec:\s+([\d.]+)"),
        p50=latency[50],
        p99=latency[99],
        errors=errors + (int(non2xx[1]) if non2xx else 0),
    )


def wrk(
    base_url: str, load: Load, *, seconds: float, connections: int = 8, threads: int = 1
) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua_script(load))
        script.flush()
        command = [
            ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--latency", "-s", script.name, base_url + load.paths[0],
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}")
    return parse_wrk(done.stdout)


def measure(
    server: Server,
    load: Load,
    *,
    seconds: float,
    connections: int = 8,
    postmaster: int | None = None,
) -> Result:
    """wrk against `server`, plus the server's own CPU time per request served, and
    PostgreSQL's when given its `postmaster` pid (`postmaster_pid()`)."""
    before = server.cpu_seconds()
    db_before = cluster_cpu_seconds(postmaster) if postmaster else 0.0
    result = wrk(server.url, load, seconds=seconds, connections=connections)
    requests = max(result.requests, 1)
    cpu = (server.cpu_seconds() - before) / requests
    db_cpu = (cluster_cpu_seconds(postmaster) - db_before) / requests if postmaster else 0.0
    return Result(result.requests, result.rps, result.p50, result.p99, result.errors, cpu, db_cpu)


async def postmaster_pid(env: BenchEnv) -> int:
    """The pid of the PostgreSQL server behind DATABASE_OWNER_URL (on this machine): the
    parent of a backend, so that other clusters on the machine are not counted."""
    engine = owner_engine(env)
    try:
        async with engine.connect() as connection:  # read while the backend lives
            backend = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            return int(_proc_stat(int(backend))[1])
    finally:
        await engine.dispose()


def _proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: [0] state, [1] ppid, [11] utime ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cluster_cpu_seconds(postmaster: int) -> float:
    """CPU of a PostgreSQL cluster so far: the postmaster with the children it reaped
    (cutime, cstime), plus its live children (backends, walwriter, ...)."""
    ticks = sum(int(x) for x in _proc_stat(postmaster)[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = _proc_stat(int(entry.name))
                if int(stat[1]) == postmaster:
                    ticks += int(stat[11]) + int(stat[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def busy_cores(seconds: float = 1.0) -> float:
    """Cores the whole machine kept busy over `seconds` (/proc/stat): sampled before a
    benchmark starts anything, it shows what other processes take from the run."""

    def sample() -> tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(values), values[3] + values[4]  # all, idle + iowait

    total0, idle0 = sample()
    time.sleep(seconds)
    total1, idle1 = sample()
    busy = 1 - (idle1 - idle0) / max(total1 - total0, 1)
    return busy * (os.cpu_count() or 1)


RESULT_COLUMNS = ("req/s", "p50 ms", "p99 ms", "CPU ms/req", "errors")


def result_cells(runs: Sequence[Result]) -> list[str]:
    """Medians over rounds of rate, p50, p99 and CPU per request; failed/all requests."""
    med = statistics.median
    return [
        f"{med(r.rps for r in runs):,.0f}",
        f"{med(r.p50 for r in runs) * 1e3:.2f}",
        f"{med(r.p99 for r in runs) * 1e3:.2f}",
        f"{med(r.cpu for r in runs) * 1e3:.3f}",
        f"{sum(r.errors for r in runs)}/{sum(r.requests for r in runs)}",
    ]


def result_ratios(measured: Sequence[Result], baseline: Sequence[Result]) -> tuple[float, float]:
    """Medians of per-round ratios: measured/baseline req/s, and baseline/measured CPU per
    request (what the throughput ratio is when both servers are CPU-bound)."""
    pairs = list(zip(measured, baseline, strict=True))
    return (
        statistics.median(m.rps / b.rps for m, b in pairs),
        statistics.median(b.cpu / m.cpu for m, b in pairs),
    )


def rotated(items: Sequence[T], round_: int) -> list[T]:
    """`items` rotated by `round_` places: each round starts with another variant."""
    shift = round_ % len(items)
    return [*items[shift:], *items[:shift]]


# --------------------------------------------------------------------------- in-process timing


@dataclass
class Samples:
    """Seconds per operation, one list per round; CPU seconds per operation, one per round
    (this process's CPU time: what a pure in-process operation costs without waits)."""

    rounds: list[list[float]] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def all(self) -> list[float]:
        return [s for r in self.rounds for s in r]

    def median(self) -> float:
        return statistics.median(self.all)

    def quantile(self, q: float) -> float:
        data = sorted(self.all)
        return data[min(len(data) - 1, int(q * len(data)))]

    def round_medians(self) -> list[float]:
        return [statistics.median(r) for r in self.rounds]


async def run_interleaved(
    variants: dict[str, Callable[[int], Awaitable[object]]],
    *,
    rounds: int,
    ops: int,
    warmup: int,
) -> dict[str, Samples]:
    """Time `ops` sequential calls per variant per round, variant order rotating per round,
    after `warmup` untimed calls per variant (connections, prepared statements, caches)."""
    for operation in variants.values():
        for i in range(warmup):
            await operation(i)
    results = {name: Samples() for name in variants}
    for r in range(rounds):
        for name in rotated(list(variants), r):
            gc.collect()
            timings: list[float] = []
            cpu = time.process_time()
            for i in range(ops):
                started = time.perf_counter()
                await variants[name](r * ops + i)
                timings.append(time.perf_counter() - started)
            results[name].cpu.append((time.process_time() - cpu) / ops)
            results[name].rounds.append(timings)
    return results


def paired_ratios(measured: Sequence[float], baseline: Sequence[float]) -> list[float]:
    return [m / b for m, b in zip(measured, baseline, strict=True)]


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True, slots=True)
class Target:
    op: Literal["<=", ">="]
    value: float
    known_miss: str | None = None  # declared "not yet met", with why; printed, never fails
    unit: str = "×"  # a ratio; or an absolute figure's unit, e.g. "/s"

    def met(self, ratio: float) -> bool:
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def format(self, value: float) -> str:
        """`value` as this target speaks of it: 1.234× (a ratio), 1,234/s (a rate)."""
        return f"{value:.3f}×" if self.unit == "×" else f"{value:,.0f}{self.unit}"

    def __str__(self) -> str:
        threshold = f"{self.value:.2f}×" if self.unit == "×" else f"{self.value:,.0f}{self.unit}"
        return f"{'≤' if self.op == '<=' else '≥'} {threshold}"


@dataclass
class Verdicts:
    """Every verdict a benchmark prints; `exit_code()` is 1 if any target was missed
    (declared known misses excepted) or any check failed."""

    lines: list[tuple[str, str]] = field(default_factory=list)

    def target(self, label: str, value: float, target: Target) -> str:
        if target.met(value):
            outcome = "MET" + (" (declared a known miss: drop that)" if target.known_miss else "")
        else:
            outcome = "known miss (not yet met)" if target.known_miss else "MISSED"
        why = f"; declared known miss: {target.known_miss}" if target.known_miss else ""
        self.lines.append((f"{label}: {target.format(value)} (target {target}{why})", outcome))
        return outcome

    def check(self, label: str, ok: bool) -> str:
        outcome = "ok" if ok else "FAILED"
        self.lines.append((label, outcome))
        return outcome

    def exit_code(self) -> int:
        print("== verdicts")
        for label, outcome in self.lines:
            print(f"  {outcome:<26} {label}")
        bad = sum(o in {"MISSED", "FAILED"} for _, o in self.lines)
        known = sum(o.startswith("known miss") for _, o in self.lines)
        print(
            f"summary: {len(self.lines) - bad - known} met or ok, {known} known misses,"
            f" {bad} missed or failed" + (": exit 1" if bad else ""),
            flush=True,
        )
        return 1 if bad else 0


# --------------------------------------------------------------------------- reports


def fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Print rows under `columns`; text left-aligned, numbers right-aligned."""
    cells = [[str(c) for c in columns], *([str(c) for c in row] for row in rows)]
    cells = [row + [""] * (len(columns) - len(row)) for row in cells]  # short rows: blanks
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for row in cells:
        print("  " + "  ".join(_align(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(flush=True)


def _align(cell: str, width: int) -> str:
    numeric = bool(re.fullmatch(r"[-+]?[\d,.]+(×|%| ms| µs)?", cell))
    return cell.rjust(width) if numeric else cell.ljust(width)


def report_latency(
    title: str,
    results: dict[str, Samples],
    *,
    baseline: str,
    measured: str,
    target: Target | None,
    verdicts: Verdicts | None = None,
) -> float:
    """Each variant's latency and measured/baseline (median of per-round ratios of
    medians); recorded in `verdicts` against `target` (None: informational)."""
    print(f"== {title}")
    rows = []
    for name, samples in results.items():
        tag = "baseline" if name == baseline else ("measured" if name == measured else "info")
        rows.append((tag, name, fmt_seconds(samples.median()), fmt_seconds(samples.quantile(0.9))))
    table(("", "variant", "median", "p90"), rows)
    ratios = paired_ratios(results[measured].round_medians(), results[baseline].round_medians())
    ratio = statistics.median(ratios)
    verdict = "no target"
    if target is not None and verdicts is not None:
        verdict = f"target {target}: " + verdicts.target(f"{title}", ratio, target)
    print(
        f"  ratio {measured} / {baseline}: {ratio:.3f}× (rounds {min(ratios):.3f}–"
        f"{max(ratios):.3f})  {verdict}\n"
    )
    return ratio


# --------------------------------------------------------------------------- EXPLAIN


@contextlib.contextmanager
def captured_statements(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of everything `engine` sends inside the block, as sent."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        captured.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)


async def explain_last_select(
    engine: AsyncEngine,
    session: AsyncSession,
    run: Callable[[], Awaitable[object]],
    *,
    generic: bool = False,
) -> list[str]:
    """Run `run()` in `session`, then EXPLAIN ANALYZE the last SELECT it sent, in the same
    transaction (the RLS settings of the session's context apply). `generic=True`: the
    generic plan PostgreSQL may switch a prepared statement to after five runs."""
    with captured_statements(engine) as captured:
        await run()
    selects = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
    statement, parameters = [(s, p) for s, p in selects if "set_config" not in s][-1]
    connection = await session.connection()
    options = "(ANALYZE, BUFFERS, COSTS OFF)"
    if not generic:
        rows = await connection.exec_driver_sql(f"EXPLAIN {options} {statement}", parameters)
        return [row[0] for row in rows]
    await connection.exec_driver_sql(f"PREPARE bench_plan AS {statement}")
    await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    literals = ", ".join(
        str(p) if isinstance(p, bool | int | float) else "'" + str(p).replace("'", "''") + "'"
        for p in parameters
    )
    try:
        rows = await connection.exec_driver_sql(f"EXPLAIN {options} EXECUTE bench_plan({literals})")
        return [row[0] for row in rows]
    finally:
        await connection.exec_driver_sql("DEALLOCATE bench_plan")
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")


def print_plan(title: str, lines: Sequence[str], *, limit: int = 40, width: int = 240) -> None:
    """Print a plan; long lines (a 1,000-element IN list) are cut to `width` characters."""
    print(f"-- EXPLAIN ANALYZE: {title}")
    for line in lines[:limit]:
        print(f"   {line if len(line) <= width else line[:width] + f' … ({len(line)} chars)'}")
    if len(lines) > limit:
        print(f"   … {len(lines) - limit} more lines")
    print()


_ACTUAL = re.compile(r"rows=([\d.]+) loops=(\d+)")
_REMOVED = re.compile(r"^Rows Removed by (?:Filter|Index Recheck): ([\d.]+)")


def rows_read(plan: Sequence[str], table_name: str) -> int:
    """Rows of `table_name` the plan's scan nodes produced or filtered away."""
    total, loops = 0.0, 0
    for line in plan:
        stripped = line.strip()
        if "Scan" in line and f" on {table_name}" in line and "Bitmap Index" not in line:
            found = _ACTUAL.search(line)
            loops = int(found[2]) if found else 0
            total += float(found[1]) * loops if found else 0.0
        elif removed := _REMOVED.match(stripped):
            total += float(removed[1]) * loops
        elif stripped.startswith("->"):
            loops = 0
    return int(total)


def execution_ms(plan: Sequence[str]) -> float:
    line = next((x for x in plan if x.startswith("Execution Time")), "Execution Time: nan ms")
    return float(line.split(":")[1].split()[0])


# --------------------------------------------------------------------------- other processes


def pid_cpu_seconds(pid: int) -> float:
    """User + system CPU of any process so far (an arq worker subprocess, ...), as
    `Server.cpu_seconds()` reads it for a server."""
    stat = _proc_stat(pid)
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
