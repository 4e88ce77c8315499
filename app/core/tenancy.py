"""The tenancy core: who may see and change which rows. DESIGN.md §3 is the contract.

Everything about tenant isolation lives here and nowhere else:

* the caller: `Principal` (built per request) and `TenancyContext` (what one unit of work
  may see: a principal's tenants, one tenant + acting user for background work, or the
  system context);
* the three kinds of tables: `TenantOwned`, `Shareable` and `PlatformTable` mixins, and
  `tenant_reference()` for composite foreign keys that make cross-tenant links impossible;
* layer 1, the ORM: a `do_orm_execute` listener adding `with_loader_criteria` to every
  SELECT, UPDATE and DELETE (relationship and column loads included) and a `before_flush`
  guard that stamps `tenant_id` on new rows and refuses writes outside the context;
* layer 2, PostgreSQL row-level security: `row_level_security_ddl()` (used by migrations)
  creates policies that read two per-transaction settings, which this module sets when a
  transaction begins. Either layer alone keeps tenants apart;
* the switches: `TENANT_CHECK_ENABLED` (global), `check_disabled()` (one unit of work,
  scoped, logged), and the admin bypass.

A session without a context refuses to run ORM statements: no context never means
"see everything".
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import (
    ForeignKey,
    ForeignKeyConstraint,
    String,
    UniqueConstraint,
    any_,
    bindparam,
    event,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    SessionTransaction,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)

from app.core.errors import Forbidden, NotFound, TenancyViolation, TenantImmutable, TenantRequired

logger = logging.getLogger(__name__)

# Tenant, user and group ids are caller-chosen strings (Camunda style) checked against this.
IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
IDENTIFIER_MAX_LENGTH = 64

# Per-transaction PostgreSQL settings read by the row-level security policies.
RLS_TENANT_IDS = "tessera.tenant_ids"
RLS_BYPASS = "tessera.bypass"

# Keys in Session.info.
_CONTEXT = "tessera.context"
_CHECK_ENABLED = "tessera.tenant_check_enabled"
_DISABLED_REASONS = "tessera.check_disabled_reasons"
_CRITERIA = "tessera.criteria_options"


# --------------------------------------------------------------------------- the caller


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, rebuilt from the database on every request."""

    user_id: str
    group_ids: frozenset[str]
    tenant_ids: frozenset[str]
    is_admin: bool


@dataclass(frozen=True, slots=True)
class TenancyContext:
    """What one unit of work may see and change.

    `tenant_ids`: the tenants whose rows are visible (plus shared rows).
    `sees_all`: admin or system; bypasses the check (reads and writes everywhere).
    `user_id`: the acting user (None for the system and before authentication).
    """

    tenant_ids: frozenset[str]
    sees_all: bool
    user_id: str | None
    kind: Literal["request", "tenant", "system", "unauthenticated"]

    @classmethod
    def for_principal(cls, principal: Principal) -> TenancyContext:
        return cls(principal.tenant_ids, principal.is_admin, principal.user_id, "request")

    @classmethod
    def for_tenant(cls, tenant_id: str, *, user_id: str | None) -> TenancyContext:
        """Background work on behalf of `user_id` inside exactly one tenant."""
        return cls(frozenset({tenant_id}), False, user_id, "tenant")

    @classmethod
    def system(cls) -> TenancyContext:
        """Platform maintenance: sees every tenant. Use sparingly and say why at the call."""
        return cls(frozenset(), True, None, "system")

    @classmethod
    def unauthenticated(cls) -> TenancyContext:
        """Before the caller is known: platform tables only, no tenant or shared row."""
        return cls(frozenset(), False, None, "unauthenticated")


def bind_context(
    session: AsyncSession | Session, context: TenancyContext, *, check_enabled: bool
) -> None:
    """Attach the context to a session; required before any ORM statement runs.

    `check_enabled` is `TENANT_CHECK_ENABLED`. When a transaction is already open the
    database settings are refreshed by `sync_database_settings()`.
    """
    info = _info(session)
    info[_CONTEXT] = context
    info[_CHECK_ENABLED] = check_enabled
    info[_CRITERIA] = _criteria_options(context.tenant_ids, context.kind != "unauthenticated")
    info.setdefault(_DISABLED_REASONS, [])


def current_context(session: AsyncSession | Session) -> TenancyContext:
    context = _info(session).get(_CONTEXT)
    if context is None:
        raise TenancyViolation("A session was used without a tenancy context.")
    assert isinstance(context, TenancyContext)
    return context


def sees_everything(session: AsyncSession | Session) -> bool:
    """True when the check does not apply: disabled globally or for this command, or admin."""
    info = _info(session)
    context = current_context(session)
    return bool(
        not info.get(_CHECK_ENABLED, True) or info.get(_DISABLED_REASONS) or context.sees_all
    )


def can_see_tenant(session: AsyncSession | Session, tenant_id: str | None) -> bool:
    """Whether rows of `tenant_id` (None = shared) are visible in this session."""
    if tenant_id is None or sees_everything(session):
        return True
    return tenant_id in current_context(session).tenant_ids


def _info(session: AsyncSession | Session) -> dict[str, Any]:
    return session.info


# --------------------------------------------------------------------------- the switches


@asynccontextmanager
async def check_disabled(session: AsyncSession, *, reason: str) -> AsyncIterator[None]:
    """Turn the tenant check off for the statements inside the block (A5).

    Logged with `reason`. On exit, even on error, the check is restored, the database
    settings follow, and every object loaded inside the block that the caller may not see
    is expunged from the identity map, so `session.get()` cannot hand it out afterwards.
    Pending changes inside the block are flushed before the check comes back.
    """
    context = current_context(session)
    reasons: list[str] = _info(session)[_DISABLED_REASONS]
    logger.info(
        "tenant check disabled",
        extra={"reason": reason, "user_id": context.user_id, "context": context.kind},
    )
    reasons.append(reason)
    try:
        await sync_database_settings(session)
        yield
        await session.flush()
    finally:
        reasons.pop()
        _expunge_invisible(session.sync_session)
        if session.in_transaction():
            await sync_database_settings(session)
        logger.info("tenant check restored", extra={"reason": reason})


def _expunge_invisible(session: Session) -> None:
    for obj in list(session.identity_map.values()):
        if isinstance(obj, TenantScoped) and not can_see_tenant(session, obj.tenant_id):
            session.expunge(obj)


# --------------------------------------------------------------------------- the mixins


class TenantScoped:
    """Base of the two tenant-scoped kinds; never used directly by a model."""

    tenant_id: Mapped[str | None]


class TenantOwned(TenantScoped):
    """Rows of exactly one tenant (`tenant_id NOT NULL`, never changes after insert).

    The table also gets UNIQUE (tenant_id, id): the target of `tenant_reference()` from
    other tenant-owned tables. Extra table args go in `__tenant_table_args__`.
    """

    __tenant_table_args__: tuple[Any, ...] = ()

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(
            String(IDENTIFIER_MAX_LENGTH), ForeignKey("tenants.id"), nullable=False
        )

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        return (UniqueConstraint("tenant_id", "id"), *cls.__tenant_table_args__)


class Shareable(TenantScoped):
    """Rows of one tenant, or shared by all (`tenant_id` NULL), written only by admins."""

    @declared_attr
    def tenant_id(cls) -> Mapped[str | None]:
        return mapped_column(
            String(IDENTIFIER_MAX_LENGTH), ForeignKey("tenants.id"), nullable=True, index=True
        )


class PlatformTable:
    """Marks a table with no tenant (tenants, users, groups, memberships): admins manage it."""


def tenant_reference(
    column: str, target_table: str, *, ondelete: str | None = None
) -> ForeignKeyConstraint:
    """Composite foreign key (tenant_id, column) → target (tenant_id, id).

    Put it in `__tenant_table_args__` of a tenant-owned model: the database then refuses a
    link from a row of one tenant to a row of another, whatever the application does.
    """
    return ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target_table}.tenant_id", f"{target_table}.id"],
        ondelete=ondelete,
    )


# --------------------------------------------------------------------------- layer 1: ORM


@lru_cache(maxsize=4096)
def _criteria_options(tenant_ids: frozenset[str], include_shared: bool) -> tuple[Any, ...]:
    """The loader criteria for one set of tenants (cached: building them costs ~100 µs).

    One tenant (the common case) is a plain equality, which lets PostgreSQL walk the
    (tenant_id, ...) indexes in order. Several travel as ONE array parameter
    (`tenant_id = ANY(:ids)`), so a user with a thousand tenants costs one bound value,
    not a thousand. Unauthenticated sessions do not see shared rows either.

    propagate_to_loaders=False: the listener below adds the criteria to every load,
    relationship and refresh loads included, so there is no need to also store them on
    each loaded object (which costs time per row).
    """
    if len(tenant_ids) == 1:
        tenant = bindparam("tessera_tenant_id", next(iter(tenant_ids)), type_=String)
        owned = lambda cls: cls.tenant_id == tenant  # noqa: E731
        shared_too = lambda cls: or_(cls.tenant_id == tenant, cls.tenant_id.is_(None))  # noqa: E731
    else:
        ids = bindparam("tessera_tenant_ids", sorted(tenant_ids), type_=ARRAY(String))
        owned = lambda cls: cls.tenant_id == any_(ids)  # noqa: E731
        shared_too = lambda cls: or_(cls.tenant_id == any_(ids), cls.tenant_id.is_(None))  # noqa: E731
    return (
        with_loader_criteria(TenantOwned, owned, include_aliases=True, propagate_to_loaders=False),
        with_loader_criteria(
            Shareable,
            shared_too if include_shared else owned,
            include_aliases=True,
            propagate_to_loaders=False,
        ),
    )


@event.listens_for(Session, "do_orm_execute")
def _add_tenant_criteria(state: ORMExecuteState) -> None:
    """Every ORM SELECT/UPDATE/DELETE sees only the context's tenants (plus shared rows)."""
    if not (state.is_select or state.is_update or state.is_delete):
        return
    session = state.session
    if sees_everything(session):
        return
    state.statement = state.statement.options(*_info(session)[_CRITERIA])


@event.listens_for(Session, "before_flush")
def _guard_writes(session: Session, _flush_context: Any, _instances: Any) -> None:
    """Stamp new rows with their tenant and refuse writes outside the context."""
    for obj in session.new:
        if isinstance(obj, TenantOwned):
            _stamp_tenant(session, obj)
        if isinstance(obj, TenantScoped):
            _check_writable(session, obj.tenant_id, missing=Forbidden)
    for obj in session.dirty:
        if isinstance(obj, TenantScoped) and session.is_modified(obj):
            if inspect(obj).attrs.tenant_id.history.has_changes():
                raise TenantImmutable("The tenant of a row cannot be changed.")
            _check_writable(session, obj.tenant_id, missing=NotFound)
    for obj in session.deleted:
        if isinstance(obj, TenantScoped):
            _check_writable(session, obj.tenant_id, missing=NotFound)


def _stamp_tenant(session: Session, obj: TenantOwned) -> None:
    """A new tenant-owned row without a tenant takes the caller's only tenant."""
    if obj.tenant_id is not None:
        return
    tenants = current_context(session).tenant_ids
    if len(tenants) != 1:
        raise TenantRequired("Specify the tenant: the caller is not a member of exactly one.")
    obj.tenant_id = next(iter(tenants))


def _check_writable(
    session: Session, tenant_id: str | None, *, missing: type[NotFound] | type[Forbidden]
) -> None:
    """Shared rows need the bypass (403); another tenant's row is `missing`.

    New rows for a foreign tenant are 403 (the caller named that tenant); changes to an
    existing foreign row are 404, as if it did not exist.
    """
    if sees_everything(session):
        return
    if tenant_id is None:
        raise Forbidden("Only administrators change shared rows.")
    if tenant_id not in current_context(session).tenant_ids:
        if missing is Forbidden:
            raise Forbidden("The caller is not a member of this tenant.")
        raise NotFound()


def can_write_shared(session: AsyncSession | Session) -> bool:
    """Shared rows are written by admins, or with the check off (DESIGN §3 "Writes")."""
    return sees_everything(session)


def require_member(session: AsyncSession | Session, tenant_id: str) -> None:
    """403 unless the caller may act in `tenant_id` (explicit tenant selectors, DESIGN §3)."""
    if not can_see_tenant(session, tenant_id):
        raise Forbidden("The caller is not a member of this tenant.")


def resolution_tenant(session: AsyncSession | Session, explicit: str | None) -> str | None:
    """Whose version a key means (DESIGN §3 "Resolution by key"): the explicit tenant (403
    unless the caller may act in it), else the caller's only tenant; None (= the shared
    version only) for a caller of no tenant, such as an admin without memberships; 400 for
    a caller of several."""
    if explicit is not None:
        require_member(session, explicit)
        return explicit
    tenants = current_context(session).tenant_ids
    if len(tenants) > 1:
        raise TenantRequired(
            "The caller is a member of several tenants: give tenantId (or withoutTenantId)."
        )
    return next(iter(tenants), None)


# --------------------------------------------------------------------------- layer 2: RLS


@event.listens_for(Session, "after_begin")
def _set_database_settings(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """Hand the context to PostgreSQL at transaction start, for the RLS policies.

    Skipped while unauthenticated: the settings are transaction-local, so a fresh
    transaction already has none, which the policies read as "no tenant, no bypass".
    """
    context = _info(session).get(_CONTEXT)
    if context is None or context.kind == "unauthenticated":
        return
    connection.execute(_SETTINGS_STATEMENT, _settings_parameters(session))


async def sync_database_settings(session: AsyncSession) -> None:
    """Refresh the settings inside an open transaction (context bound late, switch toggled).

    Sent on the session's connection directly: it is not an ORM statement to filter.
    """
    connection = await session.connection()
    await connection.execute(_SETTINGS_STATEMENT, _settings_parameters(session.sync_session))


# Built once; executed with the values of the session at hand.
_SETTINGS_STATEMENT = select(
    func.set_config(RLS_TENANT_IDS, bindparam("tenant_ids", type_=String), True),
    func.set_config(RLS_BYPASS, bindparam("bypass", type_=String), True),
)


def _settings_parameters(session: Session) -> dict[str, str]:
    return {
        "tenant_ids": ",".join(sorted(current_context(session).tenant_ids)),
        "bypass": "on" if sees_everything(session) else "off",
    }


def row_level_security_ddl(table: str, kind: Literal["owned", "shareable"]) -> list[str]:
    """DDL that puts `table` under row-level security (used by migrations).

    FORCE makes the policies apply to the table owner too; only superusers and BYPASSRLS
    roles skip them, and the API refuses to start as one (see `app.core.db`). One policy
    per command, so each plan carries exactly one predicate: reads see the caller's tenants
    (and shared rows for shareable tables); writes need the caller's tenant or the bypass,
    so a shared row is written only with the bypass. Settings missing = nothing visible,
    not even shared rows.
    """
    # The id list is unnested once per statement (a hashed subplan), not re-parsed per row.
    member = (
        f"(current_setting('{RLS_BYPASS}', true) = 'on' OR tenant_id IN "
        f"(SELECT unnest(string_to_array(current_setting('{RLS_TENANT_IDS}', true), ','))))"
    )
    # Shared rows need a context too: the bypass setting is 'on' or 'off' once one is set.
    shared = f"(tenant_id IS NULL AND current_setting('{RLS_BYPASS}', true) IN ('on', 'off'))"
    readable = member if kind == "owned" else f"({shared} OR {member})"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_select ON {table} FOR SELECT USING {readable}",
        f"CREATE POLICY tenant_insert ON {table} FOR INSERT WITH CHECK {member}",
        f"CREATE POLICY tenant_update ON {table} FOR UPDATE USING {member} WITH CHECK {member}",
        f"CREATE POLICY tenant_delete ON {table} FOR DELETE USING {member}",
        f"CREATE TRIGGER tenant_id_immutable BEFORE UPDATE OF tenant_id ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION tessera_tenant_id_immutable()",
    ]


# Created once by the first migration; the trigger above uses it on every tenant table.
TENANT_ID_IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION tessera_tenant_id_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
        RAISE EXCEPTION 'tenant_id of % cannot change', TG_TABLE_NAME
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$
"""


def tenant_scoped_tables(mappers: Iterable[Any]) -> list[tuple[str, Literal["owned", "shareable"]]]:
    """(table, kind) for every tenant-scoped mapper: what RLS and the isolation tests cover."""
    found: list[tuple[str, Literal["owned", "shareable"]]] = []
    for mapper in mappers:
        cls = mapper.class_
        if issubclass(cls, TenantOwned):
            found.append((mapper.local_table.name, "owned"))
        elif issubclass(cls, Shareable):
            found.append((mapper.local_table.name, "shareable"))
    return found
