"""newsbot's entry point and composition root: settings, logging and wiring.

``python bot.py`` (or the ``newsbot`` console script) runs the bot: it opens storage, starts the
dispatcher and every adapter whose settings are present, and stops cleanly on SIGINT/SIGTERM.
Subcommands (``publish``, ``articles``, ``deliveries``, ...) administer the same database
without any platform (the CLI adapter, ``adapters/cli``); a running bot picks up what they
enqueue within a second or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import ipaddress
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from adapters import cli, logfmt
from adapters.cli.desk import desk_settings
from adapters.cli.envfile import render as render_env
from adapters.i18n import Speech, checked_speech_setting, translations
from adapters.logfmt import LogfmtFormatter as LogfmtFormatter
from adapters.regex import Re2Engine
from newsbot import (
    Dispatcher,
    IntakeLimits,
    NewsBotError,
    NewsService,
    Platform,
    Roles,
    Store,
    new_worker_id,
)
from newsbot.errors import ConfigError
from newsbot.feeds import FeedService
from newsbot.staff import parse_staff
from newsbot.staffchat import parse_staff_chat
from newsbot.supervision import (
    FEEDS_ROLE,
    Adapter,
    AdapterFactory,
    FeedPolling,
    Senders,
    role_of,
)
from storage import describe_database, is_postgres, open_store
from storage.backup import backup_sqlite

if TYPE_CHECKING:
    from adapters.web.ops import OpsListener

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
    # The site's, posts' and answers' language (en, de, uk: newsbot/locale) and time zone.
    language: str = "en"
    timezone: str = "UTC"
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
    # Web sign-in (adapters/web/signin.py), anonymous comments, staff (telegram:ID,discord:ID)
    telegram_login_bot: str = Field("", pattern=r"^@?[A-Za-z0-9_]{0,32}$")
    discord_client_id: str = Field("", pattern=r"^[0-9]{0,20}$")
    discord_client_secret: SecretStr | None = None
    web_anonymous: bool = True
    staff: str = Field(
        "", pattern=r"^((telegram|discord):[0-9]+)?(,\s*(telegram|discord):[0-9]+)*$"
    )
    staff_chat: str = Field("", pattern=r"^(telegram:-?[0-9]+|discord:[0-9]+)?$")

    # The site: its name, a line about it, a logo's address, an accent colour (#rrggbb, at
    # least 4.5:1 on white), the footer's text and links ("About=https://…,Contact=mailto:…"),
    # and a folder of template and static overrides (docs/web.md, Theming).
    site_name: str = "News"
    site_description: str = ""
    site_logo: str = ""
    site_accent: str = ""
    site_footer: str = ""
    site_footer_links: str = ""
    web_theme_dir: str = ""
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
    web_reactions: str = Field("👍 ❤️ 😂 😮 😢", min_length=1)  # offered on pages, space-separated
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
    # The moderation desk: a file of words that hold a comment (one a line), holding each
    # author's first comment, and how many readers' reports hide a comment (0: never).
    moderation_words: str = ""
    hold_first_comments: bool = False
    reports_to_hide: int = Field(3, ge=0)
    comments_policy: Literal["open", "premoderated", "closed"] = "open"  # stories without one
    comments_close_after: float = Field(0, ge=0)  # days after publishing; 0: never

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

    @field_validator(
        "telegram_token",
        "discord_token",
        "telegram_api_url",
        "discord_client_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("language", "timezone")
    @classmethod
    def _speech(cls, value: str, info: ValidationInfo) -> str:
        return checked_speech_setting(str(info.field_name), value)

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
        if self.discord_client_secret is not None:
            found.append(self.discord_client_secret.get_secret_value())
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


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Send logfmt lines (``adapters.logfmt``) to stderr at the configured level, with every
    token redacted."""
    logfmt.configure_logging(settings.log_level, settings.secrets(), stream)


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
        desk=desk_settings(
            settings.moderation_words,
            settings.hold_first_comments,
            settings.reports_to_hide,
            settings.comments_policy,
            settings.comments_close_after,
        ),
        regex=Re2Engine(),
    )
    service.feeds = build_feeds(settings, service)
    service.staff = parse_staff(settings.staff)  # NEWSBOT_STAFF: telegram:ID,discord:ID
    service.staffchat.chat = parse_staff_chat(settings.staff_chat)
    service.staffchat.tr = translations(settings.language)  # the staff chat's words
    service.reactions.offer(settings.web_reactions.split())
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
    speech = Speech.of(settings.language, settings.timezone)
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
                speech=speech,
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
                speech=speech,
            )

        platforms[Platform.DISCORD] = discord
        report.append("discord: on")
    else:
        report.append("discord: off (NEWSBOT_DISCORD_TOKEN is not set)")
    web_adapter: Adapter | None = None
    if settings.web:
        from adapters.web import WebAdapter
        from adapters.web.brand import Brand
        from adapters.web.signin import sign_in_config

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
            sign_in=sign_in_config(settings),
            brand=Brand.from_settings(settings),
            speech=speech,
        )
        where = f"http://{settings.web_host}:{settings.web_port}"
        if settings.web_unix_socket:
            where = f"the Unix socket {settings.web_unix_socket}"
        note = "" if admin else "; admin page off (NEWSBOT_WEB_ADMIN_TOKEN is not set)"
        report.append(f"web: on at {where}{note}")
    else:
        report.append("web: off (NEWSBOT_WEB is false)")
    return platforms, web_adapter, report


@dataclasses.dataclass(slots=True)
class Worker:
    """One worker's running parts, as ``compose`` wires them (nothing started yet)."""

    id: str
    roles: Roles
    dispatcher: Dispatcher
    senders: Senders
    factories: dict[Platform, AdapterFactory]
    web: Adapter | None
    ops_listener: OpsListener | None


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> int:
    """Run the bot until ``stop`` is set or SIGINT/SIGTERM arrives. Returns an exit status.

    Several processes may run this against one database: each serves the site, and for each
    chat platform the worker holding its role sends and receives while the others stand by.
    The parts are entered in order on an ``AsyncExitStack`` and closed in reverse, whether the
    bot stops on a signal or on a fatal error (an adapter's ``ConfigError``, which is raised).
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    fatal: list[BaseException] = []

    def on_fatal(error: BaseException) -> None:
        fatal.append(error)
        stop.set()

    async with contextlib.AsyncExitStack() as stack:
        store = open_store(settings.database, synchronous=settings.sqlite_synchronous)
        await stack.enter_async_context(store)
        worker = compose(stack, settings, store, on_fatal)
        await worker.dispatcher.start()
        if worker.ops_listener is not None:
            await worker.ops_listener.start()
            print(f"newsbot: /metrics and /healthz on {worker.ops_listener.url}", file=sys.stderr)
        if worker.web is not None:
            await worker.web.start()
        await worker.roles.start()
        await worker.senders.settle()  # the platforms whose roles were free are up first
        # Everything loaded so far lives as long as the bot: out of the collector's way, so
        # its full collections stop walking the libraries' objects (p99 of a thread page read
        # fell from 2.3 to 1.8 ms at 1M comments, bench/ANALYSIS.md).
        gc.freeze()
        log.info(
            "newsbot running",
            extra={
                "database": describe_database(settings.database),
                "worker": worker.id,
                "platforms": ",".join(str(p) for p in worker.factories) or "none",
                "roles": ",".join(worker.roles.held) or "none yet",
            },
        )
        if not worker.factories:
            print(
                "newsbot: no chat platform is on; articles published now stay queued until "
                "one is. Publish with: python bot.py publish --title T --body B",
                file=sys.stderr,
            )
        await stop.wait()
        log.info("newsbot stopping")
    if fatal:
        raise fatal[0]
    return 0


def compose(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    store: Store,
    on_fatal: Callable[[BaseException], None],
) -> Worker:
    """Wire one worker on ``store``: the service, the dispatcher, the ops endpoints, the
    adapters and the roles that run them. Each part's stop goes on ``stack`` as it is built,
    so that they stop in reverse: roles, senders, feed polling, web, ops, dispatcher."""
    worker = settings.worker_id or new_worker_id()
    roles: Roles | None = None
    service = build_service(settings, store)
    assert service.feeds is not None
    dispatcher = Dispatcher(
        store,
        {},
        article_url=service.article_url,
        worker=worker,
        lease=settings.claim_lease,
        may_send=lambda platform: roles is not None and roles.holds(role_of(platform)),
        staff=service.staffchat,
        notices=store,
    )
    service.on_enqueue(dispatcher.wake)
    store.watch(lambda _topic: dispatcher.wake())
    stack.push_async_callback(dispatcher.stop)
    ops = None
    ops_listener: OpsListener | None = None
    if settings.web or settings.ops_port is not None:
        from adapters.web.ops import Operations, OpsListener, Sources

        ops = Operations(Sources(service, worker))
        if settings.ops_port is not None:
            ops_listener = OpsListener(ops, settings.ops_host, settings.ops_port)
            stack.push_async_callback(ops_listener.stop)
    factories, web_adapter, report = build_adapters(
        settings,
        service,
        extra_routes=ops.routes() if ops and ops_listener is None else (),
        may_act=lambda platform: roles is not None and roles.keeps(role_of(platform)),
    )
    for line in report:
        print(f"newsbot: {line}", file=sys.stderr)
    if web_adapter is not None:
        stack.push_async_callback(_stop_quietly, web_adapter)
    roles = Roles(
        store, worker, [*(role_of(p) for p in factories), FEEDS_ROLE], lease=settings.role_lease
    )
    held = roles
    service.feeds.may_poll = lambda: held.holds(FEEDS_ROLE)
    polling = FeedPolling(service.feeds, settings.feeds_concurrency)
    stack.push_async_callback(polling.stop)
    senders = Senders(factories, dispatcher, on_fatal, roles)
    stack.push_async_callback(senders.stop)
    roles.on_change(senders.changed)
    roles.on_change(polling.changed)
    stack.push_async_callback(roles.stop)
    if ops is not None:
        ops.sources.dispatcher, ops.sources.roles = dispatcher, roles
        ops.sources.rate_limit_answers = senders.rate_limit_answers
    return Worker(worker, roles, dispatcher, senders, factories, web_adapter, ops_listener)


async def _stop_quietly(adapter: Adapter) -> None:
    try:
        await adapter.stop()
    except Exception:
        log.exception("adapter failed to stop", extra={"adapter": adapter.name})


# -- the command line ---------------------------------------------------------------------


@contextlib.asynccontextmanager
async def open_service(settings: Settings) -> AsyncIterator[NewsService]:
    """The service on the configured database, for one admin command; closes it after."""
    store: Store | None = None
    service: NewsService | None = None
    try:
        store = open_store(settings.database, synchronous=settings.sqlite_synchronous)
        await store.open()
        service = build_service(settings, store)
        yield service
    finally:
        if service is not None and service.feeds is not None:
            await service.feeds.source.close()
        if store is not None:
            await store.close()


async def copy_database(
    sqlite_path: str, postgres_url: str, progress: Callable[[str, int, int], None] | None
) -> dict[str, int]:
    """Copy an SQLite database into an empty PostgreSQL one (``storage.copy``)."""
    try:
        from storage.copy import copy_database as copy
    except ImportError:
        raise ConfigError("PostgreSQL needs asyncpg: pip install 'newsbot[postgres]'") from None
    return await copy(sqlite_path, postgres_url, progress)


def cli_backend(settings: Settings) -> cli.Backend:
    """What the admin commands need of storage, on the configured database."""
    return cli.Backend(
        open_service=lambda: open_service(settings),
        copy=copy_database,
        backup=backup_sqlite,
        is_postgres=is_postgres,
        describe=describe_database,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The ``newsbot`` command: runs the bot, or the admin command it names."""
    args = cli.build_parser().parse_args(argv)
    if getattr(args, "env_example", False):
        print(render_env(Settings), end="")
        return 0
    args.given_database = getattr(args, "database", None)
    if args.given_database is not None:
        settings = load_settings(database=args.given_database)
    else:
        settings = load_settings()
    args.database = settings.database
    configure_logging(settings)
    if not cli.is_command(args):
        try:
            return asyncio.run(serve(settings))
        except NewsBotError as exc:
            print(f"newsbot: {exc}", file=sys.stderr)
            return 1
    if getattr(args, "tool", None) is not None or settings.log_level.upper() != "DEBUG":
        # A command prints its result; routine log lines would only clutter it.
        logging.getLogger().setLevel(logging.WARNING)
    return asyncio.run(cli.run(cli_backend(settings), args))


if __name__ == "__main__":
    raise SystemExit(main())
