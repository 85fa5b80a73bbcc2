"""newsbot's entry point and composition root: settings, logging, the bot, and the admin CLI.

``python bot.py`` (or the ``newsbot`` console script) runs the bot: it opens storage, starts the
dispatcher and every adapter whose settings are present, and stops cleanly on SIGINT/SIGTERM.
Subcommands (``publish``, ``articles``, ``deliveries``, ...) administer the same database
without any platform; a running bot picks up what they enqueue within a second or two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    CommentId,
    CommentNode,
    DestinationKind,
    Dispatcher,
    DomainError,
    IntakeLimits,
    NewDestination,
    NewsBotError,
    NewsService,
    Platform,
    Publisher,
    Store,
)
from storage import describe_database, is_postgres, open_store

log = logging.getLogger("newsbot")


# -- settings -----------------------------------------------------------------------------


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseSettings):
    """Configuration from ``NEWSBOT_*`` environment variables and an optional ``.env`` file."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSBOT_", env_file=".env", extra="ignore", validate_default=True
    )

    # An SQLite file's path, or a PostgreSQL URL (postgresql://user@host:port/db).
    database: str = "newsbot.db"
    # FULL: a commit is on disk before newsbot acts on it (a post recorded as sent, a comment
    # acknowledged). NORMAL is faster but a power loss or a failing disk can undo commits.
    sqlite_synchronous: str = Field("FULL", pattern=r"(?i)^(NORMAL|FULL|EXTRA)$")
    public_url: str = ""
    log_level: str = Field("INFO", pattern=r"(?i)^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_admins: Annotated[frozenset[str], NoDecode] = frozenset()

    discord_token: SecretStr | None = None
    discord_api_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg/"
    discord_admins: Annotated[frozenset[str], NoDecode] = frozenset()
    discord_guild: int | None = None

    web: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    web_admin_token: SecretStr | None = None

    mirror: bool = True
    mirror_delay: float = Field(0.0, ge=0, le=86400)
    # Who may subscribe a chat: "approval" (a chat admin's request waits for a newsbot admin)
    # or "open" (any chat admin).
    subscriptions: Literal["approval", "open"] = "approval"
    # Comments per minute; over that they are stored hidden and not mirrored. 0: no limit.
    comments_per_author: int = Field(5, ge=0)
    comments_per_chat: int = Field(60, ge=0)

    @field_validator(
        "telegram_token", "discord_token", "telegram_api_url", "discord_guild", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("telegram_admins", "discord_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def site_url(self) -> str:
        """Where article pages live: ``public_url``, or the local web server's address."""
        return self.public_url or f"http://{self.web_host}:{self.web_port}"

    def secrets(self) -> list[str]:
        """Every secret value, for redaction from logs."""
        found = [
            s.get_secret_value()
            for s in (self.telegram_token, self.discord_token, self.web_admin_token)
            if s is not None and s.get_secret_value()
        ]
        if is_postgres(self.database):
            password = urlsplit(self.database.strip()).password
            if password:
                found.append(password)
        return found


def load_settings(**overrides: Any) -> Settings:
    """Read settings; on a bad value, print one line naming the variable and exit with 2."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            name = "NEWSBOT_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"newsbot: configuration error: {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None


# -- logging ------------------------------------------------------------------------------

_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class LogfmtFormatter(logging.Formatter):
    """One ``key=value`` line per record, with extra fields, and every secret replaced."""

    converter = time.gmtime  # type: ignore[assignment]  # UTC timestamps

    def __init__(self, secrets: Sequence[str] = ()) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as logfmt and redact secrets."""
        parts = [
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}.{int(record.msecs):03d}Z",
            f"level={record.levelname}",
            f"logger={record.name}",
            f"msg={_quote(record.getMessage())}",
        ]
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                parts.append(f"{key}={_quote(str(value))}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        line = " ".join(parts)
        for secret in self.secrets:
            line = line.replace(secret, "***")
        return line


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' "=\n\t'):
        return value
    return json.dumps(value, ensure_ascii=False)


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Send logfmt lines to stderr at the configured level, with tokens redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter(settings.secrets()))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # These log every request URL, which holds the Telegram token; keep them to warnings.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "discord.gateway", "discord.http"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


# -- the bot ------------------------------------------------------------------------------


class Adapter(Protocol):
    """What the composition root needs of a platform adapter."""

    name: str

    @property
    def publisher(self) -> Publisher | None:
        """The adapter's publisher, or ``None`` for adapters that only receive (the web)."""
        ...

    async def start(self) -> None:
        """Connect and start receiving."""
        ...

    async def stop(self) -> None:
        """Stop receiving and disconnect."""
        ...


def build_service(settings: Settings, store: Store) -> NewsService:
    """The service as configured."""
    return NewsService(
        store,
        admins={
            Platform.TELEGRAM: settings.telegram_admins,
            Platform.DISCORD: settings.discord_admins,
        },
        public_url=settings.site_url,
        mirror=settings.mirror,
        mirror_delay=settings.mirror_delay,
        open_subscriptions=settings.subscriptions == "open",
        intake=IntakeLimits(settings.comments_per_author, settings.comments_per_chat),
    )


def build_adapters(settings: Settings, service: NewsService) -> tuple[list[Adapter], list[str]]:
    """Create the adapters whose settings are present; say why each other one is off."""
    adapters: list[Adapter] = []
    report: list[str] = []
    if settings.telegram_token is not None:
        from adapters.telegram import TelegramAdapter

        adapters.append(
            TelegramAdapter(
                service,
                token=settings.telegram_token.get_secret_value(),
                api_url=settings.telegram_api_url,
            )
        )
        report.append("telegram: on")
    else:
        report.append("telegram: off (NEWSBOT_TELEGRAM_TOKEN is not set)")
    if settings.discord_token is not None:
        from adapters.discord import DiscordAdapter

        adapters.append(
            DiscordAdapter(
                service,
                token=settings.discord_token.get_secret_value(),
                api_url=settings.discord_api_url,
                gateway_url=settings.discord_gateway_url,
                guild_id=settings.discord_guild,
            )
        )
        report.append("discord: on")
    else:
        report.append("discord: off (NEWSBOT_DISCORD_TOKEN is not set)")
    if settings.web:
        from adapters.web import WebAdapter

        admin = settings.web_admin_token
        adapters.append(
            WebAdapter(
                service,
                host=settings.web_host,
                port=settings.web_port,
                admin_token=admin.get_secret_value() if admin else None,
            )
        )
        where = f"http://{settings.web_host}:{settings.web_port}"
        note = "" if admin else "; admin page off (NEWSBOT_WEB_ADMIN_TOKEN is not set)"
        report.append(f"web: on at {where}{note}")
    else:
        report.append("web: off (NEWSBOT_WEB is false)")
    return adapters, report


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the bot until ``stop`` is set or SIGINT/SIGTERM arrives. Returns an exit status."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    store = open_store(settings.database, synchronous=settings.sqlite_synchronous)
    await store.open()
    started: list[Adapter] = []
    dispatcher: Dispatcher | None = None
    try:
        service = build_service(settings, store)
        adapters, report = build_adapters(settings, service)
        for line in report:
            print(f"newsbot: {line}", file=sys.stderr)
        publishers = {
            a.publisher.platform: a.publisher for a in adapters if a.publisher is not None
        }
        dispatcher = Dispatcher(store, publishers, article_url=service.article_url)
        service.on_enqueue(dispatcher.wake)
        await dispatcher.start()
        for adapter in adapters:
            await adapter.start()
            started.append(adapter)
        # Everything loaded so far lives as long as the bot: out of the collector's way, so
        # its full collections stop walking the libraries' objects (p99 of a thread page read
        # fell from 2.3 to 1.8 ms at 1M comments, bench/ANALYSIS.md).
        gc.freeze()
        log.info(
            "newsbot running",
            extra={
                "database": describe_database(settings.database),
                "platforms": ",".join(str(p) for p in publishers) or "none",
            },
        )
        if not publishers:
            print(
                "newsbot: no chat platform is on; articles published now stay queued until "
                "one is. Publish with: python bot.py publish --title T --body B",
                file=sys.stderr,
            )
        await stop.wait()
        log.info("newsbot stopping")
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter failed to stop", extra={"adapter": adapter.name})
        if dispatcher is not None:
            await dispatcher.stop()
        await store.close()
    return 0


# -- the command line ---------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _article_json(service: NewsService, article: Any) -> dict[str, Any]:
    data = _plain(article)
    data["url"] = service.article_url(article.id)
    data["canonical_url"] = article.url
    return dict(data)


def _comment_json(node: CommentNode) -> dict[str, Any]:
    comment = node.comment
    return {
        "id": comment.id,
        "article_id": comment.article_id,
        "parent_id": comment.parent_id,
        "author_name": comment.author.name,
        "platform": str(comment.author.platform),
        "text": comment.text,
        "status": str(comment.status),
        "created_at": comment.created_at.isoformat(),
        "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
        "replies": [_comment_json(r) for r in node.replies],
    }


def _read_body(args: argparse.Namespace) -> str | None:
    if args.body_file is not None:
        if args.body_file == "-":
            return sys.stdin.read()
        try:
            return Path(args.body_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DomainError(f"Cannot read {args.body_file}: {exc}") from exc
    body: str | None = args.body
    return body


def _tags(value: str | None) -> tuple[str, ...]:
    return tuple(t for t in (value or "").split(",") if t.strip())


Command = Callable[[NewsService, argparse.Namespace], Awaitable[Any]]


async def _publish(service: NewsService, args: argparse.Namespace) -> Any:
    body = _read_body(args)
    if body is None:
        raise DomainError("Give the body with --body TEXT or --body-file FILE.")
    draft = ArticleDraft(
        args.title, body, args.summary or "", args.url, args.image, _tags(args.tags)
    )
    change = await service.publish(Actor.operator(), draft)
    if args.json:
        return {**_article_json(service, change.article), "queued": change.queued}
    page = service.article_url(change.article.id)
    return (
        f"Published article {change.article.id}: {change.article.title}\n"
        f"Queued for {change.queued} destination(s). Page: {page}"
    )


async def _edit(service: NewsService, args: argparse.Namespace) -> Any:
    current = await service.article(ArticleId(args.id))
    body = _read_body(args)
    draft = ArticleDraft(
        title=args.title if args.title is not None else current.title,
        body=body if body is not None else current.body,
        summary=args.summary if args.summary is not None else current.summary,
        url=args.url if args.url is not None else current.url,
        image_url=args.image if args.image is not None else current.image_url,
        tags=_tags(args.tags) if args.tags is not None else current.tags,
    )
    change = await service.edit(Actor.operator(), ArticleId(args.id), draft)
    if args.json:
        return {**_article_json(service, change.article), "queued": change.queued}
    revision = change.article.revision
    return f"Edited article {args.id} (revision {revision}); {change.queued} edit(s) queued."


async def _retract(service: NewsService, args: argparse.Namespace) -> Any:
    change = await service.retract(Actor.operator(), ArticleId(args.id))
    if args.json:
        return {**_article_json(service, change.article), "queued": change.queued}
    return f"Retracted article {args.id}; {change.queued} deletion(s) queued."


async def _articles(service: NewsService, args: argparse.Namespace) -> Any:
    page = await service.latest(args.limit, args.cursor)
    if args.json:
        return {
            "articles": [_article_json(service, a) for a in page.articles],
            "next_cursor": page.next_cursor,
        }
    lines = [f"{'ID':>5}  {'PUBLISHED':<16}  TITLE"]
    for a in page.articles:
        when = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else "-"
        lines.append(f"{a.id:>5}  {when:<16}  {a.title}")
    if not page.articles:
        lines.append("(no articles yet)")
    if page.next_cursor:
        lines.append(f"More: --cursor {page.next_cursor}")
    return "\n".join(lines)


async def _article(service: NewsService, args: argparse.Namespace) -> Any:
    article = await service.article(ArticleId(args.id))
    count = await service.comment_count(article.id)
    if args.json:
        return {**_article_json(service, article), "comment_count": count}
    return "\n".join(
        [
            f"#{article.id} {article.title}  [{article.status}, revision {article.revision}]",
            f"Page: {service.article_url(article.id)}",
            f"Tags: {', '.join(article.tags) or '-'}   Comments: {count}",
            "",
            article.summary or article.body,
        ]
    )


def _thread_lines(nodes: list[CommentNode], depth: int = 0) -> list[str]:
    lines = []
    for node in nodes:
        c = node.comment
        text = c.text.replace("\n", " ") if c.text else "[deleted]"
        lines.append(
            f"{'  ' * depth}#{c.id} {c.author.name or '-'} ({c.author.platform}, "
            f"{c.created_at:%Y-%m-%d %H:%M}): {text}"
        )
        lines += _thread_lines(node.replies, depth + 1)
    return lines


async def _comments(service: NewsService, args: argparse.Namespace) -> Any:
    page = await service.thread(
        ArticleId(args.id),
        cursor=args.cursor,
        limit=args.limit,
        newest_first=args.newest,
        viewer=Actor.operator(),
    )
    if args.json:
        return {
            "article_id": page.article_id,
            "total": page.total,
            "comments": [_comment_json(n) for n in page.comments],
            "next_cursor": page.next_cursor,
        }
    lines = [f"{page.total} comment(s) on article {page.article_id}"]
    lines += _thread_lines(page.comments)
    if page.next_cursor:
        lines.append(f"More: --cursor {page.next_cursor}")
    return "\n".join(lines)


async def _subscribe(service: NewsService, args: argparse.Namespace) -> Any:
    new = NewDestination(
        platform=Platform(args.platform),
        chat_id=args.chat_id,
        kind=DestinationKind(args.kind),
        title=args.title or "",
        thread_id=args.thread,
        tags=_tags(args.tags),
    )
    result = await service.subscribe(Actor.operator(), new)
    if args.json:
        return {**_plain(result.destination), "created": result.created}
    d = result.destination
    if result.created:
        return f"Subscribed {d.platform} chat {d.chat_id} (destination {d.id})."
    return f"{d.platform} chat {d.chat_id} was already subscribed (destination {d.id})."


async def _approve(service: NewsService, args: argparse.Namespace) -> Any:
    d = await service.approve(Actor.operator(), Platform(args.platform), args.chat_id, args.thread)
    if args.json:
        return _plain(d)
    return f"Approved {d.platform} chat {d.chat_id} (destination {d.id}): articles go there now."


async def _unsubscribe(service: NewsService, args: argparse.Namespace) -> Any:
    d = await service.unsubscribe(
        Actor.operator(), Platform(args.platform), args.chat_id, args.thread
    )
    if args.json:
        return {"id": d.id, "active": False}
    return f"Unsubscribed {d.platform} chat {d.chat_id}."


async def _destinations(service: NewsService, args: argparse.Namespace) -> Any:
    found = await service.destinations()
    if args.json:
        return [_plain(d) for d in found]
    lines = [f"{'ID':>5}  {'PLATFORM':<9} {'KIND':<12} {'ACTIVE':<7}  CHAT"]
    for d in found:
        chat = d.chat_id + (f"/{d.thread_id}" if d.thread_id else "")
        title = f" {d.title}" if d.title else ""
        note = f"  ({d.deactivated_reason})" if not d.active and d.deactivated_reason else ""
        if d.pending:
            note = f"  (approve with: bot.py approve {d.platform} {d.chat_id})"
        active = "yes" if d.active else "pending" if d.pending else "no"
        lines.append(f"{d.id:>5}  {d.platform:<9} {d.kind:<12} {active:<7}  {chat}{title}{note}")
    if not found:
        lines.append("(no destinations yet: python bot.py subscribe PLATFORM CHAT_ID)")
    return "\n".join(lines)


async def _deliveries(service: NewsService, args: argparse.Namespace) -> Any:
    found = await service.deliveries(ArticleId(args.id))
    rows = [
        {
            "destination": f"{s.destination.platform}:{s.destination.chat_id}",
            "destination_id": s.destination.id,
            "state": str(s.delivery.state),
            "op": str(s.delivery.op),
            "attempts": s.delivery.attempts,
            "last_error": s.delivery.last_error,
            "message_id": s.delivery.message_id,
            "next_attempt_at": (
                s.delivery.next_attempt_at.isoformat() if s.delivery.next_attempt_at else None
            ),
        }
        for s in found
    ]
    if args.json:
        return rows
    lines = [f"{'DESTINATION':<32} {'STATE':<8} {'OP':<7} {'TRIES':>5}  LAST ERROR"]
    for r in rows:
        error = r["last_error"] or ""
        lines.append(
            f"{r['destination']:<32} {r['state']:<8} {r['op']:<7} {r['attempts']:>5}  {error}"
        )
    if not rows:
        lines.append("(no destinations were subscribed when it was published)")
    return "\n".join(lines)


async def _delete_comment(service: NewsService, args: argparse.Namespace) -> Any:
    comment = await service.delete_comment(Actor.operator(), CommentId(args.id))
    return (
        {"id": comment.id, "status": str(comment.status)}
        if args.json
        else f"Deleted comment {comment.id}."
    )


async def _ban(service: NewsService, args: argparse.Namespace) -> Any:
    count = await service.ban(Actor.operator(), Platform(args.platform), args.user_id)
    if args.json:
        return {"banned": True, "deleted_comments": count}
    return f"Banned {args.platform} user {args.user_id}; deleted {count} comment(s)."


async def _unban(service: NewsService, args: argparse.Namespace) -> Any:
    changed = await service.unban(Actor.operator(), Platform(args.platform), args.user_id)
    if args.json:
        return {"unbanned": changed}
    return (
        f"Unbanned {args.platform} user {args.user_id}."
        if changed
        else "That user was not banned."
    )


async def copy_database(args: argparse.Namespace) -> int:
    """``copy-database SQLITE_PATH POSTGRES_URL``: move to PostgreSQL (see the README)."""
    if not is_postgres(args.postgres_url):
        print("error: POSTGRES_URL must start with postgresql://", file=sys.stderr)
        return 1
    try:
        from storage.copy import copy_database as copy
    except ImportError:
        print(
            "newsbot: PostgreSQL needs asyncpg: pip install 'newsbot[postgres]'", file=sys.stderr
        )
        return 1
    try:
        counts = await copy(args.sqlite_path, args.postgres_url)
    except NewsBotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    target = describe_database(args.postgres_url)
    if args.json:
        print(json.dumps({"target": target, "copied": counts}, indent=2))
    else:
        rows = ", ".join(f"{n} {table}" for table, n in counts.items())
        print(f"Copied {args.sqlite_path} into {target}; every count checked: {rows}.")
        print(f"Now run newsbot with NEWSBOT_DATABASE={target}")
    return 0


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="Run newsbot, or administer its database. With no command, runs the bot.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("run", help="run the bot (the default)")

    def content(p: argparse.ArgumentParser, required: bool) -> None:
        p.add_argument("--title", required=required)
        group = p.add_mutually_exclusive_group()
        group.add_argument("--body", help="the body, in Markdown")
        group.add_argument("--body-file", help="read the body from a file ('-' for stdin)")
        p.add_argument("--summary")
        p.add_argument("--url", help="the canonical address of the article")
        p.add_argument("--image", help="an image address")
        p.add_argument("--tags", help="comma-separated tags")

    p = sub.add_parser("publish", parents=[common], help="publish an article")
    content(p, True)
    p.set_defaults(handler=_publish)
    p = sub.add_parser("edit", parents=[common], help="edit an article everywhere")
    p.add_argument("id", type=int)
    content(p, False)
    p.set_defaults(handler=_edit)
    p = sub.add_parser("retract", parents=[common], help="retract an article everywhere")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_retract)
    p = sub.add_parser("articles", parents=[common], help="list the latest articles")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--cursor")
    p.set_defaults(handler=_articles)
    p = sub.add_parser("article", parents=[common], help="show one article")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_article)
    p = sub.add_parser("comments", parents=[common], help="show an article's thread")
    p.add_argument("id", type=int)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--cursor")
    p.add_argument("--newest", action="store_true", help="newest first")
    p.set_defaults(handler=_comments)
    platforms = [str(p) for p in Platform if p not in (Platform.CLI, Platform.WEB)]
    p = sub.add_parser("subscribe", parents=[common], help="send future articles to a chat")
    p.add_argument("platform", choices=platforms)
    p.add_argument("chat_id")
    p.add_argument("--title")
    p.add_argument("--kind", choices=[str(k) for k in DestinationKind], default="channel")
    p.add_argument("--thread", help="a topic or thread id inside the chat")
    p.add_argument("--tags", help="only articles with one of these tags")
    p.set_defaults(handler=_subscribe)
    p = sub.add_parser(
        "approve", parents=[common], help="approve a chat admin's pending subscription"
    )
    p.add_argument("platform", choices=platforms)
    p.add_argument("chat_id")
    p.add_argument("--thread")
    p.set_defaults(handler=_approve)
    p = sub.add_parser("unsubscribe", parents=[common], help="stop sending to a chat")
    p.add_argument("platform", choices=platforms)
    p.add_argument("chat_id")
    p.add_argument("--thread")
    p.set_defaults(handler=_unsubscribe)
    p = sub.add_parser("destinations", parents=[common], help="list subscribed chats")
    p.set_defaults(handler=_destinations)
    p = sub.add_parser("deliveries", parents=[common], help="an article's delivery per chat")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_deliveries)
    p = sub.add_parser("delete-comment", parents=[common], help="delete a comment everywhere")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_delete_comment)
    all_platforms = [str(p) for p in Platform if p is not Platform.CLI]
    for name, handler, text in (
        ("ban", _ban, "stop storing an author's comments and delete theirs"),
        ("unban", _unban, "allow an author to comment again"),
    ):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("platform", choices=all_platforms)
        p.add_argument("user_id")
        p.set_defaults(handler=handler)
    p = sub.add_parser(
        "copy-database",
        parents=[common],
        help="copy an SQLite database into an empty PostgreSQL database",
    )
    p.add_argument("sqlite_path")
    p.add_argument("postgres_url")
    p.set_defaults(tool=copy_database)
    return parser


async def run_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run one admin subcommand against the database; print its result."""
    handler: Command = args.handler
    store = open_store(settings.database, synchronous=settings.sqlite_synchronous)
    try:
        await store.open()
        result = await handler(build_service(settings, store), args)
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except NewsBotError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``newsbot`` command."""
    args = _parser().parse_args(argv)
    settings = load_settings()
    configure_logging(settings)
    # A tool works on the databases it is given, not on the setting's.
    if getattr(args, "tool", None) is not None:
        logging.getLogger().setLevel(logging.WARNING)
        return int(asyncio.run(args.tool(args)))
    if getattr(args, "handler", None) is None:
        try:
            return asyncio.run(serve(settings))
        except NewsBotError as exc:
            print(f"newsbot: {exc}", file=sys.stderr)
            return 1
    if settings.log_level.upper() != "DEBUG":
        # A command prints its result; routine log lines would only clutter it.
        logging.getLogger().setLevel(logging.WARNING)
    return asyncio.run(run_command(settings, args))


if __name__ == "__main__":
    raise SystemExit(main())
