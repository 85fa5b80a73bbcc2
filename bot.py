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
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from newsbot import (
    Actor,
    ArticleDraft,
    ArticleId,
    Comment,
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
    Roles,
    Store,
    new_worker_id,
)
from newsbot.feeds import (
    DEFAULT_INTERVAL,
    FeedService,
    PollResult,
    parse_interval,
    poll_summary,
)
from newsbot.models import Feed, NewFeed
from newsbot.supervision import (
    FEEDS_ROLE,
    Adapter,
    AdapterFactory,
    FeedPolling,
    Senders,
    role_of,
)
from newsbot.text import strip_control_chars
from newsbot.threads import walk
from newsbot.workers import LIVE_HORIZON, live_workers
from storage import describe_database, is_postgres, open_store

log = logging.getLogger("newsbot")


# -- settings -----------------------------------------------------------------------------


def _split_ids(value: object) -> object:
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


ADMIN_TOKEN_MIN = 32


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
    # The servers whose Manage Server / Manage Channels count as newsbot rights and whose
    # members' commands are taken; discord_guild is the older single-server form (both count).
    discord_guilds: Annotated[frozenset[int], NoDecode] = frozenset()
    discord_guild: int | None = None

    web: bool = True
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=0, le=65535)
    # Serve the site on this Unix socket instead of TCP, for a reverse proxy on this machine:
    # only who may open the file (its mode: owner and group) can connect, and is believed.
    web_unix_socket: str = ""
    web_unix_socket_mode: int = 0o660
    web_admin_token: SecretStr | None = None
    # Reverse proxies (addresses or CIDR ranges, comma-separated) whose X-Forwarded-For names
    # the client; the header is ignored from any other peer.
    web_trust_proxy: Annotated[tuple[str, ...], NoDecode] = ()
    # Slowloris: seconds a connection may take to send its request headers (and stay idle
    # between requests) and then its body, the most connections open at once, and the most
    # from one client address (an IPv6 /64; trusted proxies count only towards the total).
    web_header_timeout: float = Field(10.0, gt=0, le=300)
    web_body_timeout: float = Field(30.0, gt=0, le=3600)
    web_max_connections: int = Field(1000, ge=1, le=1_000_000)
    web_max_connections_per_client: int = Field(50, ge=1, le=1_000_000)
    # Public pages' Cache-Control: seconds browsers (max-age) and shared caches (s-maxage)
    # reuse a page, and may serve it stale while refreshing it.
    web_max_age: int = Field(5, ge=0, le=86400)
    web_s_maxage: int = Field(10, ge=0, le=86400)
    web_stale: int = Field(30, ge=0, le=86400)
    # /metrics and /healthz on an address of their own (then not on the site): set the port.
    ops_host: str = "127.0.0.1"
    ops_port: int | None = Field(None, ge=0, le=65535)

    mirror: bool = True
    mirror_delay: float = Field(0.0, ge=0, le=86400)
    # Who may subscribe a chat: "approval" (a chat admin's request waits for a newsbot admin)
    # or "open" (any chat admin).
    subscriptions: Literal["approval", "open"] = "approval"
    # Comments per minute; over that they are stored hidden and not mirrored. 0: no limit.
    comments_per_author: int = Field(5, ge=0)
    comments_per_chat: int = Field(60, ge=0)

    # Several workers on one database: each process's id (unique per process by default),
    # how long a platform's role lasts without renewal (a dead holder is replaced that long
    # after its last renewal), and how long a claimed delivery stays claimed.
    worker_id: str = ""
    role_lease: float = Field(5.0, ge=3.0, le=60.0)
    claim_lease: float = Field(30.0, ge=5.0, le=600.0)

    # Following sites' feeds: fetch loopback, private and link-local addresses too (tests,
    # an intranet CMS), and how many feeds are fetched at a time.
    feeds_allow_private: bool = False
    feeds_concurrency: int = Field(16, ge=1, le=256)

    @field_validator("telegram_token", "discord_token", "telegram_api_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database", mode="before")
    @classmethod
    def _path_is_text(cls, value: object) -> object:
        # A library user may pass a pathlib.Path for the SQLite file.
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("web_admin_token", mode="before")
    @classmethod
    def _admin_token(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(text, str) and len(text) < ADMIN_TOKEN_MIN:
            raise ValueError(
                f"must be at least {ADMIN_TOKEN_MIN} characters (it is {len(text)}); "
                "make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("web_unix_socket")
    @classmethod
    def _unix_socket(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip()
        if value and info.data.get("web", True) and not info.data.get("public_url"):
            raise ValueError(
                "set NEWSBOT_PUBLIC_URL too (the address your reverse proxy serves): links "
                "to articles cannot point at a Unix socket"
            )
        return value

    @field_validator("web_unix_socket_mode", mode="before")
    @classmethod
    def _socket_mode(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip().lower().removeprefix("0o")
            if not text or any(c not in "01234567" for c in text):
                raise ValueError("must be octal permissions, e.g. 660")
            value = int(text, 8)
        if isinstance(value, int) and not 0 <= value <= 0o777:
            raise ValueError("must be octal permissions between 000 and 777, e.g. 660")
        if isinstance(value, int) and value & 0o002:
            raise ValueError(
                "must not let every local user connect (no write bit for others): whoever "
                "connects is believed as the proxy. Keep 660 and add the proxy's user to "
                "newsbot's group"
            )
        return value

    @field_validator("ops_port", mode="before")
    @classmethod
    def _optional_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("web_trust_proxy", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        if isinstance(value, str):
            parts = tuple(part.strip() for part in value.split(",") if part.strip())
            for part in parts:
                try:
                    ipaddress.ip_network(part, strict=False)
                except ValueError:
                    raise ValueError(
                        f"{part!r} is not an IP address or CIDR range; name the reverse "
                        "proxies, comma-separated (e.g. 127.0.0.1 or 10.0.0.0/8)"
                    ) from None
            return parts
        return value

    @field_validator("telegram_admins", "discord_admins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object, info: ValidationInfo) -> object:
        ids = _split_ids(value)
        # ASCII digits only: a username would silently make nobody an admin.
        bad = sorted(
            i
            for i in (ids if isinstance(ids, frozenset | set | list | tuple) else ())
            if isinstance(i, str) and not (i.isascii() and i.isdigit())
        )
        if bad:
            if info.field_name == "telegram_admins":
                where = "Telegram user ids; send /start to the bot in private to see yours"
            else:
                where = "Discord user ids; in Developer Mode, right click a user, Copy User ID"
            raise ValueError(f"must be {where} (digits, separated by commas), not {bad[0][:40]!r}")
        return ids

    @field_validator("discord_guilds", "discord_guild", mode="before")
    @classmethod
    def _server_ids(cls, value: object, info: ValidationInfo) -> object:
        # ASCII digits only: int() would also take other scripts' digits ("١٢").
        if not isinstance(value, str):
            return value
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isascii() and part.isdigit() for part in parts):
            raise ValueError("must be Discord server ids (digits), separated by commas")
        if info.field_name == "discord_guild":
            if len(parts) > 1:
                raise ValueError("one server id; name several in NEWSBOT_DISCORD_GUILDS")
            return int(parts[0]) if parts else None
        return frozenset(int(part) for part in parts)

    @property
    def discord_guild_ids(self) -> frozenset[int]:
        """Every named Discord server: NEWSBOT_DISCORD_GUILDS and NEWSBOT_DISCORD_GUILD."""
        single = frozenset() if self.discord_guild is None else {self.discord_guild}
        return self.discord_guilds | single

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
    if value and not any(c in value for c in ' "=') and _CONTROL.search(value) is None:
        return value
    return _json_text(value)


# A terminal takes ESC [ and U+009B as the start of a command. json.dumps escapes C0 control
# characters but, with ensure_ascii=False, writes DEL, C1 and lone surrogates as they are.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_RAW_IN_JSON = re.compile("[\x7f-\x9f\ud800-\udfff]")


def _json_text(value: object, indent: int | None = None) -> str:
    """JSON that is safe to print to a terminal: every control character escaped."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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


def build_service(settings: Settings, store: Store) -> NewsService:
    """The service as configured, with its feed use cases (``service.feeds``)."""
    service = NewsService(
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
    service.feeds = build_feeds(settings, service)
    return service


def build_feeds(settings: Settings, service: NewsService) -> FeedService:
    """The feed use cases, fetching over HTTP as configured."""
    from adapters.feeds import HttpFeedSource

    source = HttpFeedSource(site_url=settings.site_url, allow_private=settings.feeds_allow_private)
    return FeedService(service, source)


def build_adapters(
    settings: Settings,
    service: NewsService,
    *,
    extra_routes: Sequence[Any] = (),
    may_act: Callable[[Platform], bool] = lambda _platform: True,
) -> tuple[dict[Platform, AdapterFactory], Adapter | None, list[str]]:
    """The chat platforms that are configured (each as a factory: its adapter is built each
    time this worker takes the platform's role), the web adapter, and why each other one is
    off. ``may_act`` says whether this worker still keeps a platform's role (``Roles.keeps``:
    held, or suspended while the store does not answer)."""
    platforms: dict[Platform, AdapterFactory] = {}
    report: list[str] = []
    # The adapters are imported now, not at the first takeover: a standby that takes a role
    # over must not spend the import (a third of a second for discord.py) on the way.
    if settings.telegram_token is not None:
        from adapters.telegram import TelegramAdapter

        token = settings.telegram_token.get_secret_value()

        def telegram() -> Adapter:
            return TelegramAdapter(
                service,
                token=token,
                api_url=settings.telegram_api_url,
                may_poll=lambda: may_act(Platform.TELEGRAM),
            )

        platforms[Platform.TELEGRAM] = telegram
        report.append("telegram: on")
    else:
        report.append("telegram: off (NEWSBOT_TELEGRAM_TOKEN is not set)")
    if settings.discord_token is not None:
        from adapters.discord import DiscordAdapter

        discord_token = settings.discord_token.get_secret_value()

        def discord() -> Adapter:
            return DiscordAdapter(
                service,
                token=discord_token,
                api_url=settings.discord_api_url,
                gateway_url=settings.discord_gateway_url,
                guild_ids=settings.discord_guild_ids,
                # discord.py waits this long after the last server arrives before "ready";
                # its 2 s default is most of a takeover. Discord streams the servers of a
                # session back to back, so 0.5 s of silence means they are all in.
                guild_ready_timeout=0.5,
            )

        platforms[Platform.DISCORD] = discord
        report.append("discord: on")
    else:
        report.append("discord: off (NEWSBOT_DISCORD_TOKEN is not set)")
    web_adapter: Adapter | None = None
    if settings.web:
        from adapters.web import WebAdapter

        admin = settings.web_admin_token
        web_adapter = WebAdapter(
            service,
            host=settings.web_host,
            port=settings.web_port,
            unix_socket=settings.web_unix_socket or None,
            unix_socket_mode=settings.web_unix_socket_mode,
            admin_token=admin.get_secret_value() if admin else None,
            trust_proxy=settings.web_trust_proxy,
            header_timeout=settings.web_header_timeout,
            body_timeout=settings.web_body_timeout,
            max_connections=settings.web_max_connections,
            max_connections_per_client=settings.web_max_connections_per_client,
            extra_routes=extra_routes,
            max_age=settings.web_max_age,
            s_maxage=settings.web_s_maxage,
            stale=settings.web_stale,
        )
        where = f"http://{settings.web_host}:{settings.web_port}"
        if settings.web_unix_socket:
            where = f"the Unix socket {settings.web_unix_socket}"
        note = "" if admin else "; admin page off (NEWSBOT_WEB_ADMIN_TOKEN is not set)"
        report.append(f"web: on at {where}{note}")
    else:
        report.append("web: off (NEWSBOT_WEB is false)")
    return platforms, web_adapter, report


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the bot until ``stop`` is set or SIGINT/SIGTERM arrives. Returns an exit status.

    Several processes may run this against one database: each serves the site, and for each
    chat platform the worker holding its role sends and receives while the others stand by.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    store = open_store(settings.database, synchronous=settings.sqlite_synchronous)
    await store.open()
    fatal: list[BaseException] = []

    def on_fatal(error: BaseException) -> None:
        fatal.append(error)
        stop.set()

    worker = settings.worker_id or new_worker_id()
    web_adapter: Adapter | None = None
    ops_listener: Any = None
    roles: Roles | None = None
    dispatcher: Dispatcher | None = None
    senders: Senders | None = None
    polling: FeedPolling | None = None
    try:
        service = build_service(settings, store)
        ops = None
        if settings.web or settings.ops_port is not None:
            from adapters.web.ops import Operations, OpsListener, Sources

            ops = Operations(Sources(service, worker))
            if settings.ops_port is not None:
                ops_listener = OpsListener(ops, settings.ops_host, settings.ops_port)
        factories, web_adapter, report = build_adapters(
            settings,
            service,
            extra_routes=ops.routes() if ops and ops_listener is None else (),
            may_act=lambda platform: roles is not None and roles.keeps(role_of(platform)),
        )
        for line in report:
            print(f"newsbot: {line}", file=sys.stderr)
        roles = Roles(
            store,
            worker,
            [*(role_of(p) for p in factories), FEEDS_ROLE],
            lease=settings.role_lease,
        )
        assert service.feeds is not None
        service.feeds.may_poll = lambda: roles is not None and roles.holds(FEEDS_ROLE)
        polling = FeedPolling(service.feeds, settings.feeds_concurrency)
        dispatcher = Dispatcher(
            store,
            {},
            article_url=service.article_url,
            worker=worker,
            lease=settings.claim_lease,
            may_send=lambda platform: roles is not None and roles.holds(role_of(platform)),
        )
        service.on_enqueue(dispatcher.wake)
        store.watch(lambda _topic: dispatcher.wake() if dispatcher else None)
        senders = Senders(factories, dispatcher, on_fatal, roles)
        roles.on_change(senders.changed)
        roles.on_change(polling.changed)
        if ops is not None:
            ops.sources.dispatcher, ops.sources.roles = dispatcher, roles
            ops.sources.rate_limit_answers = senders.rate_limit_answers
        await dispatcher.start()
        if ops_listener is not None:
            await ops_listener.start()
            print(f"newsbot: /metrics and /healthz on {ops_listener.url}", file=sys.stderr)
        if web_adapter is not None:
            await web_adapter.start()
        await roles.start()
        await senders.settle()  # the platforms whose roles were free are up before we say so
        # Everything loaded so far lives as long as the bot: out of the collector's way, so
        # its full collections stop walking the libraries' objects (p99 of a thread page read
        # fell from 2.3 to 1.8 ms at 1M comments, bench/ANALYSIS.md).
        gc.freeze()
        log.info(
            "newsbot running",
            extra={
                "database": describe_database(settings.database),
                "worker": worker,
                "platforms": ",".join(str(p) for p in factories) or "none",
                "roles": ",".join(roles.held) or "none yet",
            },
        )
        if not factories:
            print(
                "newsbot: no chat platform is on; articles published now stay queued until "
                "one is. Publish with: python bot.py publish --title T --body B",
                file=sys.stderr,
            )
        await stop.wait()
        log.info("newsbot stopping")
    finally:
        if roles is not None:
            await roles.stop()
        if senders is not None:
            await senders.stop()
        if polling is not None:
            await polling.stop()
        if web_adapter is not None:
            try:
                await web_adapter.stop()
            except Exception:
                log.exception("adapter failed to stop", extra={"adapter": web_adapter.name})
        if ops_listener is not None:
            await ops_listener.stop()
        if dispatcher is not None:
            await dispatcher.stop()
        await store.close()
    if fatal:
        raise fatal[0]
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
    top = _comment_fields(node.comment)
    stack = [(node, top)]
    while stack:  # a stack, not recursion: a reply chain may be thousands deep
        current, data = stack.pop()
        for reply in current.replies:
            child = _comment_fields(reply.comment)
            data["replies"].append(child)
            stack.append((reply, child))
    return top


def _comment_fields(comment: Comment) -> dict[str, Any]:
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
        "replies": [],
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


def _thread_lines(nodes: list[CommentNode]) -> list[str]:
    lines = []
    for node, depth in walk(nodes):
        c = node.comment
        text = c.text.replace("\n", " ") if c.text else "[deleted]"
        lines.append(
            f"{'  ' * depth}#{c.id} {c.author.name or '-'} ({c.author.platform}, "
            f"{c.created_at:%Y-%m-%d %H:%M}): {text}"
        )
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
            "continued": page.continued,
            "next_cursor": page.next_cursor,
        }
    lines = [f"{page.total} comment(s) on article {page.article_id}"]
    if page.continued:
        lines.append("(continued from the page before)")
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


async def _workers(service: NewsService, args: argparse.Namespace) -> Any:
    now = service.clock.now()
    workers = await service.store.list_workers(now - timedelta(seconds=args.horizon))
    roles = {r.role: r for r in await service.store.list_roles()}
    rows = [
        {
            "id": w.id,
            "host": w.host,
            "pid": w.pid,
            "started_at": w.started_at.isoformat(),
            "heartbeat_at": w.heartbeat_at.isoformat(),
            "heartbeat_age": round((now - w.heartbeat_at).total_seconds(), 1),
            "roles": [r for r in w.roles if r in roles and roles[r].holder == w.id],
        }
        for w in workers
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
    for r in roles.values():
        if r.lease_until <= now:
            lines.append(f"{r.role}: nobody (last held by {r.holder})")
    return "\n".join(lines)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def feed_json(feed: Feed) -> dict[str, Any]:
    """A feed as ``feed list --json`` prints it."""
    data: dict[str, Any] = _plain(feed)
    data["state"] = "active" if feed.active else "inactive"
    return data


def poll_json(result: PollResult) -> dict[str, Any]:
    """A poll as ``feed poll --json`` prints it."""
    return {
        "feed": feed_json(result.feed),
        "status": result.status,
        "published": result.published,
        "edited": result.edited,
        "recorded": result.recorded,
        "problems": list(result.problems),
        "error": result.error,
    }


def _feeds(service: NewsService) -> FeedService:
    if service.feeds is None:  # pragma: no cover - build_service always sets it
        raise DomainError("Feeds are not available.")
    return service.feeds


async def _feed_add(service: NewsService, args: argparse.Namespace) -> Any:
    interval = parse_interval(args.every) if args.every else DEFAULT_INTERVAL
    new = NewFeed(args.url, _tags(args.tags), interval, args.backfill)
    feed, result = await _feeds(service).add(Actor.operator(), new)
    if args.json:
        return {
            **feed_json(feed),
            "added": result is not None,
            "published": (result.published if result else 0),
        }
    if result is None:
        return f"{feed.url} is already followed (feed {feed.id})."
    return (
        f"Following {feed.url} ({feed.title or 'untitled'}), every {feed.interval:g} s: "
        f"{result.recorded} item(s) recorded as seen, {result.published} published."
    )


async def _feed_list(service: NewsService, args: argparse.Namespace) -> Any:
    found = await _feeds(service).feeds()
    if args.json:
        return [feed_json(f) for f in found]
    lines = [
        f"{'ID':>4}  {'STATE':<8} {'LAST POLL':<16} {'STATUS':>6} {'NEXT POLL':<16} "
        f"{'ITEMS':>5}  URL (TITLE)  ERROR"
    ]
    for f in found:
        state = "active" if f.active else "inactive"
        status = str(f.last_status) if f.last_status is not None else "-"
        error = f"  {f.deactivated_reason or f.last_error}" if f.last_error or not f.active else ""
        nxt = _when(f.next_poll_at) if f.active else "never"
        title = f" ({f.title})" if f.title else ""
        lines.append(
            f"{f.id:>4}  {state:<8} {_when(f.last_poll_at):<16} {status:>6} {nxt:<16} "
            f"{f.items_seen:>5}  {f.url}{title}{error}"
        )
    if not found:
        lines.append("(no feeds yet: python bot.py feed add URL)")
    return "\n".join(lines)


async def _feed_remove(service: NewsService, args: argparse.Namespace) -> Any:
    feed = await _feeds(service).remove(Actor.operator(), args.url)
    if args.json:
        return {"id": feed.id, "url": feed.url, "removed": True}
    return f"No longer following {feed.url}; its articles stay published."


async def _feed_poll(service: NewsService, args: argparse.Namespace) -> Any:
    result = await _feeds(service).poll_now(Actor.operator(), args.url)
    return poll_json(result) if args.json else poll_summary(result)


async def copy_database(args: argparse.Namespace) -> int:
    """``copy-database [SQLITE_PATH] POSTGRES_URL``: move to PostgreSQL (see the README)."""
    if not is_postgres(args.postgres_url):
        print("error: POSTGRES_URL must start with postgresql://", file=sys.stderr)
        return 1
    if args.sqlite_path is None:
        args.sqlite_path = args.database
    elif getattr(args, "given_database", None) not in (None, args.sqlite_path):
        print("error: name the source once: SQLITE_PATH or --database", file=sys.stderr)
        return 1
    if is_postgres(args.sqlite_path):
        print("error: the source must be an SQLite file", file=sys.stderr)
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


def _database_argument(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a subcommand's default must not overwrite a --database given before it.
    parser.add_argument(
        "--database",
        type=_database_value,
        default=argparse.SUPPRESS,
        metavar="PATH_OR_URL",
        help="the SQLite file or PostgreSQL URL to work on (default: NEWSBOT_DATABASE, "
        "else newsbot.db in the current directory)",
    )


def _database_value(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("give an SQLite file's path or a PostgreSQL URL")
    return value


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    _database_argument(common)
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="Run newsbot, or administer its database. With no command, runs the bot.",
    )
    _database_argument(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    p = sub.add_parser("run", help="run the bot (the default)")
    _database_argument(p)

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
    p = sub.add_parser("workers", parents=[common], help="the live workers and their roles")
    p.add_argument(
        "--horizon", type=float, default=LIVE_HORIZON, help="seconds since the last heartbeat"
    )
    p.set_defaults(handler=_workers)
    p = sub.add_parser("deliveries", parents=[common], help="an article's delivery per chat")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_deliveries)
    p = sub.add_parser("delete-comment", parents=[common], help="delete a comment everywhere")
    p.add_argument("id", type=int)
    p.set_defaults(handler=_delete_comment)
    p = sub.add_parser("feed", help="follow sites' RSS, Atom and JSON feeds")
    _database_argument(p)
    feed_sub = p.add_subparsers(dest="feed_command", metavar="ACTION", required=True)
    f = feed_sub.add_parser(
        "add", parents=[common], help="follow a feed (publishes nothing old by default)"
    )
    f.add_argument("url")
    f.add_argument("--tags", help="added to every article of this feed")
    f.add_argument("--every", help="poll interval: 10m (default), 90s, 1h; at least 1m")
    f.add_argument(
        "--backfill", type=int, default=0, help="publish the newest N items already there"
    )
    f.set_defaults(handler=_feed_add)
    f = feed_sub.add_parser("list", parents=[common], help="followed feeds and their state")
    f.set_defaults(handler=_feed_list)
    f = feed_sub.add_parser("remove", parents=[common], help="stop following a feed")
    f.add_argument("url")
    f.set_defaults(handler=_feed_remove)
    f = feed_sub.add_parser("poll", parents=[common], help="poll a feed now")
    f.add_argument("url")
    f.set_defaults(handler=_feed_poll)
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
    p.add_argument(
        "sqlite_path", nargs="?", help="the source (default: --database or NEWSBOT_DATABASE)"
    )
    p.add_argument("postgres_url")
    p.set_defaults(tool=copy_database)
    return parser


async def run_command(settings: Settings, args: argparse.Namespace) -> int:
    """Run one admin subcommand against the database; print its result."""
    handler: Command = args.handler
    store = open_store(settings.database, synchronous=settings.sqlite_synchronous)
    service: NewsService | None = None
    created = not is_postgres(settings.database) and not await asyncio.to_thread(
        os.path.exists, settings.database
    )
    warning: str | None = None
    try:
        await store.open()
        service = build_service(settings, store)
        try:
            result = await handler(service, args)
        finally:
            warning = await _unattended(store, settings.database, created)
    except DomainError as exc:
        print(f"error: {strip_control_chars(str(exc))}", file=sys.stderr)
        return 1
    except NewsBotError as exc:
        print(f"newsbot: {strip_control_chars(str(exc))}", file=sys.stderr)
        return 1
    finally:
        if service is not None and service.feeds is not None:
            await service.feeds.source.close()
        await store.close()
        if warning:
            print(warning, file=sys.stderr)
    # What people wrote (names, comments, chat titles), stored before newsbot stripped control
    # characters from it, must not reach the operator's terminal as commands.
    if args.json:
        print(_json_text(result, indent=2))
    else:
        print(strip_control_chars(str(result)))
    return 0


async def _unattended(store: Store, database: str, created: bool) -> str | None:
    """A warning when no worker has sent a heartbeat to ``database`` lately: what a command
    queues there waits for a bot, and a command run from another directory may have found
    (or created) another SQLite file than the bot's."""
    try:
        if await live_workers(store, datetime.now(UTC)):
            return None
    except NewsBotError:
        return None  # the command itself said what is wrong with the database
    where = describe_database(database)
    if not is_postgres(database) and not os.path.isabs(database):
        where = f"{where} ({await asyncio.to_thread(os.path.realpath, database)})"
    if created:
        said = f"created a new, empty database at {where}: no newsbot worker runs on it"
    else:
        said = f"no newsbot worker has been seen on {where} in the last {LIVE_HORIZON:g} s"
    return (
        f"newsbot: warning: {said}, so nothing is sent from it until one does. If the bot "
        "uses another database, name it with --database (or NEWSBOT_DATABASE)."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The ``newsbot`` command."""
    args = _parser().parse_args(argv)
    args.given_database = getattr(args, "database", None)
    if args.given_database is not None:
        settings = load_settings(database=args.given_database)
    else:
        settings = load_settings()
    args.database = settings.database
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
