"""The command line: `run`, `exec` and `clean` (see the package docstring), and `main`,
which maps our failures and interrupts to exit codes.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
from collections.abc import Sequence

from . import STATE, ServiceError, log, shown
from . import __doc__ as overview
from .bootstrap import child_env, ensure_admin, migrate, services, throwaway_root, venv_tool
from .postgres import stop_leftover_postgres
from .processes import Interrupted, raise_interrupted, run_foreground, supervise, wait_for_signal
from .redis import stop_leftover_redis

PROG = "python -m scripts.devservices"


def cmd_run(args: argparse.Namespace) -> int:
    """Persistent dev servers, then the API and the worker."""
    STATE.mkdir(parents=True, exist_ok=True)
    with services(STATE, throwaway=False) as extra:
        env = child_env(extra, "development")
        if args.services_only:
            for key in sorted({*extra, "ENVIRONMENT"}):
                print(f"export {key}={env[key]}", flush=True)
            log("services up; Ctrl-C to stop them")
            wait_for_signal()
            return 0
        migrate(env)
        ensure_admin(env)
        port = os.environ.get("PORT", "8000")
        api = [venv_tool("uvicorn"), "app.main:app", "--host", "127.0.0.1", "--port", port]
        worker = [venv_tool("arq"), "app.worker.WorkerSettings"]
        return supervise([("uvicorn", api), ("arq", worker)], env)


def cmd_exec(args: argparse.Namespace) -> int:
    """Throwaway servers around one command; exit with the command's code."""
    cmd = list(args.cmd)
    if cmd[:1] == ["--"]:
        cmd = cmd[1:]
    if not cmd:
        raise ServiceError(f"usage: {PROG} exec -- CMD [ARGS...]")
    with throwaway_root() as root, services(root, throwaway=True) as extra:
        env = child_env(extra, "test")
        # ENVIRONMENT=test refuses a placeholder SECRET_KEY (app/core/config.py), and
        # alembic, the tests and the benchmarks read the settings: throwaway servers get a
        # throwaway key unless the caller brought one.
        env.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
        migrate(env)
        return run_foreground(cmd, env)


def cmd_clean(args: argparse.Namespace) -> int:
    """Stop every server whose files are in .tessera/, then delete it (stdlib only, so it
    works with a plain python3 and without the venv)."""
    if not STATE.exists():
        return 0
    for pidfile in STATE.rglob("postmaster.pid"):
        stop_leftover_postgres(pidfile.parent)
    for pidfile in STATE.rglob("redis.pid"):
        stop_leftover_redis(pidfile)
    shutil.rmtree(STATE)
    log(f"removed {shown(STATE)}")
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Subcommands run / exec / clean (see the package docstring)."""
    description = overview.split("\n\n")[0] if overview else None
    parser = argparse.ArgumentParser(prog=PROG, description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="persistent servers + migrate + uvicorn + arq")
    run.add_argument(
        "--services-only",
        action="store_true",
        help="only start the servers, print their env, wait for Ctrl-C",
    )
    run.set_defaults(func=cmd_run)
    exe = sub.add_parser("exec", help="throwaway servers around one command")
    exe.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    exe.set_defaults(func=cmd_exec)
    clean = sub.add_parser("clean", help="stop leftovers and delete .tessera/")
    clean.set_defaults(func=cmd_clean)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """Entry point: map our failures to a message and exit code 1, interrupts to 128+N."""
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        code: int = args.func(args)
    except ServiceError as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    except Interrupted:
        log("terminated")
        return 143
    return code
