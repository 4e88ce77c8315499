"""The tenancy core: who may see and change which rows. DESIGN.md §3 is the contract.

Everything about tenant isolation lives here and nowhere else:

* the caller: `Principal` (who a request acts for) and `TenancyContext` (what one unit of
  work may see: a principal's tenants, one tenant + acting user for background work, or
  the system context);
* the three kinds of tables: `TenantOwned`, `Shareable` and `PlatformTable` mixins, and
  `tenant_reference()` for composite foreign keys that make cross-tenant links impossible;
* layer 1, the ORM: a `do_orm_execute` listener adding `with_loader_criteria` to every
  SELECT, UPDATE and DELETE (relationship and column loads included) and a `before_flush`
  guard that stamps `tenant_id` on new rows and refuses writes outside the context;
* layer 2, PostgreSQL row-level security: `row_level_security_ddl()` declares policies
  that read two per-transaction settings, which this module sets when a transaction
  begins. Either layer alone keeps tenants apart;
* the switches: `TENANT_CHECK_ENABLED` (global), `check_disabled()` (one unit of work,
  scoped, logged), and the admin bypass;
* the rule for platform tables (tenants, users, groups, memberships), which have no
  tenant_id: `sees_everything()` for reads as everywhere, `may_manage_platform()` for
  writes (see there why it differs).

A session without a context refuses to run ORM statements: no context never means
"see everything".

This module is longer than the project's ~400-line guide on purpose: DESIGN §3 wants the
whole mechanism in one place, so that a reviewer reads one file to know what isolates
tenants. Its sections follow the list above.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
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
    inspect,
    or_,
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
from app.core.identifiers import IDENTIFIER_MAX_LENGTH

logger = logging.getLogger(__name__)

# Per-transaction PostgreSQL settings read by the row-level security policies.
RLS_TENANT_IDS = "tessera.tenant_ids"
RLS_BYPASS = "tessera.bypass"

# Keys in Session.info.
_CONTEXT = "tessera.context"
_CHECK_ENABLED = "tessera.tenant_check_enabled"
_DISABLED_REASONS = "tessera.check_disabled_reasons"
_CRITERIA = "tessera.criteria_options"
_PRINCIPAL_VERSION = "tessera.principal_version"


# --------------------------------------------------------------------------- the caller


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as the database described it at `version`.

    `generation` is the user row's token generation (it changes when the user is created
    again or its password changes; tokens carry it). `version` is the user's principal
    version, which the database bumps in the same transaction as any change of the user's
    memberships, groups or generation: a principal whose version is still the user's
    current one is still true, which is what makes it safe to cache (see
    `principal_is_current`).
    """

    user_id: str
    group_ids: frozenset[str]
    tenant_ids: frozenset[str]
    is_admin: bool
    generation: str
    version: int


@dataclass(frozen=True, slots=True)
class TenancyContext:
    """What one unit of work may see and change.

    `tenant_ids`: the tenants whose rows are visible (plus shared rows).
    `sees_all`: admin or system; bypasses the check (reads and writes everywhere).
    `user_id`: the acting user (None for the system and before authentication).
    `principal`: the request's caller, when the context was made for one.
    """

    tenant_ids: frozenset[str]
    sees_all: bool
    user_id: str | None
    kind: Literal["request", "tenant", "system", "unauthenticated"]
    principal: Principal | None = None

    @property
    def group_ids(self) -> frozenset[str]:
        return self.principal.group_ids if self.principal else frozenset()

    @classmethod
    def for_principal(cls, principal: Principal) -> TenancyContext:
        return cls(
            principal.tenant_ids, principal.is_admin, principal.user_id, "request", principal
        )

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
    database settings are refreshed by `sync_database_settings()` (or use `bind_principal`).
    """
    info = _info(session)
    info[_CONTEXT] = context
    info[_CHECK_ENABLED] = check_enabled
    info[_CRITERIA] = _criteria_options(context.tenant_ids, context.kind != "unauthenticated")
    info.setdefault(_DISABLED_REASONS, [])


async def bind_principal(session: AsyncSession, principal: Principal) -> None:
    """Make `principal` the caller of this session (the global switch stays as bound), and
    hand its tenants to PostgreSQL if the transaction has begun already."""
    check_enabled = bool(_info(session).get(_CHECK_ENABLED, True))
    bind_context(session, TenancyContext.for_principal(principal), check_enabled=check_enabled)
    if session.in_transaction():
        await sync_database_settings(session)


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


def may_manage_platform(session: AsyncSession | Session) -> bool:
    """Whether this unit of work may create, change or delete tenants, users, groups and
    memberships (F4): admins, the system context, and a command with the check disabled.

    This is the one place where platform tables differ from tenant data: the global switch
    `TENANT_CHECK_ENABLED=false` lets everyone *see* every row (A6), platform rows included,
    but it turns off tenant isolation, not authorization, so it never lets a non-admin
    manage identity. A scoped `check_disabled()` is trusted server code, which may.
    """
    info = _info(session)
    return bool(current_context(session).sees_all or info.get(_DISABLED_REASONS))


def require_platform_manager(session: AsyncSession | Session) -> None:
    """403 unless `may_manage_platform(session)`."""
    if not may_manage_platform(session):
        raise Forbidden("Only administrators manage identity.")


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


@asynccontextmanager
async def acting_for(
    session: AsyncSession, tenant_id: str, *, user_id: str | None
) -> AsyncIterator[None]:
    """Run the block in the tenant context of `tenant_id`, on behalf of `user_id`: work a
    system worker does for one tenant (DESIGN §3 "tenant context") sees and writes exactly
    that tenant's rows (and shared ones), whatever the caller could see.

    Trusted server code only, after it authorized the caller. On exit the caller's context
    comes back, and rows of other tenants loaded inside are expunged, as in `check_disabled`.
    """
    info = _info(session)
    if info.get(_DISABLED_REASONS):
        raise RuntimeError("acting_for() inside check_disabled() would still see every tenant")
    previous: TenancyContext = current_context(session)
    check_enabled = bool(info.get(_CHECK_ENABLED, True))
    bind_context(
        session, TenancyContext.for_tenant(tenant_id, user_id=user_id), check_enabled=check_enabled
    )
    try:
        if session.in_transaction():
            await sync_database_settings(session)
        yield
        await session.flush()
    finally:
        bind_context(session, previous, check_enabled=check_enabled)
        _expunge_invisible(session.sync_session)
        if session.in_transaction():
            await sync_database_settings(session)


def act_as(session: AsyncSession, user_id: str | None) -> None:
    """The same tenant context, on behalf of `user_id`: a background unit of work that
    learns whom it acts for from the row it has just locked (a job run). Only the acting
    user changes — the tenants, and so the filters and the database settings, stay."""
    context = current_context(session)
    if context.kind != "tenant":
        raise RuntimeError("act_as() is for a tenant context of background work")
    _info(session)[_CONTEXT] = replace(context, user_id=user_id)


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


def runtime_tenant(session: AsyncSession | Session, explicit: str | None) -> str:
    """The tenant new runtime data (an instance, a decision's history) belongs to when no
    definition gives one: `resolution_tenant`, except that runtime data is never shared
    (C6), so a caller of no tenant (an admin without memberships) must name one (400)."""
    tenant = resolution_tenant(session, explicit)
    if tenant is None:
        raise TenantRequired("Runtime data belongs to a tenant: name one (tenant-id/{tenantId}).")
    return tenant


# --------------------------------------------------------------------------- layer 2: RLS


@event.listens_for(Session, "after_begin")
def _set_database_settings(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """Hand the context to PostgreSQL at transaction start, for the RLS policies.

    For a request's principal the same round trip reads the user's current principal
    version (see `principal_is_current`), so a cached principal costs no extra query.
    Skipped while unauthenticated: the settings are transaction-local, so a fresh
    transaction already has none, which the policies read as "no tenant, no bypass".
    """
    context = _info(session).get(_CONTEXT)
    if context is None or context.kind == "unauthenticated":
        return
    principal = context.principal
    if principal is None:
        _execute_on_dbapi(connection, _SETTINGS_SQL, _settings_values(session))
        return
    row = _execute_on_dbapi(
        connection,
        _SETTINGS_AND_PRINCIPAL_SQL,
        (*_settings_values(session), principal.user_id, principal.generation),
    )
    _info(session)[_PRINCIPAL_VERSION] = row[2]


def _execute_on_dbapi(connection: Connection, sql: str, parameters: tuple[str, ...]) -> Any:
    """One row of `sql`, run on the DBAPI cursor (PEP 249) under `connection`.

    Why not `connection.exec_driver_sql`: SQLAlchemy's execution context and result layers
    cost ~70 µs of CPU per statement here, more than the driver and the round trip; this
    statement runs at the start of every unit of work and needs none of them. The cursor
    still begins the transaction first, so the settings are transaction-local as intended.
    """
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return cursor.fetchone()
    finally:
        cursor.close()


async def sync_database_settings(session: AsyncSession) -> None:
    """Refresh the settings inside an open transaction (context bound late, switch toggled).

    Sent on the session's connection directly: it is not an ORM statement to filter.
    """
    connection = await session.connection()
    await connection.run_sync(
        _execute_on_dbapi, _SETTINGS_SQL, _settings_values(session.sync_session)
    )


async def principal_is_current(session: AsyncSession) -> bool:
    """Whether the session's principal is still what the database says about its user.

    False when the user was deleted, created again or changed its password (the token
    generation no longer matches), or when any of its memberships changed since the
    principal was read (the version moved on). Begins the transaction if it has not begun:
    the check rides on the statement that sets the RLS settings.
    """
    principal = current_context(session).principal
    if principal is None:
        return False
    await session.connection()
    return bool(_info(session).get(_PRINCIPAL_VERSION) == principal.version)


# Plain SQL in the driver's placeholders ($n), run by `_execute_on_dbapi`. Only these
# constant statements take that path; everything else goes through the ORM and its tenant
# criteria.
_SETTINGS_SQL = (
    f"SELECT set_config('{RLS_TENANT_IDS}', $1, true), set_config('{RLS_BYPASS}', $2, true)"
)
_SETTINGS_AND_PRINCIPAL_SQL = _SETTINGS_SQL + (  # noqa: S608 - no values, only $n
    ", (SELECT principal_version FROM users WHERE id = $3 AND token_generation = $4::uuid)"
)


def _settings_values(session: Session) -> tuple[str, str]:
    return (
        ",".join(sorted(current_context(session).tenant_ids)),
        "on" if sees_everything(session) else "off",
    )


def row_level_security_ddl(table: str, kind: Literal["owned", "shareable"]) -> list[str]:
    """DDL that puts `table` under row-level security: what the models declare today.

    Migrations carry their own frozen copy of the DDL they ran (editing this function must
    not rewrite history); `tests/test_migration_drift.py` compares the migrated database's
    policies and triggers with this declaration, so a change here needs a new migration.

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
