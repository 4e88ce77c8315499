"""Fault test of background work: nothing is lost, nothing takes effect twice.

    .venv/bin/python -m scripts.devservices exec -- .venv/bin/python benchmarks/fault_background.py
    (add --quick for the suite's short version, tests/test_fault_background.py)

What runs: two real arq workers (`arq app.worker.WorkerSettings`, as `make run` starts
them) against the run's PostgreSQL and a Redis of this script's own (so that it can be
restarted). Job runs arrive in waves: every wave is one tick of a shared job fanned out to
every tenant, whose handler (`process.start`) starts a process instance in that tenant,
which writes a `process-instance.started` event to the outbox; a system listener delivers
every such event by webhook to a receiver in this script.

The faults, between waves: a worker killed with SIGKILL (`--kills`, 20; a new one is
started at once), Redis flushed and restarted once, and every database connection of the
application role terminated once (`pg_terminate_backend`). Then the script waits until
nothing is due and checks, from the database and the receiver:

* every run succeeded, and exactly one instance exists per run (no effect twice, none lost);
* every outbox event was delivered, and the receiver saw every event id at least once
  (repeats are counted: at-least-once delivery, harmless by `Tessera-Event-Id`).

It prints the counts and exits 1 if any check fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.db import create_engine, create_session_factory, unit_of_work
from app.core.queue import enqueue_slices
from app.core.tenancy import TenancyContext
from app.models import (
    HistoricProcessInstance,
    JobDefinition,
    JobRun,
    ListenerDelivery,
    OutboxEvent,
)
from app.services import deployments, job_definitions, job_runs, listeners
from app.services.job_definitions import DefinitionInput
from app.services.listeners import ListenerInput
from benchmarks._support import (
    BYPASS,
    ROOT,
    BenchEnv,
    bench_principal,
    load_env,
    make_settings,
    owner_engine,
    runtime_role,
    server_env,
)
from scripts.devservices.processes import free_port
from scripts.devservices.redis import redis_binary, redis_ping

PREFIX = "fault_"
ADMIN = f"{PREFIX}admin"
ADMINS = f"{PREFIX}admins"
JOB_KEY = f"{PREFIX}tick"
PROCESS_KEY = f"{PREFIX}p"
PROCESS = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    id="d" targetNamespace="http://tessera.dev/fault">
  <bpmn:process id="{PROCESS_KEY}" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="work" />
    <bpmn:userTask id="work" />
    <bpmn:sequenceFlow id="f2" sourceRef="work" targetRef="end" />
    <bpmn:endEvent id="end" />
  </bpmn:process>
</bpmn:definitions>
""".encode()


@dataclass(frozen=True)
class Size:
    tenants: int
    waves: int
    kills: int
    workers: int = 2

    @property
    def runs(self) -> int:
        return self.tenants * self.waves


FULL = Size(tenants=50, waves=24, kills=20)
QUICK = Size(tenants=8, waves=6, kills=3)


# --------------------------------------------------------------------------- the receiver


class Receiver(BaseHTTPRequestHandler):
    """Counts the event ids it is sent; answers 200."""

    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.lock:
            self.seen[self.headers.get("Tessera-Event-Id", "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: Any) -> None:
        pass


def start_receiver() -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/events"


# --------------------------------------------------------------------------- processes


@dataclass
class OwnRedis:
    """A redis-server on a fixed port, so that workers find it again after a restart."""

    dir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [str(redis_binary()), "--bind", "127.0.0.1", "--port", str(self.port),
                   "--dir", str(self.dir), "--save", "", "--appendonly", "no"]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 15
        while not redis_ping(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@dataclass
class Workers:
    """The arq workers; a dead one (killed, or exited on its own) is replaced."""

    env: dict[str, str]
    logs: Path
    count: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0
    exited_on_their_own: int = 0

    def start_one(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"worker-{self.started}.log").open("wb")
        command = [sys.executable, "-m", "arq", "app.worker.WorkerSettings"]
        return subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=log, stderr=log)

    def start(self) -> None:
        self.procs = [self.start_one() for _ in range(self.count)]

    def kill_one(self, rng: random.Random) -> None:
        index = rng.randrange(len(self.procs))
        self.procs[index].send_signal(signal.SIGKILL)
        self.procs[index].wait()
        self.procs[index] = self.start_one()

    def replace_dead(self) -> None:
        for index, proc in enumerate(self.procs):
            if proc.poll() is not None:
                self.exited_on_their_own += 1
                self.procs[index] = self.start_one()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


# --------------------------------------------------------------------------- set-up


SEED = [
    "INSERT INTO tenants (id, name) SELECT :p || 't' || n, 'fault' FROM generate_series(1, :n) n",
    "INSERT INTO users (id) VALUES (:admin)",
    "INSERT INTO groups (id) VALUES (:admins)",
    "INSERT INTO group_memberships (group_id, user_id) VALUES (:admins, :admin)",
]


async def seed(env: BenchEnv, size: Size, receiver_url: str) -> None:
    """Tenants and an admin (owner engine); then, as that admin: the shared process, the
    shared job that starts it, and a system listener that sends every start to us."""
    owner = owner_engine(env)
    try:
        async with owner.begin() as connection:
            await connection.execute(BYPASS)
            values = {"p": PREFIX, "n": size.tenants, "admin": ADMIN, "admins": ADMINS}
            for statement in SEED:
                await connection.execute(text(statement), values)
    finally:
        await owner.dispose()
    settings = make_settings(env, admin_groups=[ADMINS])
    engine = create_engine(settings)
    context = TenancyContext.for_principal(bench_principal(ADMIN, admin=True, groups=[ADMINS]))
    try:
        async with unit_of_work(create_session_factory(engine), context, settings=settings) as s:
            await deployments.create_deployment(
                s,
                name=f"{PREFIX}deploy",
                source=None,
                tenant_id=None,
                resources=[deployments.UploadedResource(f"{PROCESS_KEY}.bpmn", PROCESS)],
            )
            await job_definitions.create_definition(
                s,
                JOB_KEY,
                None,
                DefinitionInput(
                    handler="process.start",
                    parameters={"processDefinitionKey": PROCESS_KEY},
                    max_attempts=20,
                ),
            )
            await listeners.create_listener(
                s,
                None,
                ListenerInput(
                    name="fault receiver",
                    event_types=["process-instance.started"],
                    action="webhook",
                    target={"url": receiver_url},
                    secret=None,
                    enabled=True,
                    max_attempts=25,
                    allow_private_network=True,
                ),
            )
    finally:
        await engine.dispose()


async def wave(env: BenchEnv, redis_url: str, number: int) -> int:
    """One tick of the shared job for every tenant, woken like the sweeper wakes it."""
    settings = make_settings(env)
    engine = create_engine(settings)
    try:
        factory = create_session_factory(engine)
        async with unit_of_work(factory, TenancyContext.system(), settings=settings) as session:
            definition = await session.scalar(
                select(JobDefinition).where(JobDefinition.key == JOB_KEY)
            )
            assert definition is not None
            tick = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=number)
            tenants = await job_definitions.create_runs(
                session, definition, scheduled_for=tick, trigger="schedule", acting_user=ADMIN
            )
    finally:
        await engine.dispose()
    redis = ArqRedis.from_url(redis_url)
    try:
        await enqueue_slices(redis, job_runs.SLICE_FUNCTION, tenants)
    except (OSError, RedisError):
        pass  # Redis is down right now: the sweeper enqueues them once it is back
    finally:
        await redis.aclose()
    return len(tenants)


async def drop_connections(env: BenchEnv) -> int:
    """As the application role itself (a role may end its own backends): every other
    connection of the workers' role ends, mid-transaction or idle in a pool. Tried again
    for a moment if none is open right now (workers just restarted)."""
    engine = create_async_engine(env.database_url, poolclass=NullPool)
    terminate = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE usename = :role AND pid <> pg_backend_pid()"
    )
    try:
        for _ in range(50):
            async with engine.connect() as connection:
                result = await connection.execute(terminate, {"role": runtime_role(env)})
                dropped = int(result.scalar_one())
            if dropped:
                return dropped
            await asyncio.sleep(0.1)
        return 0
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- checking


@dataclass
class Counts:
    runs: Counter[str]
    instances: int
    distinct_results: int
    events: int
    deliveries: Counter[str]
    event_ids: set[str]


async def counts(env: BenchEnv) -> Counts:
    owner = owner_engine(env)
    try:
        async with owner.begin() as connection:
            await connection.execute(BYPASS)
            runs = Counter(
                dict(
                    (
                        await connection.execute(
                            select(JobRun.status, func.count()).group_by(JobRun.status)
                        )
                    ).all()
                )
            )
            instances = (
                await connection.execute(
                    select(func.count()).where(
                        HistoricProcessInstance.process_definition_key == PROCESS_KEY
                    )
                )
            ).scalar_one()
            distinct_results = (
                await connection.execute(
                    select(func.count(func.distinct(JobRun.result["processInstanceId"].astext)))
                )
            ).scalar_one()
            events = (
                await connection.execute(
                    select(OutboxEvent.id).where(
                        OutboxEvent.event_type == "process-instance.started"
                    )
                )
            ).scalars()
            event_ids = {str(e) for e in events}
            deliveries = Counter(
                dict(
                    (
                        await connection.execute(
                            select(ListenerDelivery.status, func.count()).group_by(
                                ListenerDelivery.status
                            )
                        )
                    ).all()
                )
            )
    finally:
        await owner.dispose()
    return Counts(runs, instances, distinct_results, len(event_ids), deliveries, event_ids)


def settled(found: Counts, expected_runs: int) -> bool:
    return (
        found.runs.get("succeeded", 0) + found.runs.get("failed", 0) == expected_runs
        and found.deliveries.get("pending", 0) == 0
        and sum(found.deliveries.values()) >= found.events
    )


# --------------------------------------------------------------------------- the run


async def chaos(env: BenchEnv, size: Size, redis: OwnRedis, workers: Workers) -> list[str]:
    rng = random.Random(11)
    log: list[str] = []
    kills = Counter(rng.choices(range(size.waves), k=size.kills))  # SIGKILLs after each wave
    redis_wave, database_wave = size.waves // 3, (2 * size.waves) // 3
    for number in range(size.waves):
        await wave(env, redis.url, number)
        await asyncio.sleep(rng.uniform(0.2, 0.6))  # let the workers get into it
        for _ in range(kills[number]):
            workers.kill_one(rng)
            log.append(f"wave {number}: SIGKILL a worker")
            await asyncio.sleep(rng.uniform(0.1, 0.4))
        if number == redis_wave:
            flushed = Redis.from_url(redis.url)
            await flushed.flushall()
            await flushed.aclose()
            redis.stop()
            redis.start()
            log.append(f"wave {number}: Redis flushed and restarted")
        if number == database_wave:
            dropped = await drop_connections(env)
            if not dropped:
                raise RuntimeError("no database connection of the workers to terminate")
            log.append(f"wave {number}: {dropped} database connections terminated")
        workers.replace_dead()
    return log


async def wait_settled(env: BenchEnv, size: Size, workers: Workers, *, within: float) -> Counts:
    deadline = time.monotonic() + within
    while True:
        workers.replace_dead()
        found = await counts(env)
        if settled(found, size.runs) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(1.0)


def report(size: Size, found: Counts, seen: Counter[str], elapsed: float, workers: Workers) -> bool:
    received = set(seen) - {""}
    missing = found.event_ids - received
    repeats = sum(n - 1 for n in seen.values() if n > 1)
    succeeded = found.runs.get("succeeded", 0)
    exactly_once = (
        succeeded == size.runs
        and found.instances == size.runs
        and found.distinct_results == size.runs
    )
    delivered = found.events == size.runs and not missing
    print(f"runs: {size.runs} due, {dict(found.runs)} (by status)")
    print(f"instances started: {found.instances} (distinct run results: {found.distinct_results})")
    print(f"events: {found.events} in the outbox, deliveries {dict(found.deliveries)}")
    print(
        f"receiver: {len(received)} distinct event ids, {repeats} repeats, {len(missing)} missing"
    )
    print(f"workers started: {workers.started}, exited on their own: {workers.exited_on_their_own}")
    print(f"settled {elapsed:.1f} s after the first wave")
    print(f"exactly once in effect: {'yes' if exactly_once else 'NO'}")
    print(f"every event delivered at least once: {'yes' if delivered else 'NO'}")
    return exactly_once and delivered


def print_worker_logs(directory: Path) -> None:
    for log in sorted(directory.glob("worker-*.log"))[-2:]:
        print(f"--- {log.name} (tail)\n{log.read_text()[-3000:]}")


async def main(args: argparse.Namespace) -> int:
    size = QUICK if args.quick else FULL
    env = load_env()
    receiver, receiver_url = start_receiver()
    with tempfile.TemporaryDirectory(prefix="fault_") as tmp:
        redis = OwnRedis(Path(tmp))
        redis.start()
        env = BenchEnv(env.database_url, env.owner_url, redis.url)
        await seed(env, size, receiver_url)
        worker_env = server_env(
            env,
            ADMIN_GROUPS=ADMINS,
            WORKER_JOB_TIMEOUT_SECONDS="6",
            JOB_RETRY_BACKOFF_SECONDS="1",
            LOG_LEVEL="WARNING",
        )
        workers = Workers(worker_env, Path(tmp), size.workers)
        print(f"# fault test: {size.tenants} tenants x {size.waves} waves = {size.runs} runs, "
              f"{size.kills} SIGKILLs, {size.workers} workers")  # fmt: skip
        workers.start()
        began = time.monotonic()
        try:
            for line in await chaos(env, size, redis, workers):
                print(f"  {line}")
            found = await wait_settled(env, size, workers, within=args.timeout)
            elapsed = time.monotonic() - began
        finally:
            workers.stop()
            redis.stop()
            receiver.shutdown()
        ok = report(size, found, Receiver.seen, elapsed, workers)
        if not ok:
            print_worker_logs(Path(tmp))
    return 0 if ok else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the suite's short version")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to settle")
    return parser.parse_args()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(parse_args())))
