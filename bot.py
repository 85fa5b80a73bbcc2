"""newsbot's entry point and composition root: settings, logging and wiring.

The settings themselves (``Settings``, ``load_settings``) live in ``adapters/settings.py`` and
are re-exported here, so ``from bot import Settings`` keeps working.

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
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from adapters import cli, logfmt
from adapters.cli.desk import desk_settings
from adapters.cli.envfile import render as render_env
from adapters.i18n import Speech, translations
from adapters.logfmt import LogfmtFormatter as LogfmtFormatter
from adapters.regex import Re2Engine
from adapters.settings import ADMIN_TOKEN_MIN as ADMIN_TOKEN_MIN
from adapters.settings import Settings as Settings
from adapters.settings import load_settings as load_settings
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
from newsbot.closing import AutoClose
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
                reaction_days=settings.discord_reaction_days,
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
        closing=service.desk.closing,
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
    closing = AutoClose(service.desk.closing, lambda: held.holds(FEEDS_ROLE))  # by age
    closing.start()
    stack.push_async_callback(closing.stop)
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
