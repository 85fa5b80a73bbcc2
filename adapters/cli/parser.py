"""The command line: every admin subcommand, its arguments and its handler."""

from __future__ import annotations

import argparse

from adapters.cli import articles, chats, feeds, stats
from adapters.cli.operations import copy_database, workers
from newsbot import DestinationKind, Platform
from newsbot.workers import LIVE_HORIZON


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


def _content(p: argparse.ArgumentParser, required: bool) -> None:
    p.add_argument("--title", required=required)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--body", help="the body, in Markdown")
    group.add_argument("--body-file", help="read the body from a file ('-' for stdin)")
    p.add_argument("--summary")
    p.add_argument("--url", help="the canonical address of the article")
    p.add_argument("--image", help="an image address")
    p.add_argument("--tags", help="comma-separated tags")


def build_parser() -> argparse.ArgumentParser:
    """The ``newsbot`` command line. A parsed command carries its ``handler`` (a ``Command``)
    or its ``tool`` (a ``Tool``); with neither, the command runs the bot."""
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
    _add_articles(sub, common)
    _add_chats(sub, common)
    p = sub.add_parser("workers", parents=[common], help="the live workers and their roles")
    p.add_argument(
        "--horizon", type=float, default=LIVE_HORIZON, help="seconds since the last heartbeat"
    )
    p.set_defaults(handler=workers)
    p = sub.add_parser("deliveries", parents=[common], help="an article's delivery per chat")
    p.add_argument("id", type=int)
    p.set_defaults(handler=articles.deliveries)
    p = sub.add_parser("delete-comment", parents=[common], help="delete a comment everywhere")
    p.add_argument("id", type=int)
    p.set_defaults(handler=articles.delete_comment)
    _add_feeds(sub, common)
    _add_authors(sub, common)
    stats.add_parser(sub, common)
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


def _add_articles(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("publish", parents=[common], help="publish an article")
    _content(p, True)
    p.set_defaults(handler=articles.publish)
    p = sub.add_parser("edit", parents=[common], help="edit an article everywhere")
    p.add_argument("id", type=int)
    _content(p, False)
    p.set_defaults(handler=articles.edit)
    p = sub.add_parser("retract", parents=[common], help="retract an article everywhere")
    p.add_argument("id", type=int)
    p.set_defaults(handler=articles.retract)
    p = sub.add_parser("articles", parents=[common], help="list the latest articles")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--cursor")
    p.set_defaults(handler=articles.articles)
    p = sub.add_parser("article", parents=[common], help="show one article")
    p.add_argument("id", type=int)
    p.set_defaults(handler=articles.article)
    p = sub.add_parser("comments", parents=[common], help="show an article's thread")
    p.add_argument("id", type=int)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--cursor")
    p.add_argument("--newest", action="store_true", help="newest first")
    p.set_defaults(handler=articles.comments)


def _add_chats(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    platforms = [str(p) for p in Platform if p not in (Platform.CLI, Platform.WEB)]
    p = sub.add_parser("subscribe", parents=[common], help="send future articles to a chat")
    p.add_argument("platform", choices=platforms)
    p.add_argument("chat_id")
    p.add_argument("--title")
    p.add_argument("--kind", choices=[str(k) for k in DestinationKind], default="channel")
    p.add_argument("--thread", help="a topic or thread id inside the chat")
    p.add_argument("--tags", help="only articles with one of these tags")
    p.set_defaults(handler=chats.subscribe)
    p = sub.add_parser(
        "approve", parents=[common], help="approve a chat admin's pending subscription"
    )
    p.add_argument("platform", choices=platforms)
    p.add_argument("chat_id")
    p.add_argument("--thread")
    p.set_defaults(handler=chats.approve)
    p = sub.add_parser("unsubscribe", parents=[common], help="stop sending to a chat")
    p.add_argument("platform", choices=platforms)
    p.add_argument("chat_id")
    p.add_argument("--thread")
    p.set_defaults(handler=chats.unsubscribe)
    p = sub.add_parser("destinations", parents=[common], help="list subscribed chats")
    p.set_defaults(handler=chats.destinations)


def _add_feeds(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
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
    f.set_defaults(handler=feeds.feed_add)
    f = feed_sub.add_parser("list", parents=[common], help="followed feeds and their state")
    f.set_defaults(handler=feeds.feed_list)
    f = feed_sub.add_parser("remove", parents=[common], help="stop following a feed")
    f.add_argument("url")
    f.set_defaults(handler=feeds.feed_remove)
    f = feed_sub.add_parser("poll", parents=[common], help="poll a feed now")
    f.add_argument("url")
    f.set_defaults(handler=feeds.feed_poll)


def _add_authors(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    all_platforms = [str(p) for p in Platform if p is not Platform.CLI]
    for name, handler, text in (
        ("ban", chats.ban, "stop storing an author's comments and delete theirs"),
        ("unban", chats.unban, "allow an author to comment again"),
    ):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("platform", choices=all_platforms)
        p.add_argument("user_id")
        p.set_defaults(handler=handler)
