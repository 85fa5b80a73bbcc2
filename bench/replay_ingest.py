"""SQLite comment ingestion in instructions: capture the capacity bench's batches, replay them.

Wall figures move with the machine's load; instruction counts (``valgrind --tool=callgrind``)
do not. ``capture DIR`` runs ``ingestion_capacity`` once and keeps what the SQLite store was
handed (every batch, and a copy of the database before the first); the other commands replay
the first ``N`` of those batches through this tree's code, one part at a time:

- ``encode DIR N``: the parent's encoding of each batch (writes ``DIR/frames``);
- the writer process itself: ``python -c "...ingest import main; main()" ROOT DB FULL 5000``
  with ``DIR/frames`` on stdin and ``DIR/answers`` on stdout, on a fresh copy of the database;
- ``results DIR N``: the parent's turning of each answer into the callers' results.

``count DIR CMD`` runs each part under callgrind with ``N`` and with none, and prints the
difference a comment (loading the capture is in both runs, so it cancels out)::

    python -m bench.replay_ingest capture /tmp/replay
    python -m bench.replay_ingest count /tmp/replay 30
"""

from __future__ import annotations

import asyncio
import importlib
import pickle
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# A tree from before issue 17's refactor (storage/sqlite.py, storage/ingest.py, wires): the
# venv's editable install would find /work/main's modules for names it lacks, so ask the tree.
OLD = not (ROOT / "storage" / "sqlite" / "ingest.py").exists()


def capture(where: Path, count: int = 31_000) -> None:
    """Run the capacity bench on SQLite and keep its batches and the database before them."""
    from bench import core

    batches: list[list[Any]] = []

    def keep(path: Path, items: list[Any]) -> None:
        if not batches:
            with sqlite3.connect(path) as source, sqlite3.connect(where / "db") as copy:
                source.backup(copy)
        batches.append(list(items))

    _keeping(keep)
    asyncio.run(core.ingestion_capacity(count))
    (where / "batches").write_bytes(pickle.dumps(batches, pickle.HIGHEST_PROTOCOL))
    print(f"{len(batches)} batches, sizes {sorted({len(b) for b in batches})}")


def _keeping(keep: Any) -> None:
    """Call ``keep(path, batch)`` before the store writes each batch."""
    if OLD:
        _keeping_wires(keep)
        return
    from storage.sqlite.store import SqliteStore

    original = SqliteStore._write_batch

    async def keeping(self: SqliteStore, items: list[Any]) -> Any:
        keep(self.path, items)
        return await original(self, items)

    SqliteStore._write_batch = keeping  # type: ignore[method-assign]


def _old(name: str) -> Any:
    """A module of the tree before the refactor (``storage.ingest``, ``storage.sqlite``)."""
    return importlib.import_module(name)


def _keeping_wires(keep: Any) -> None:
    ingest, old = _old("storage.ingest"), _old("storage.sqlite")

    items: list[Any] = []
    wire, write = old._wire, ingest.IngestProcess.write

    def wiring(item: Any) -> Any:
        items.append(item)
        return wire(item)

    async def writing(self: Any, rows: Any) -> Any:
        keep(self.path, items[:])
        items.clear()
        return await write(self, rows)

    old._wire, ingest.IngestProcess.write = wiring, writing


def _batches(where: Path, n: int) -> list[list[Any]]:
    batches: list[list[Any]] = pickle.loads((where / "batches").read_bytes())
    return [b for b in batches if len(b) == 1000][:n]


def encode(where: Path, n: int) -> None:
    """The parent's encoding of the first ``n`` batches, to ``where/frames``."""
    if not OLD:
        from storage.sqlite.ingest import IngestProcess

        frames = [IngestProcess.encode(batch) for batch in _batches(where, n)]
    else:
        _frame, _wire = _old("storage.ingest")._frame, _old("storage.sqlite")._wire
        frames = [_frame([_wire(item) for item in batch]) for batch in _batches(where, n)]
    if n:
        (where / "frames").write_bytes(b"".join(frames))


def results(where: Path, n: int) -> None:
    """The parent's reading of the writer's answers to the first ``n`` batches."""
    batches = _batches(where, n)
    data = (where / "answers").read_bytes()
    offset = 0
    for batch in batches:
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind, value = pickle.loads(data[offset + 4 : offset + 4 + size])
        offset += 4 + size
        assert kind == "ok", value
        _results(batch, value)


def _results(batch: list[Any], value: Any) -> None:
    if not OLD:
        from newsbot import intake

        intake.results(batch, value)
    else:
        _outcome = _old("storage.sqlite")._outcome
        done: list[Any] = []
        for item, outcome in zip(batch, value, strict=True):
            done.append(_outcome(item, outcome, done))


def _callgrind(args: list[str], stdin: Path | None = None, stdout: Path | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        with (
            open(stdin or "/dev/null", "rb") as source,
            open(stdout or "/dev/null", "wb") as sink,
        ):
            done = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *args],
                stdin=source,
                stdout=sink,
                stderr=subprocess.PIPE,
                check=False,
                cwd=ROOT,
            )
        if done.returncode:
            raise RuntimeError(f"{args} failed: {done.stderr.decode()[-2000:]}")
        summary = re.search(rb"^summary: (\d+)", out.read_bytes(), re.M)
        assert summary is not None
        return int(summary.group(1))


def _writer(where: Path, frames: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        shutil.copy(where / "db", db)
        child = _old("storage.ingest" if OLD else "storage.sqlite.ingest")._CHILD

        args = [sys.executable, "-c", child, str(ROOT), str(db), "FULL", "5000"]
        return _callgrind(args, frames, where / "answers" if frames else None)


def count(where: Path, n: int) -> None:
    """Instructions a comment of each part, for the first ``n`` batches."""
    comments = sum(map(len, _batches(where, n)))
    me = [sys.executable, "-m", "bench.replay_ingest"]
    parts = {}
    parts["parent: encode the batch"] = _callgrind([*me, "encode", str(where), str(n)]) - (
        _callgrind([*me, "encode", str(where), "0"])
    )
    encode(where, n)
    parts["writer process"] = _writer(where, where / "frames") - _writer(where, None)
    parts["parent: answers to results"] = _callgrind([*me, "results", str(where), str(n)]) - (
        _callgrind([*me, "results", str(where), "0"])
    )
    for name, value in parts.items():
        print(f"{name}: {value / comments:,.0f}")
    print(f"in all: {sum(parts.values()) / comments:,.0f} ({comments:,} comments)")


def main() -> None:
    command, where = sys.argv[1], Path(sys.argv[2])
    where.mkdir(parents=True, exist_ok=True)
    if command == "capture":
        capture(where)
    else:
        {"encode": encode, "results": results, "count": count}[command](where, int(sys.argv[3]))


if __name__ == "__main__":
    main()
