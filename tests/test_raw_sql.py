"""Raw SQL bypasses the ORM tenant filter, so it is allowed only in app/core (DESIGN §3).

The scan looks for `text(`, `session.connection(`, `exec_driver_sql`, `__table__` (Core
statements on a model's table) and `literal_column(` anywhere else under app/.
"""

from __future__ import annotations

import re
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
FORBIDDEN = re.compile(r"\btext\(|\.connection\(|exec_driver_sql|__table__|literal_column\(")


def offending_lines(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.is_relative_to(root / "core"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if FORBIDDEN.search(line):
                found.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    return found


def test_no_raw_sql_outside_app_core() -> None:
    assert offending_lines(APP) == []


def test_the_scan_finds_raw_sql(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "ok.py").write_text('text("SELECT 1")\n')
    (tmp_path / "services.py").write_text('await session.execute(text("DELETE FROM x"))\n')
    assert offending_lines(tmp_path) == [
        f'{tmp_path.name}/services.py:1: await session.execute(text("DELETE FROM x"))'
    ]
