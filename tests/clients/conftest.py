"""Fixtures for tests that drive Tessera through real Camunda client libraries.

Such clients speak HTTP over sockets (pycamunda uses `requests`, synchronously), so the app
runs in a real uvicorn server: one per test session, in a background thread with its own
event loop, on a free loopback port. It is built exactly like the API tests build theirs
(`create_app(settings)` with the test settings) and serves the database `make test` starts;
the tables are emptied after every test as everywhere else (tests/conftest.py).

`system_worker_url` is a second server, started only by the tests that ask for it, whose
settings name the group `system-workers` in SYSTEM_WORKER_GROUPS (the API tests' settings
name none); `system_worker` is a member of that group and of no tenant.

The callers (`seed`, `tenant_a`, `tenant_b`) are the API tests' fixtures.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import Headers, Seed, member, seed, tenant_a, tenant_b
from tests.conftest import make_settings

__all__ = ["seed", "system_worker", "system_worker_url", "tenant_a", "tenant_b", "tessera_url"]

_STARTUP_SECONDS = 30.0
SYSTEM_WORKERS = "system-workers"


@pytest.fixture(scope="session")
def tessera_url(settings: Settings, owner_engine: AsyncEngine) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:<port>`) of a running Tessera; the schema is migrated
    (`owner_engine`) before the server starts."""
    with _serve(settings) as url:
        yield url


@pytest.fixture(scope="session")
def system_worker_url(owner_engine: AsyncEngine) -> Iterator[str]:
    """Like `tessera_url`, but members of group `system-workers` are system workers."""
    with _serve(make_settings(system_worker_groups=[SYSTEM_WORKERS])) as url:
        yield url


@pytest.fixture
async def system_worker(seed: Seed, settings: Settings) -> Headers:
    """`robot`: a member of group `system-workers` and of no tenant."""
    return await member(seed, settings, "robot", groups=[SYSTEM_WORKERS])


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    host, port = listener.getsockname()
    config = uvicorn.Config(
        create_app(settings),
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="tessera-uvicorn", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            listener.close()
            pytest.fail("Tessera's uvicorn server did not start", pytrace=False)
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_SECONDS)
        listener.close()
