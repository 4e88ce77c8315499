"""Bootstrap: the servers one command needs, the env its children get, migrate, the admin.

`services` starts whatever DATABASE_URL / REDIS_URL do not already point at and stops it
again; `migrate` and `ensure_admin` run the repo's own tools (from the venv running us)
against it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from . import REPO, STATE, ServiceError, log
from .postgres import start_postgres
from .processes import shield_signals
from .redis import start_redis

VENV_BIN = Path(sys.executable).parent  # alembic, uvicorn, arq of the venv running us


def venv_tool(name: str) -> str:
    """A console script of the venv running us (so `make` needs no activated venv)."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServiceError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def run_step(args: Sequence[str], env: Mapping[str, str], what: str) -> None:
    """A setup step in the foreground; its failure aborts (and tears down)."""
    log(f"{what}: {' '.join(args)}")
    code = subprocess.run(args, cwd=REPO, env=env, check=False).returncode
    if code != 0:
        raise ServiceError(f"{what} failed (exit {code})")


def migrate(env: Mapping[str, str]) -> None:
    """alembic upgrade head as configured by the repo (its env reads DATABASE_OWNER_URL)."""
    run_step([venv_tool("alembic"), "upgrade", "head"], env, "migrate")


def ensure_admin(env: Mapping[str, str]) -> None:
    """Create the first admin (prints its generated password once)."""
    run_step([sys.executable, "-m", "app.cli", "ensure-admin"], env, "ensure-admin")


@contextlib.contextmanager
def services(root: Path, throwaway: bool) -> Iterator[dict[str, str]]:
    """Start what is not configured, yield the env for children, stop what we started."""
    stack = contextlib.ExitStack()
    env: dict[str, str] = {}
    try:
        if os.environ.get("DATABASE_URL"):
            log("DATABASE_URL is set: using it, starting no PostgreSQL")
        else:
            pg = start_postgres(root, throwaway)
            stack.callback(pg.stop)
            env.update(pg.urls())
        if os.environ.get("REDIS_URL"):
            log("REDIS_URL is set: using it, starting no Redis")
        else:
            redis = start_redis(root, throwaway)
            stack.callback(redis.stop)
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis.port}/0"
        yield env
    finally:
        shield_signals()
        began = time.monotonic()
        stack.close()
        log(f"services stopped ({time.monotonic() - began:.1f}s)")


@contextlib.contextmanager
def throwaway_root() -> Iterator[Path]:
    """A fresh directory under .tessera/ for one `exec`, deleted afterwards (`make
    clean-data` finds it if we are killed)."""
    STATE.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="tmp-", dir=STATE))
    root.chmod(0o711)  # the server's user only needs to pass through
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if root.exists():
            log(f"could not delete {root}")


def child_env(extra: Mapping[str, str], environment: str) -> dict[str, str]:
    """Our environment plus the service URLs; ENVIRONMENT only if not already set."""
    env = {**os.environ, **extra}
    env.setdefault("ENVIRONMENT", environment)
    return env
