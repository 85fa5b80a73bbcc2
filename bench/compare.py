"""Two checkouts measured in turn, so that both see the same machine: before/after a change.

    python -m bench.compare BEFORE_DIR AFTER_DIR [ROUNDS] [MEASURES]

Each measurement runs in a fresh interpreter from each checkout's root (its own code and
its own ``.venv``), before then after, round after round; a busy machine then slows both
alike. MEASURES is a comma-separated subset of: cap_sqlite, cap_pg (ingestion capacity,
100,000 replies, 1,000 callers), sqlite_20k, pg_20k (20,000 replies a second offered for
15 s), reads (thread read p99 on 100,000 comments). PostgreSQL measures need the local server
(``NEWSBOT_TEST_POSTGRES`` or the default one).
"""

from __future__ import annotations

import subprocess
import sys

MEASURES = ["cap_sqlite", "cap_pg", "sqlite_20k", "pg_20k", "reads"]

ONE = r"""
import asyncio, json, sys, tempfile
from pathlib import Path
sys.path.insert(0, ".")
from bench import core
what = sys.argv[1]
server = core.postgres_server()
if what == "cap_sqlite":
    rows = [asyncio.run(core.ingestion_capacity(100_000))]
elif what == "cap_pg":
    with core.postgres_database(server) as url:
        rows = [asyncio.run(core.ingestion_capacity(100_000, url))]
elif what == "sqlite_20k":
    rows = asyncio.run(core.ingestion(15, 20_000))[:1]
elif what == "pg_20k":
    with core.postgres_database(server) as url:
        rows = asyncio.run(core.ingestion(15, 20_000, postgres=url))[:1]
else:
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.db"
        core.build_big_database(big, 1000, 100, 200)
        rows = asyncio.run(core.thread_reads(big, 1000, 1000))
print(json.dumps([(r.name, r.value, r.note) for r in rows]))
"""


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    before, after = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    measures = sys.argv[4].split(",") if len(sys.argv) > 4 else MEASURES
    for number in range(rounds):
        for what in measures:
            for label, where in (("before", before), ("after", after)):
                done = subprocess.run(
                    [f"{where}/.venv/bin/python", "-c", ONE, what],
                    cwd=where,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = done.stdout.strip().splitlines()
                shown = lines[-1] if lines else done.stderr[-300:]
                print(f"round {number} | {what} | {label} | {shown}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
