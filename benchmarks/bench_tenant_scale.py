"""Does a tenant-checked read stay flat as tenants, rows and memberships grow?

A. Data size. One unit of work per read, in a member's context with both layers on (ORM
   criteria + RLS), each read as a member of a randomly picked tenant (100 rows each):
     * get-by-id (`session.get`) and list (`select(Item).order_by(Item.id).limit(50)`);
     * measured: 10,000 tenants, 1,000,000 rows (`--quick`: 2,000 tenants, 100,000 rows);
     * baseline: 10 tenants, 1,000 rows (`--quick`: 10 x 50), same columns and layout.
   Rows of all tenants are interleaved (inserted round-robin), as concurrent tenants write
   them; the table has only what `TenantOwned` gives (PK id, UNIQUE (tenant_id, id)).
   Target: large / small ≤ 1.2×.
B. Memberships. One unit of work as `deps.get_current_principal` + a list endpoint do it:
   `load_principal`, bind the principal's context, set_config, then the list above on the
   large table. Measured: a user with 1,000 direct tenant memberships; baseline: a user
   with one. Both are also in one group (the group branch of `load_principal` runs).
   Target: 1,000 / 1 ≤ 2×. Info lines split off the principal load alone.
Exit status 1 when a target is missed.

    python benchmarks/bench_tenant_scale.py [--quick] [--explain]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Column, DateTime, MetaData, String, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from app.core.tenancy import (
    TenancyContext,
    TenantOwned,
    bind_context,
    sync_database_settings,
)
from app.models import User
from app.models.base import NAMING_CONVENTION
from app.services.principal import load_principal
from benchmarks._support import (
    BenchEnv,
    Target,
    Verdicts,
    bench_principal,
    bulk_load,
    create_bench_tables,
    delete_platform_rows,
    drop_bench_tables,
    explain_last_select,
    header,
    load_env,
    make_settings,
    owner_engine,
    print_plan,
    report_latency,
    run_interleaved,
    runtime_role,
    secure_bench_tables,
    vacuum_analyze,
)

PREFIX = "bench-scale-"
GROUP = f"{PREFIX}g"
USER_ONE = f"{PREFIX}u-one"
USER_MANY = f"{PREFIX}u-many"
MEMBERSHIPS = 1_000
SMALL_TENANTS = 10
LIST_LIMIT = 50
SIZE_TARGET = Target("<=", 1.2)
MEMBERSHIP_TARGET = Target("<=", 2.0)


class BenchBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


# Stand-in for the platform `tenants` table so the mixin's foreign key resolves; never created.
Table("tenants", BenchBase.metadata, Column("id", String(64), primary_key=True))


class SmallItem(TenantOwned, BenchBase):
    __tablename__ = "bench_scale_small_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class LargeItem(TenantOwned, BenchBase):
    __tablename__ = "bench_scale_large_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


Item = TypeVar("Item", SmallItem, LargeItem)


@dataclass(frozen=True, slots=True)
class Sizes:
    large_tenants: int
    rows_per_tenant: int

    @property
    def large_rows(self) -> int:
        return self.large_tenants * self.rows_per_tenant

    @property
    def small_rows(self) -> int:
        return SMALL_TENANTS * self.rows_per_tenant


def large_tenant(n: int) -> str:
    return f"{PREFIX}t{n:05d}"


def small_tenant(n: int) -> str:
    return f"{PREFIX}s{n:02d}"


def member(tenant: str) -> TenancyContext:
    return TenancyContext.for_principal(bench_principal(f"{PREFIX}reader", {tenant}))


# --------------------------------------------------------------------------- data

_ROWS = (
    "INSERT INTO {table} (id, tenant_id, title, seq) "
    "SELECT gen_random_uuid(), :prefix || lpad((g % :tenants)::text, :width, '0'), "
    "'item ' || g, g FROM generate_series(0, :rows - 1) g"
)


async def load_data(env: BenchEnv, sizes: Sizes) -> dict[str, list[tuple[str, uuid.UUID]]]:
    """Tenants, users, memberships and both tables; returns (tenant, id) samples per table."""
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await drop_bench_tables(connection, BenchBase)
            await delete_platform_rows(connection, PREFIX)
            await create_bench_tables(connection, BenchBase)
            for prefix, count, width in (
                (f"{PREFIX}t", sizes.large_tenants, 5),
                (f"{PREFIX}s", SMALL_TENANTS, 2),
            ):
                await connection.execute(
                    text(
                        "INSERT INTO tenants (id, name) SELECT :p || lpad(g::text, :w, '0'), "
                        "'Benchmark tenant ' || g FROM generate_series(0, :n - 1) g"
                    ),
                    {"p": prefix, "n": count, "w": width},
                )
            await connection.execute(
                text("INSERT INTO users (id) VALUES (:a), (:b)"), {"a": USER_ONE, "b": USER_MANY}
            )
            await connection.execute(
                text("INSERT INTO groups (id, name) VALUES (:g, 'Benchmark group')"), {"g": GROUP}
            )
            await connection.execute(
                text("INSERT INTO group_memberships (group_id, user_id) VALUES (:g, :a), (:g, :b)"),
                {"g": GROUP, "a": USER_ONE, "b": USER_MANY},
            )
            step = sizes.large_tenants // MEMBERSHIPS  # spread over the whole range
            await connection.execute(
                text(
                    "INSERT INTO tenant_user_memberships (tenant_id, user_id) "
                    "SELECT :p || lpad((g * :step)::text, 5, '0'), :u "
                    "FROM generate_series(0, :n - 1) g"
                ),
                {"p": f"{PREFIX}t", "step": step, "u": USER_MANY, "n": MEMBERSHIPS},
            )
            await connection.execute(
                text("INSERT INTO tenant_user_memberships (tenant_id, user_id) VALUES (:t, :u)"),
                {"t": large_tenant(0), "u": USER_ONE},
            )
            for model, prefix, tenants, width, rows in (
                (SmallItem, f"{PREFIX}s", SMALL_TENANTS, 2, sizes.small_rows),
                (LargeItem, f"{PREFIX}t", sizes.large_tenants, 5, sizes.large_rows),
            ):
                await bulk_load(
                    connection,
                    model.__table__,  # type: ignore[arg-type]
                    _ROWS.format(table=model.__tablename__),
                    {"prefix": prefix, "tenants": tenants, "width": width, "rows": rows},
                )
        await vacuum_analyze(
            engine,
            SmallItem.__tablename__,
            LargeItem.__tablename__,
            "tenants",
            "users",
            "groups",
            "group_memberships",
            "tenant_user_memberships",
        )
        samples: dict[str, list[tuple[str, uuid.UUID]]] = {}
        async with engine.begin() as connection:
            for model in (SmallItem, LargeItem):
                result = await connection.execute(
                    text(
                        f"SELECT tenant_id, id FROM {model.__tablename__} "  # noqa: S608 - fixed
                        "ORDER BY random() LIMIT 4000"
                    )
                )
                samples[model.__tablename__] = [(row[0], row[1]) for row in result]
            await secure_bench_tables(connection, BenchBase, runtime=runtime_role(env))
        return samples
    finally:
        await engine.dispose()


async def cleanup(env: BenchEnv) -> None:
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await drop_bench_tables(connection, BenchBase)
            await delete_platform_rows(connection, PREFIX)
    finally:
        await engine.dispose()


# --------------------------------------------------------------------------- reads


@dataclass
class Reads:
    factory: SessionFactory
    settings: Settings
    generations: dict[str, str] = field(default_factory=dict)  # user id -> token generation

    async def load_generations(self, *user_ids: str) -> None:
        async with unit_of_work(
            self.factory, TenancyContext.system(), settings=self.settings
        ) as session:
            rows = await session.execute(
                select(User.id, User.token_generation).where(User.id.in_(user_ids))
            )
            self.generations.update({row[0]: str(row[1]) for row in rows})

    async def get(self, model: type[Item], sample: tuple[str, uuid.UUID]) -> None:
        tenant, row_id = sample
        async with unit_of_work(self.factory, member(tenant), settings=self.settings) as session:
            if await session.get(model, row_id) is None:
                raise RuntimeError("row not found")

    async def list(self, model: type[Item], tenant: str) -> None:
        async with unit_of_work(self.factory, member(tenant), settings=self.settings) as session:
            rows = (await session.scalars(select(model).order_by(model.id).limit(LIST_LIMIT))).all()
            if len(rows) != LIST_LIMIT or any(r.tenant_id != tenant for r in rows):
                raise RuntimeError("wrong list")

    async def as_user(self, user_id: str, *, expected_tenants: int, with_list: bool) -> None:
        """What a request does: principal from the database, its context, then the read."""
        context = TenancyContext.unauthenticated()
        async with unit_of_work(self.factory, context, settings=self.settings) as session:
            principal = await load_principal(
                session,
                user_id,
                generation=self.generations[user_id],
                admin_groups=self.settings.admin_groups,
            )
            if principal is None or len(principal.tenant_ids) != expected_tenants:
                raise RuntimeError("wrong principal")
            bind_context(
                session,
                TenancyContext.for_principal(principal),
                check_enabled=self.settings.tenant_check_enabled,
            )
            await sync_database_settings(session)
            if with_list:
                statement = select(LargeItem).order_by(LargeItem.id).limit(LIST_LIMIT)
                rows = (await session.scalars(statement)).all()
                if len(rows) != LIST_LIMIT:
                    raise RuntimeError("short list")


async def explain_plans(engine: AsyncEngine, reads: Reads, small_tenant_id: str) -> None:
    async with unit_of_work(reads.factory, member(small_tenant_id), settings=reads.settings) as s:
        connection = await s.connection()
        prepared = await connection.exec_driver_sql(
            "SELECT generic_plans, custom_plans, length(statement), "
            "position(' IN (' in statement) > 0 FROM pg_prepared_statements "
            "WHERE statement LIKE '%FROM bench_scale_large_items%ORDER BY%' "
            "ORDER BY length(statement)"
        )
        print("-- prepared list statements on one pooled connection (what the timed runs used):")
        for row in list[Any](prepared):
            print(
                f"   {row[2]:6} chars{' (tenant IN list)' if row[3] else ''}: "
                f"{row[0]} generic plans, {row[1]} custom plans"
            )
        print()
    for label, model, tenant in (
        ("small table, member of 1 tenant", SmallItem, small_tenant_id),
        ("large table, member of 1 tenant", LargeItem, large_tenant(1)),
    ):
        async with unit_of_work(reads.factory, member(tenant), settings=reads.settings) as s:
            statement = select(model).order_by(model.id).limit(LIST_LIMIT)
            plan = await explain_last_select(engine, s, partial(s.scalars, statement))
        print_plan(f"list, {label}", plan)
    for user_id in (USER_ONE, USER_MANY):
        context = TenancyContext.unauthenticated()
        async with unit_of_work(reads.factory, context, settings=reads.settings) as s:
            generation = reads.generations[user_id]
            load = partial(load_principal, s, user_id, generation=generation, admin_groups=())
            principal = await load()
            assert principal is not None
            plan = await explain_last_select(engine, s, load)
            print_plan(f"load_principal({user_id})", plan, limit=12)
            bind_context(s, TenancyContext.for_principal(principal), check_enabled=True)
            await sync_database_settings(s)
            statement = select(LargeItem).order_by(LargeItem.id).limit(LIST_LIMIT)
            label = f"list, large table, {user_id} ({len(principal.tenant_ids)} tenants)"
            for generic in (False, True):
                plan = await explain_last_select(
                    engine, s, partial(s.scalars, statement), generic=generic
                )
                print_plan(f"{label}{', generic plan' if generic else ''}", plan)


# --------------------------------------------------------------------------- main


async def main(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    env = load_env()
    settings = make_settings(env)
    sizes = Sizes(2_000, 50) if args.quick else Sizes(10_000, 100)
    rounds_a, ops_a, warmup_a = (4, 40, 40) if args.quick else (10, 100, 200)
    rounds_b, ops_b, warmup_b = (4, 10, 10) if args.quick else (8, 30, 30)
    header(
        "bench_tenant_scale: tenant-checked reads with many tenants, rows and memberships",
        [
            f"A: {sizes.large_tenants:,} tenants / {sizes.large_rows:,} rows vs "
            f"{SMALL_TENANTS} tenants / {sizes.small_rows:,} rows "
            f"({sizes.rows_per_tenant} rows per tenant); {rounds_a} rounds x {ops_a} units",
            f"B: user with {MEMBERSHIPS:,} memberships vs 1; {rounds_b} rounds x {ops_b} units",
        ],
    )
    built = time.perf_counter()
    samples = await load_data(env, sizes)
    print(
        f"data built in {time.perf_counter() - built:.1f} s "
        "(INSERT … SELECT generate_series, keys built after, VACUUM ANALYZE)"
    )
    print()
    engine = create_engine(settings)
    reads = Reads(create_session_factory(engine), settings)
    await reads.load_generations(USER_ONE, USER_MANY)
    small = samples[SmallItem.__tablename__]
    large = samples[LargeItem.__tablename__]
    verdicts = Verdicts()
    try:

        def pick(rows: list[tuple[str, uuid.UUID]], i: int) -> tuple[str, uuid.UUID]:
            return rows[i % len(rows)]

        variants_get: dict[str, Any] = {
            "small": lambda i: reads.get(SmallItem, pick(small, i)),
            "large": lambda i: reads.get(LargeItem, pick(large, i)),
        }
        results = await run_interleaved(variants_get, rounds=rounds_a, ops=ops_a, warmup=warmup_a)
        report_latency(
            "A. get-by-id, member of a random tenant (small = 10 tenants, large = all)",
            results,
            baseline="small",
            measured="large",
            target=SIZE_TARGET,
            verdicts=verdicts,
        )
        variants_list: dict[str, Any] = {
            "small": lambda i: reads.list(SmallItem, pick(small, i)[0]),
            "large": lambda i: reads.list(LargeItem, pick(large, i)[0]),
        }
        results = await run_interleaved(variants_list, rounds=rounds_a, ops=ops_a, warmup=warmup_a)
        report_latency(
            f"A. list of {LIST_LIMIT} ordered by id, member of a random tenant",
            results,
            baseline="small",
            measured="large",
            target=SIZE_TARGET,
            verdicts=verdicts,
        )
        one, many = "1 membership", f"{MEMBERSHIPS:,} memberships"
        variants_b: dict[str, Any] = {
            f"{one}: principal + list": lambda _i: reads.as_user(
                USER_ONE, expected_tenants=1, with_list=True
            ),
            f"{many}: principal + list": lambda _i: reads.as_user(
                USER_MANY, expected_tenants=MEMBERSHIPS, with_list=True
            ),
            f"{one}: principal only": lambda _i: reads.as_user(
                USER_ONE, expected_tenants=1, with_list=False
            ),
            f"{many}: principal only": lambda _i: reads.as_user(
                USER_MANY, expected_tenants=MEMBERSHIPS, with_list=False
            ),
        }
        results = await run_interleaved(variants_b, rounds=rounds_b, ops=ops_b, warmup=warmup_b)
        report_latency(
            "B. principal load + list on the large table, by number of memberships",
            results,
            baseline=f"{one}: principal + list",
            measured=f"{many}: principal + list",
            target=MEMBERSHIP_TARGET,
            verdicts=verdicts,
        )
        if args.explain:
            await explain_plans(engine, reads, small[0][0])
    finally:
        await engine.dispose()
        await cleanup(env)
    code = verdicts.exit_code()
    print(f"wall time {time.perf_counter() - began:.1f} s")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100k rows, fewer rounds")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
