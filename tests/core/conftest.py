"""Fixtures for the tenancy core: sessions in a given context, and rows in T1, T2 and shared."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db import SessionFactory, unit_of_work
from app.core.tenancy import Principal, TenancyContext
from tests.conftest import add_tenants
from tests.core.models import Note, Template

OpenSession = Callable[..., AbstractAsyncContextManager[AsyncSession]]


# The core tests' callers have no user row: their principal never validates, which only
# matters to `principal_is_current` (tested through the API).
_NO_GENERATION = "00000000-0000-0000-0000-000000000000"


def member_of(*tenant_ids: str, user_id: str = "u1") -> TenancyContext:
    return TenancyContext.for_principal(
        Principal(
            user_id,
            frozenset(),
            frozenset(tenant_ids),
            is_admin=False,
            generation=_NO_GENERATION,
            version=0,
        )
    )


def admin() -> TenancyContext:
    return TenancyContext.for_principal(
        Principal(
            "root",
            frozenset({"admin"}),
            frozenset(),
            is_admin=True,
            generation=_NO_GENERATION,
            version=0,
        )
    )


@pytest.fixture
def open_session(session_factory: SessionFactory, settings: Settings) -> OpenSession:
    """`async with open_session(context) as session:` — one committed unit of work."""

    def _open(
        context: TenancyContext, *, check_enabled: bool = True
    ) -> AbstractAsyncContextManager[AsyncSession]:
        return unit_of_work(
            session_factory,
            context,
            settings=settings.model_copy(update={"tenant_check_enabled": check_enabled}),
        )

    return _open


@dataclass
class Rows:
    """One note per tenant, one template per tenant and one shared template."""

    note_t1: Note
    note_t2: Note
    template_t1: Template
    template_t2: Template
    template_shared: Template


@pytest.fixture
async def rows(open_session: OpenSession) -> AsyncIterator[Rows]:
    async with open_session(TenancyContext.system()) as session:
        await add_tenants(session, "t1", "t2", "t3")
        found = Rows(
            note_t1=Note(tenant_id="t1", title="note of t1"),
            note_t2=Note(tenant_id="t2", title="note of t2"),
            template_t1=Template(tenant_id="t1", key="k"),
            template_t2=Template(tenant_id="t2", key="k"),
            template_shared=Template(tenant_id=None, key="k"),
        )
        session.add_all(vars(found).values())
    yield found
