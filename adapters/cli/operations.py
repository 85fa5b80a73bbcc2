"""Running newsbot: the workers on a database, the warning when none is, and moving a
database to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from typing import Any

from adapters.cli.backend import Backend
from adapters.cli.output import Progress, error
from newsbot import NewsBotError, NewsService
from newsbot.workers import LIVE_HORIZON


async def workers(service: NewsService, args: argparse.Namespace) -> object:
    """``workers``: the live workers and which roles they hold."""
    roster = await service.roster(args.horizon)
    now = roster.at
    roles = {r.role: r for r in roster.roles}
    rows: list[dict[str, Any]] = [
        {
            "id": w.id,
            "host": w.host,
            "pid": w.pid,
            "started_at": w.started_at.isoformat(),
            "heartbeat_at": w.heartbeat_at.isoformat(),
            "heartbeat_age": round((now - w.heartbeat_at).total_seconds(), 1),
            "roles": [r for r in w.roles if r in roles and roles[r].holder == w.id],
        }
        for w in roster.workers
    ]
    if args.json:
        return {
            "workers": rows,
            "roles": [
                {
                    "role": r.role,
                    "holder": r.holder,
                    "lease_until": r.lease_until.isoformat(),
                    "epoch": r.epoch,
                    "live": r.lease_until > now,
                }
                for r in roles.values()
            ],
        }
    lines = [f"{'WORKER':<36} {'HOST':<16} {'PID':>7}  {'HEARTBEAT':>9}  ROLES"]
    for r in rows:
        held = ",".join(r["roles"]) or "-"
        age = f"{r['heartbeat_age']:.1f} s ago"
        lines.append(f"{r['id']:<36} {r['host']:<16} {r['pid']:>7}  {age:>9}  {held}")
    if not rows:
        lines.append(f"(no worker sent a heartbeat in the last {args.horizon:g} s)")
    for lease in roles.values():
        if lease.lease_until <= now:
            lines.append(f"{lease.role}: nobody (last held by {lease.holder})")
    return "\n".join(lines)


async def unattended(
    service: NewsService, backend: Backend, database: str, created: bool
) -> str | None:
    """A warning when no worker has sent a heartbeat to ``database`` lately: what a command
    queues there waits for a bot, and a command run from another directory may have found
    (or created) another SQLite file than the bot's."""
    try:
        if await service.live_workers():
            return None
    except NewsBotError:
        return None  # the command itself said what is wrong with the database
    where = backend.describe(database)
    if not backend.is_postgres(database) and not os.path.isabs(database):
        where = f"{where} ({await asyncio.to_thread(os.path.realpath, database)})"
    if created:
        said = f"created a new, empty database at {where}: no newsbot worker runs on it"
    else:
        said = f"no newsbot worker has been seen on {where} in the last {LIVE_HORIZON:g} s"
    return (
        f"newsbot: warning: {said}, so nothing is sent from it until one does. If the bot "
        "uses another database, name it with --database (or NEWSBOT_DATABASE)."
    )


async def copy_database(backend: Backend, args: argparse.Namespace) -> int:
    """``copy-database [SQLITE_PATH] POSTGRES_URL``: move to PostgreSQL (see the README)."""
    if not backend.is_postgres(args.postgres_url):
        return error(args, "POSTGRES_URL must start with postgresql://")
    if args.sqlite_path is None:
        args.sqlite_path = args.database
    elif getattr(args, "given_database", None) not in (None, args.sqlite_path):
        return error(args, "name the source once: SQLITE_PATH or --database")
    if backend.is_postgres(args.sqlite_path):
        return error(args, "the source must be an SQLite file")
    try:
        progress = Progress()
        counts = await backend.copy(
            args.sqlite_path,
            args.postgres_url,
            lambda table, sent, total: progress(f"copying {table}", sent, total),
        )
    except NewsBotError as exc:
        return error(args, str(exc), prefix="newsbot", kind="storage_error")
    target = backend.describe(args.postgres_url)
    if args.json:
        print(json.dumps({"target": target, "copied": counts}, indent=2))
    else:
        rows = ", ".join(f"{n} {table}" for table, n in counts.items())
        print(f"Copied {args.sqlite_path} into {target}; every count checked: {rows}.")
        print(f"Now run newsbot with NEWSBOT_DATABASE={target}")
    return 0


async def backup(backend: Backend, args: argparse.Namespace) -> int:
    """``backup FILE``: a consistent copy of the SQLite database, taken while it runs."""
    if backend.is_postgres(args.database):
        return error(
            args,
            "backup copies an SQLite database; back PostgreSQL up with pg_dump "
            "(docs/deploy.md, Backups)",
        )
    progress = Progress()
    try:
        size = await backend.backup(
            args.database,
            args.file,
            lambda done, total: progress(f"backing up {args.database}", done, total, "pages"),
        )
    except NewsBotError as exc:
        return error(args, str(exc), prefix="newsbot", kind="storage_error")
    if args.json:
        print(json.dumps({"source": args.database, "backup": args.file, "bytes": size}))
    else:
        print(f"Backed {args.database} up to {args.file} ({size} bytes, integrity checked).")
    return 0
