"""The command line: every admin subcommand, its arguments and its handler."""

from __future__ import annotations

import argparse

from adapters.cli import articles, chats, desk, feeds, people, routing, schedule, stats
from adapters.cli.operations import backup, copy_database, workers
from newsbot import DestinationKind, Platform
from newsbot.policy import CommentPolicy
from newsbot.version import __version__
from newsbot.workers import LIVE_HORIZON

# One example per command, shown at the end of its --help (a test checks every command has
# one), named by its full path ("feed add").
EXAMPLES = {
    "run": "newsbot run --database /var/lib/newsbot/newsbot.db",
    "publish": "newsbot publish --title 'Storm warning' --body-file storm.md --tags weather",
    "reschedule": "newsbot reschedule 42 --at 2026-12-24T06:00+01:00",
    "breaking-mention": "newsbot breaking-mention 123456789012345678 987654321098765432",
    "cancel": "newsbot cancel 42",
    "edit": "newsbot edit 42 --title 'Storm warning (updated)'",
    "retract": "newsbot retract 42",
    "articles": "newsbot articles --limit 5 --json",
    "article": "newsbot article 42",
    "comments": "newsbot comments 42 --newest",
    "subscribe": "newsbot subscribe telegram -1001234567890 --title 'Our channel'",
    "approve": "newsbot approve discord 123456789012345678",
    "unsubscribe": "newsbot unsubscribe telegram -1001234567890",
    "destinations": "newsbot destinations --json",
    "language": "newsbot language telegram -1001234567890 uk",
    "workers": "newsbot workers --horizon 60",
    "deliveries": "newsbot deliveries 42",
    "delete-comment": "newsbot delete-comment 1234",
    "feed": "newsbot feed add https://example.org/feed.xml --every 15m",
    "feed add": "newsbot feed add https://example.org/feed.xml --tags wire --backfill 3",
    "feed list": "newsbot feed list --json",
    "feed remove": "newsbot feed remove https://example.org/feed.xml",
    "feed poll": "newsbot feed poll https://example.org/feed.xml",
    "filter": "newsbot filter set 3 include title:storm OR tags:weather",
    "filter set": "newsbot filter set 3 include title:storm OR tags:weather",
    "filter clear": "newsbot filter clear 3",
    "delay": "newsbot delay 3 600",
    "template": "newsbot template set 3 --ready summary",
    "template set": "newsbot template set 3 my-layout.j2",
    "template show": "newsbot template show 3",
    "template clear": "newsbot template clear 3",
    "preview": "newsbot preview 42 3",
    "test-send": "newsbot test-send 3",
    "ban": "newsbot ban telegram 123456789",
    "unban": "newsbot unban telegram 123456789",
    "people": "newsbot people --limit 20",
    "person": "newsbot person export 7 --json",
    "queue": "newsbot queue list --view reported",
    "queue list": "newsbot queue list --view held --limit 50 --after 1796630462000345.5.0 --json",
    "queue approve": "newsbot queue approve 1234",
    "queue hide": "newsbot queue hide 1234",
    "queue delete": "newsbot queue delete 1234",
    "queue ban": "newsbot queue ban 1234",
    "queue undo": "newsbot queue undo 1234",
    "policy": "newsbot policy 42 premoderated --slow 60",
    "audit": "newsbot audit --limit 20",
    "stats": "newsbot stats 42 --json",
    "copy-database": "newsbot copy-database newsbot.db postgresql://newsbot@db:5432/newsbot",
    "backup": "newsbot backup /var/backups/newsbot-$(date +%F).db",
    "env-example": "newsbot env-example > .env",
}


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
    p.add_argument("--title", required=required, help="the headline")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--body", help="the body, in Markdown")
    group.add_argument("--body-file", help="read the body from a file ('-' for stdin)")
    p.add_argument("--summary", help="a line or two shown under the title")
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
        epilog="example: newsbot publish --title 'Hello' --body 'First post'; "
        "newsbot COMMAND --help shows each command's options and an example",
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
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
    p.add_argument("id", type=int, help="the article's id")
    p.set_defaults(handler=articles.deliveries)
    p = sub.add_parser("delete-comment", parents=[common], help="delete a comment everywhere")
    p.add_argument("id", type=int, help="the comment's id")
    p.set_defaults(handler=articles.delete_comment)
    _add_feeds(sub, common)
    routing.add_commands(sub, common)
    _add_authors(sub, common)
    people.add_parsers(sub, common)
    desk.add_parsers(sub, common)
    stats.add_parser(sub, common)
    p = sub.add_parser(
        "copy-database",
        parents=[common],
        help="copy an SQLite database into an empty PostgreSQL database",
    )
    p.add_argument(
        "sqlite_path", nargs="?", help="the source (default: --database or NEWSBOT_DATABASE)"
    )
    p.add_argument("postgres_url", help="the empty target, postgresql://user@host:port/db")
    p.set_defaults(tool=copy_database)
    p = sub.add_parser(
        "backup",
        parents=[common],
        help="copy the SQLite database to FILE while newsbot runs (SQLite's online backup)",
    )
    p.add_argument("file", help="where the copy goes (replaced only once it is complete)")
    p.set_defaults(tool=backup)
    sub.add_parser(
        "env-example", help="print every setting with its default, as a .env file"
    ).set_defaults(env_example=True)
    _add_examples(sub)
    return parser


def _add_examples(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], prefix: str = ""
) -> None:
    for name, command in sub.choices.items():
        command.epilog = f"example: {EXAMPLES[prefix + name]}"
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                _add_examples(action, f"{prefix}{name} ")


def _add_articles(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("publish", parents=[common], help="publish an article")
    _content(p, True)
    p.add_argument("--comments", choices=[str(c) for c in CommentPolicy], help="its policy")
    desk.add_slow_option(p)
    schedule.add_time_options(p)
    p.add_argument(
        "--priority",
        choices=["normal", "breaking"],
        default="normal",
        help="breaking overtakes a fan-out under way",
    )
    p.set_defaults(handler=articles.publish)
    schedule.add_commands(sub, common)
    p = sub.add_parser("edit", parents=[common], help="edit an article everywhere")
    p.add_argument("id", type=int, help="the article's id")
    _content(p, False)
    p.set_defaults(handler=articles.edit)
    p = sub.add_parser("retract", parents=[common], help="retract an article everywhere")
    p.add_argument("id", type=int, help="the article's id")
    p.set_defaults(handler=articles.retract)
    p = sub.add_parser("articles", parents=[common], help="list the latest articles")
    p.add_argument("--limit", type=int, default=20, help="how many (default: 20)")
    p.add_argument("--cursor", help="the next page's cursor, from the previous page")
    p.add_argument("--scheduled", action="store_true", help="the articles waiting for their time")
    p.set_defaults(handler=articles.articles)
    p = sub.add_parser("article", parents=[common], help="show one article")
    p.add_argument("id", type=int, help="the article's id")
    p.set_defaults(handler=articles.article)
    p = sub.add_parser("comments", parents=[common], help="show an article's thread")
    p.add_argument("id", type=int, help="the article's id")
    p.add_argument("--limit", type=int, default=50, help="top-level comments (default: 50)")
    p.add_argument("--cursor", help="the next page's cursor, from the previous page")
    p.add_argument("--newest", action="store_true", help="newest first")
    p.set_defaults(handler=articles.comments)


def _add_chats(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    platforms = [str(p) for p in Platform if p not in (Platform.CLI, Platform.WEB)]
    p = sub.add_parser("subscribe", parents=[common], help="send future articles to a chat")
    p.add_argument("platform", choices=platforms, help="the chat's platform")
    p.add_argument("chat_id", help="the chat's id (Telegram: -100...; Discord: the channel)")
    p.add_argument("--title", help="a name to list the chat under")
    p.add_argument(
        "--kind",
        choices=[str(k) for k in DestinationKind],
        default="channel",
        help="what the chat is (default: channel)",
    )
    p.add_argument("--thread", help="a topic or thread id inside the chat")
    p.add_argument("--tags", help="only articles with one of these tags")
    p.set_defaults(handler=chats.subscribe)
    p = sub.add_parser(
        "approve", parents=[common], help="approve a chat admin's pending subscription"
    )
    p.add_argument("platform", choices=platforms, help="the chat's platform")
    p.add_argument("chat_id", help="the chat's id")
    p.add_argument("--thread", help="a topic or thread id inside the chat")
    p.set_defaults(handler=chats.approve)
    p = sub.add_parser("unsubscribe", parents=[common], help="stop sending to a chat")
    p.add_argument("platform", choices=platforms, help="the chat's platform")
    p.add_argument("chat_id", help="the chat's id")
    p.add_argument("--thread", help="a topic or thread id inside the chat")
    p.set_defaults(handler=chats.unsubscribe)
    p = sub.add_parser("destinations", parents=[common], help="list subscribed chats")
    p.set_defaults(handler=chats.destinations)
    p = sub.add_parser(
        "language",
        parents=[common],
        help="show or set a subscribed chat's own language",
        description="e.g. bot.py language telegram -1001234 uk; 'default' clears it",
    )
    p.add_argument("platform", choices=platforms, help="the chat's platform")
    p.add_argument("chat_id", help="the chat's id on that platform")
    p.add_argument("language", nargs="?", help="en, de, uk, or default")
    p.set_defaults(handler=chats.language)


def _add_feeds(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("feed", help="follow sites' RSS, Atom and JSON feeds")
    _database_argument(p)
    feed_sub = p.add_subparsers(dest="feed_command", metavar="ACTION", required=True)
    f = feed_sub.add_parser(
        "add", parents=[common], help="follow a feed (publishes nothing old by default)"
    )
    f.add_argument("url", help="the feed's address (RSS, Atom or JSON Feed)")
    f.add_argument("--tags", help="added to every article of this feed")
    f.add_argument("--every", help="poll interval: 10m (default), 90s, 1h; at least 1m")
    f.add_argument(
        "--backfill", type=int, default=0, help="publish the newest N items already there"
    )
    f.set_defaults(handler=feeds.feed_add)
    f = feed_sub.add_parser("list", parents=[common], help="followed feeds and their state")
    f.set_defaults(handler=feeds.feed_list)
    f = feed_sub.add_parser("remove", parents=[common], help="stop following a feed")
    f.add_argument("url", help="the feed's address, as added")
    f.set_defaults(handler=feeds.feed_remove)
    f = feed_sub.add_parser("poll", parents=[common], help="poll a feed now")
    f.add_argument("url", help="the feed's address, as added")
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
        p.add_argument(
            "platform",
            choices=[*all_platforms, "person"],
            help="where the author writes (or person)",
        )
        p.add_argument("user_id", help="the author's id on that platform (or the person's id)")
        p.set_defaults(handler=handler)
