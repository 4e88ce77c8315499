"""Shared helpers for the benchmarks: environment, table set-up, interleaved timing, reports.

Every benchmark compares a measured variant with a baseline *in the same run*: rounds
alternate between the variants (the order rotates each round), so drift on a noisy
machine hits both alike. A ratio is the median of the per-round ratios of medians.
"""

from __future__ import annotations

import contextlib
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import (
    ForeignKeyConstraint,
    PrimaryKeyConstraint,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex, Table

from app.core.config import Settings
from app.core.tenancy import row_level_security_ddl, tenant_scoped_tables

# --------------------------------------------------------------------------- environment


@dataclass(frozen=True, slots=True)
class BenchEnv:
    database_url: str  # runtime role, under RLS
    owner_url: str  # table owner: creates tables and bulk data
    redis_url: str


def load_env() -> BenchEnv:
    missing = [
        n for n in ("DATABASE_URL", "DATABASE_OWNER_URL", "REDIS_URL") if not os.environ.get(n)
    ]
    if missing:
        print(f"set {', '.join(missing)} (`make bench` sets them)", file=sys.stderr)
        raise SystemExit(2)
    return BenchEnv(
        database_url=os.environ["DATABASE_URL"],
        owner_url=os.environ["DATABASE_OWNER_URL"],
        redis_url=os.environ["REDIS_URL"],
    )


BENCH_SECRET = "benchmark-secret-key-long-enough-for-hs256-0123456789abcdef"


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
    values.update(overrides)
    return Settings(**values)


def runtime_role(env: BenchEnv) -> str:
    role = make_url(env.database_url).username
    if not role:
        raise SystemExit("DATABASE_URL names no user: cannot grant it the benchmark tables")
    return role


def asyncpg_dsn(url: str) -> str:
    """`postgresql+asyncpg://…` → `postgresql://…` for asyncpg itself."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def owner_engine(env: BenchEnv) -> AsyncEngine:
    return create_async_engine(env.owner_url, poolclass=NullPool)


# --------------------------------------------------------------------------- tables and data


def bench_tables(base: type[DeclarativeBase]) -> list[Any]:
    """The benchmark's own tables (the `tenants` stand-in is only there for foreign keys)."""
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


async def bulk_load(
    connection: AsyncConnection, table: Table, insert: str, params: dict[str, Any]
) -> None:
    """Run `insert` (INSERT … SELECT generate_series) with the table's keys and indexes
    dropped, then build them again: ~4x faster than maintaining them row by row."""
    # Keys first when adding (foreign keys of the table may point at its own keys).
    kinds = (PrimaryKeyConstraint, UniqueConstraint, ForeignKeyConstraint)
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


async def drop_bench_tables(connection: AsyncConnection, base: type[DeclarativeBase]) -> None:
    for table in reversed(bench_tables(base)):
        await connection.execute(text(f"DROP TABLE IF EXISTS {table.name} CASCADE"))


async def delete_platform_rows(connection: AsyncConnection, prefix: str) -> None:
    """Remove the benchmark's tenants, users and groups; memberships cascade."""
    pattern = {"p": prefix.replace("_", r"\_") + "%"}
    for table in ("tenants", "users", "groups"):
        statement = text(f"DELETE FROM {table} WHERE id LIKE :p")  # noqa: S608 - fixed names
        await connection.execute(statement, pattern)


# --------------------------------------------------------------------------- timing


Operation = Callable[[int], Awaitable[object]]


@dataclass
class Samples:
    """Seconds per operation, one list per round."""

    rounds: list[list[float]] = field(default_factory=list)

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
    variants: dict[str, Operation], *, rounds: int, ops: int, warmup: int
) -> dict[str, Samples]:
    """Time `ops` sequential calls per variant per round; variant order rotates per round.

    `warmup` untimed calls per variant first (connections, prepared statements, caches).
    """
    names = list(variants)
    for name in names:
        for i in range(warmup):
            await variants[name](i)
    results = {name: Samples() for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            operation = variants[name]
            gc.collect()
            timings: list[float] = []
            for i in range(ops):
                started = time.perf_counter()
                await operation(r * ops + i)
                timings.append(time.perf_counter() - started)
            results[name].rounds.append(timings)
    return results


def paired_ratio(
    measured: Sequence[float], baseline: Sequence[float]
) -> tuple[float, float, float]:
    """(median, min, max) of per-round ratios measured/baseline."""
    ratios = [m / b for m, b in zip(measured, baseline, strict=True)]
    return statistics.median(ratios), min(ratios), max(ratios)


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True, slots=True)
class Target:
    op: Literal["<=", ">="]
    value: float

    def met(self, ratio: float) -> bool:
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def __str__(self) -> str:
        return f"{'≤' if self.op == '<=' else '≥'} {self.value:.2f}×"


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:7.1f} µs"
    return f"{seconds * 1e3:7.2f} ms"


def header(title: str, lines: Iterable[str]) -> None:
    print(f"# {title}")
    print(f"#   python {platform.python_version()}, {os.cpu_count()} cpu(s), {platform.machine()}")
    for line in lines:
        print(f"#   {line}")
    print()


def report_latency(
    title: str,
    results: dict[str, Samples],
    *,
    baseline: str,
    measured: str,
    target: Target | None,
) -> bool:
    """Print each variant's latency and the measured/baseline ratio; True if target met
    (`target=None`: the ratio is informational, printed without a verdict; True)."""
    print(f"== {title}")
    width = max(len(n) for n in results)
    for name, samples in results.items():
        tag = "baseline" if name == baseline else ("measured" if name == measured else "info")
        print(
            f"  {tag:8}  {name:<{width}}  median {fmt_seconds(samples.median())}"
            f"  p90 {fmt_seconds(samples.quantile(0.9))}  (n={len(samples.all)})"
        )
    ratio, low, high = paired_ratio(
        results[measured].round_medians(), results[baseline].round_medians()
    )
    overall = results[measured].median() / results[baseline].median()
    delta = results[measured].median() - results[baseline].median()
    met = target is None or target.met(ratio)
    sign = "+" if delta >= 0 else "-"
    verdict = "no target" if target is None else f"target {target}  {'MET' if met else 'MISSED'}"
    print(
        f"  ratio {measured} / {baseline}: {ratio:.3f}× (rounds {low:.3f}–{high:.3f}, "
        f"overall medians {overall:.3f}×, {sign}{fmt_seconds(abs(delta)).strip()} per unit)"
        f"  {verdict}"
    )
    print()
    return met


# --------------------------------------------------------------------------- EXPLAIN


@contextlib.contextmanager
def captured_statements(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """(statement, parameters) of everything `engine` sends to the driver inside the block,
    exactly as sent (asyncpg: `$n` placeholders, a tuple of values)."""
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        captured.append((statement, parameters))

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
    transaction (so the RLS settings of the session's context apply).

    `generic=True` shows the generic plan PostgreSQL may switch to once the driver's
    prepared statement has run five times (PREPARE + force_generic_plan + EXPLAIN EXECUTE).
    """
    with captured_statements(engine) as captured:
        await run()
    statement, parameters = [
        (s, p)
        for s, p in captured
        if s.lstrip().upper().startswith("SELECT") and "set_config" not in s
    ][-1]
    connection = await session.connection()
    options = "(ANALYZE, BUFFERS, COSTS OFF)"
    if not generic:
        rows = await connection.exec_driver_sql(f"EXPLAIN {options} {statement}", parameters)
        return [row[0] for row in rows]
    await connection.exec_driver_sql(f"PREPARE bench_plan AS {statement}")
    await connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_generic_plan")
    literals = ", ".join(_literal(p) for p in parameters)
    try:
        rows = await connection.exec_driver_sql(f"EXPLAIN {options} EXECUTE bench_plan({literals})")
        return [row[0] for row in rows]
    finally:
        await connection.exec_driver_sql("DEALLOCATE bench_plan")
        await connection.exec_driver_sql("SET LOCAL plan_cache_mode = auto")


def _literal(value: object) -> str:
    if isinstance(value, bool | int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def print_plan(title: str, lines: Sequence[str], *, limit: int = 40, width: int = 240) -> None:
    """Print a plan; long lines (a 1,000-element IN list) are cut to `width` characters."""
    print(f"-- EXPLAIN ANALYZE: {title}")
    for line in lines[:limit]:
        print(f"   {line if len(line) <= width else line[:width] + f' … ({len(line)} chars)'}")
    if len(lines) > limit:
        print(f"   … {len(lines) - limit} more lines")
    print()
