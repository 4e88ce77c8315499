"""Cost of the tenant check on a read: member context vs the check switched off.

Measured: one unit of work as a request does it (`unit_of_work`: session, BEGIN,
set_config of the RLS settings, one ORM query, COMMIT) on a tenant-owned table of
10 tenants x 1,000 rows (`--quick`: 10 x 200), in a member's `TenancyContext` with both
layers on — the `do_orm_execute` criteria (`tenant_id IN (…)`) and PostgreSQL RLS
(settings `tessera.tenant_ids`, `tessera.bypass=off`):
  * get-by-id: `session.get(Item, id)` of a row of the member's tenant;
  * list: `select(Item).order_by(Item.id).limit(50)`.
Baseline: the same statements in an admin principal's context (the check is off: no ORM
criteria, `tessera.bypass=on`), same round trips. For the list an extra info line shows
the admin with an explicit `tenant_id IN (…)` filter: the member's SQL text and rows without
the tenancy machinery, so member − that = cost of the mechanism (ORM criteria + RLS).
Target: member / baseline ≤ 1.10× (median of per-round ratios); exit status 1 when missed.

    python benchmarks/bench_tenant_check.py [--quick] [--explain]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import random
import time
import uuid
from datetime import datetime
from functools import partial

from sqlalchemy import Column, DateTime, MetaData, Select, String, Table, func, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.core.config import Settings
from app.core.db import SessionFactory, create_engine, create_session_factory, unit_of_work
from app.core.tenancy import TenancyContext, TenantOwned
from app.models.base import NAMING_CONVENTION
from benchmarks._support import (
    BenchEnv,
    Target,
    Verdicts,
    bench_principal,
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
)

PREFIX = "bench-check-"
TENANTS = 10
LIST_LIMIT = 50
TARGET = Target("<=", 1.10)


class BenchBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True)}


# Stand-in for the platform `tenants` table so the mixin's foreign key resolves; never created.
Table("tenants", BenchBase.metadata, Column("id", String(64), primary_key=True))


class Item(TenantOwned, BenchBase):
    __tablename__ = "bench_check_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


def tenant_id(n: int) -> str:
    return f"{PREFIX}t{n:02d}"


def member(tenant: str) -> TenancyContext:
    return TenancyContext.for_principal(bench_principal(f"{PREFIX}user", {tenant}))


ADMIN = TenancyContext.for_principal(
    bench_principal(f"{PREFIX}admin", groups={"admin"}, admin=True)
)


async def load_data(env: BenchEnv, rows_per_tenant: int) -> None:
    engine = owner_engine(env)
    try:
        async with engine.begin() as connection:
            await delete_platform_rows(connection, PREFIX)
            await create_bench_tables(connection, BenchBase)
            await connection.execute(
                text(
                    "INSERT INTO tenants (id, name) SELECT :p || 't' || lpad(g::text, 2, '0'), "
                    "'Benchmark tenant ' || g FROM generate_series(0, :n - 1) g"
                ),
                {"p": PREFIX, "n": TENANTS},
            )
            await connection.execute(
                text(
                    "INSERT INTO bench_check_items (id, tenant_id, title, seq) "
                    "SELECT gen_random_uuid(), :p || 't' || lpad((g % :t)::text, 2, '0'), "
                    "'item ' || g, g FROM generate_series(0, :n - 1) g"
                ),
                {"p": PREFIX, "t": TENANTS, "n": TENANTS * rows_per_tenant},
            )
            await connection.execute(text("ANALYZE bench_check_items"))
            await secure_bench_tables(connection, BenchBase, runtime=runtime_role(env))
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


async def sample_ids(factory: SessionFactory, settings: Settings, tenant: str) -> list[uuid.UUID]:
    async with unit_of_work(factory, ADMIN, settings=settings) as session:
        ids = list(await session.scalars(select(Item.id).where(Item.tenant_id == tenant)))
    random.Random(7).shuffle(ids)
    return ids


async def sanity(
    factory: SessionFactory, settings: Settings, tenant: str, own: uuid.UUID, other: uuid.UUID
) -> None:
    """The member sees its row, not another tenant's; the list is its tenant's only."""
    async with unit_of_work(factory, member(tenant), settings=settings) as session:
        assert (await session.get(Item, own)) is not None
        assert (await session.get(Item, other)) is None
        rows = (await session.scalars(select(Item).order_by(Item.id).limit(LIST_LIMIT))).all()
        assert len(rows) == LIST_LIMIT and {r.tenant_id for r in rows} == {tenant}
    async with unit_of_work(factory, ADMIN, settings=settings) as session:
        assert (await session.get(Item, other)) is not None


async def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    env = load_env()
    settings = make_settings(env)
    rows_per_tenant = 200 if args.quick else 1_000
    rounds, ops, warmup = (5, 40, 30) if args.quick else (15, 150, 100)
    header(
        "bench_tenant_check: tenant-checked read vs check off, one unit of work each",
        [
            f"{TENANTS} tenants x {rows_per_tenant} rows in bench_check_items; "
            f"{rounds} rounds x {ops} sequential units per variant, {warmup} warm-up",
            "measured: member context (ORM criteria + RLS); baseline: admin (check off)",
        ],
    )
    await load_data(env, rows_per_tenant)
    engine = create_engine(settings)
    factory = create_session_factory(engine)
    try:
        tenant, other_tenant = tenant_id(3), tenant_id(4)
        ids = await sample_ids(factory, settings, tenant)
        other_ids = await sample_ids(factory, settings, other_tenant)
        await sanity(factory, settings, tenant, ids[0], other_ids[0])
        member_context = member(tenant)
        list_statement = select(Item).order_by(Item.id).limit(LIST_LIMIT)
        filtered_statement = list_statement.where(Item.tenant_id.in_([tenant]))

        async def get_as(context: TenancyContext, i: int) -> None:
            async with unit_of_work(factory, context, settings=settings) as session:
                if await session.get(Item, ids[i % len(ids)]) is None:
                    raise RuntimeError("row not found")

        async def list_as(context: TenancyContext, statement: Select[Item], _i: int) -> None:
            async with unit_of_work(factory, context, settings=settings) as session:
                rows = (await session.scalars(statement)).all()
                if len(rows) != LIST_LIMIT:
                    raise RuntimeError("short list")

        get_results = await run_interleaved(
            {
                "admin, check off": lambda i: get_as(ADMIN, i),
                "member, both layers": lambda i: get_as(member_context, i),
            },
            rounds=rounds,
            ops=ops,
            warmup=warmup,
        )
        list_results = await run_interleaved(
            {
                "admin, check off": lambda i: list_as(ADMIN, list_statement, i),
                "member, both layers": lambda i: list_as(member_context, list_statement, i),
                "admin + explicit tenant_id IN": lambda i: list_as(ADMIN, filtered_statement, i),
            },
            rounds=rounds,
            ops=ops,
            warmup=warmup,
        )
        verdicts = Verdicts()
        for title, results in (
            ("get-by-id: unit of work with session.get(Item, id)", get_results),
            (
                f"list: unit of work with select(Item).order_by(id).limit({LIST_LIMIT})",
                list_results,
            ),
        ):
            report_latency(
                title,
                results,
                baseline="admin, check off",
                measured="member, both layers",
                target=TARGET,
                verdicts=verdicts,
            )
        if args.explain:
            for label, context in (("member", member_context), ("admin", ADMIN)):
                async with unit_of_work(factory, context, settings=settings) as session:
                    plan = await explain_last_select(
                        engine, session, partial(session.scalars, list_statement)
                    )
                print_plan(f"list as {label}", plan)
    finally:
        await engine.dispose()
        await cleanup(env)
    code = verdicts.exit_code()
    print(f"wall time {time.perf_counter() - started:.1f} s")
    return code


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer rounds")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE plans")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
