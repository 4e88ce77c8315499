"""The fault test's short version (benchmarks/fault_background.py --quick): real arq
workers killed with SIGKILL mid-run, Redis flushed and restarted, every database connection
of the application role terminated — and still every run takes effect exactly once and
every outbox event is delivered at least once."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fault_background.py"


@pytest.mark.timeout(300)
async def test_killed_workers_a_flushed_redis_and_dropped_connections_lose_no_work(
    engine: AsyncEngine,  # the schema is migrated; the suite's pool of the application role
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--timeout",
        "120",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(os.environ),
    )
    output, _ = await process.communicate()
    # The script terminated every connection of the application role, this suite's pooled
    # ones too: the tests after this one start from a fresh pool.
    await engine.dispose()
    report = output.decode()
    assert process.returncode == 0, report
    assert "exactly once in effect: yes" in report, report
    assert "every event delivered at least once: yes" in report, report
    assert "SIGKILL a worker" in report and "Redis flushed and restarted" in report, report
    assert re.search(r"[1-9][0-9]* database connections terminated", report), report
