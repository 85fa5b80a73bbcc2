"""The command line and the runnable bot, as a user runs them: in a child process."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from adapters.cli import build_parser
from bot import LogfmtFormatter, Settings, configure_logging
from newsbot import ArticleId, NewsService
from storage import SqliteStore

BOT = Path(__file__).resolve().parents[3] / "bot.py"


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env.update({"NEWSBOT_DATABASE": str(tmp_path / "cli.db"), "NEWSBOT_WEB_PORT": "0"})
    env.update(extra)
    return env


def cli(
    tmp_path: Path, *args: str, ok: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(BOT), *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path, **env),
        timeout=60,
    )
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def test_publish_then_deliveries_shows_every_destination(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1001", "--title", "Channel")
    cli(tmp_path, "subscribe", "discord", "123456789012345678", "--kind", "forum")
    again = cli(tmp_path, "subscribe", "telegram", "-1001")
    assert "already subscribed" in again.stdout
    body = tmp_path / "body.md"
    body.write_text("# Heading\n\nSome *text* <b>&</b>", encoding="utf-8")
    out = cli(tmp_path, "publish", "--title", "Hello, world", "--body-file", str(body), "--json")
    article = json.loads(out.stdout)
    assert article["title"] == "Hello, world" and article["status"] == "published"
    assert article["queued"] == 2 and article["url"].endswith(f"/articles/{article['id']}")
    rows = json.loads(cli(tmp_path, "deliveries", str(article["id"]), "--json").stdout)
    assert sorted(r["destination"] for r in rows) == [
        "discord:123456789012345678",
        "telegram:-1001",
    ]
    assert {r["state"] for r in rows} == {"pending"} and {r["attempts"] for r in rows} == {0}
    human = cli(tmp_path, "deliveries", str(article["id"])).stdout
    assert "telegram:-1001" in human and "pending" in human
    listed = json.loads(cli(tmp_path, "articles", "--json").stdout)
    assert [a["id"] for a in listed["articles"]] == [article["id"]]
    shown = cli(tmp_path, "article", str(article["id"])).stdout
    assert "Hello, world" in shown and "Comments: 0" in shown
    comments = json.loads(cli(tmp_path, "comments", str(article["id"]), "--json").stdout)
    assert comments["total"] == 0 and comments["comments"] == []
    dests = json.loads(cli(tmp_path, "destinations", "--json").stdout)
    assert {d["kind"] for d in dests} == {"channel", "forum"}


def test_edit_retract_unsubscribe(tmp_path: Path) -> None:
    cli(tmp_path, "subscribe", "telegram", "-1")
    article = json.loads(cli(tmp_path, "publish", "--title", "T", "--body", "B", "--json").stdout)
    edited = json.loads(
        cli(tmp_path, "edit", str(article["id"]), "--title", "T2", "--json").stdout
    )
    assert edited["title"] == "T2" and edited["body"] == "B" and edited["revision"] == 2
    retracted = json.loads(cli(tmp_path, "retract", str(article["id"]), "--json").stdout)
    assert retracted["status"] == "retracted"
    assert "Unsubscribed" in cli(tmp_path, "unsubscribe", "telegram", "-1").stdout
    gone = cli(tmp_path, "unsubscribe", "telegram", "-1", ok=False)
    assert gone.returncode == 1 and "not subscribed" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["publish", "--title", "", "--body", "b"], "title is empty"),
        (["publish", "--title", "t"], "--body"),
        (["publish", "--title", "t", "--body-file", "/nonexistent/x"], "Cannot read"),
        (["article", "999"], "no article 999"),
        (["deliveries", "999"], "no article 999"),
        (["comments", "1", "--cursor", "bad"], "no article 1|cursor"),
        (["delete-comment", "5"], "no comment 5"),
        (["subscribe", "discord", "notanumber"], "Discord channel id is a number.*'notanumber'"),
        (["subscribe", "discord", "１２３"], "Discord channel id is a number"),
        (["subscribe", "telegram", "alice"], "Telegram chat id is a number .* or an @username"),
        (["subscribe", "telegram", "-100", "--thread", "x"], "thread or topic id is a number"),
    ],
)
def test_errors_are_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    done = cli(tmp_path, *args, ok=False)
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert __import__("re").search(message, done.stderr), done.stderr
    assert "Traceback" not in done.stderr


def test_bad_setting_names_the_variable(tmp_path: Path) -> None:
    done = cli(tmp_path, "articles", ok=False, NEWSBOT_WEB_PORT="eighty")
    assert done.returncode == 2
    assert "NEWSBOT_WEB_PORT" in done.stderr and "Traceback" not in done.stderr
    done = cli(tmp_path, "articles", ok=False, NEWSBOT_PUBLIC_URL="news.example")
    assert done.returncode == 2 and "NEWSBOT_PUBLIC_URL" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NEWSBOT_TELEGRAM_ADMINS", "@alice", "Telegram user ids.*not '@alice'"),
        ("NEWSBOT_TELEGRAM_ADMINS", "1001, alice", "Telegram user ids.*not 'alice'"),
        ("NEWSBOT_DISCORD_ADMINS", "bob", "Discord user ids.*not 'bob'"),
        ("NEWSBOT_DISCORD_ADMINS", "１２３", "Discord user ids"),
    ],
)
def test_admin_lists_take_user_ids_only(
    tmp_path: Path, variable: str, value: str, message: str
) -> None:
    done = cli(tmp_path, "articles", ok=False, **{variable: value})
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith(f"newsbot: configuration error: {variable}: "), line
    assert re.search(message, line), line
    settings = Settings(_env_file=None, telegram_admins="1001, 1002", discord_admins="")
    assert settings.telegram_admins == {"1001", "1002"} and settings.discord_admins == set()


def test_a_short_admin_token_is_a_clear_configuration_error(tmp_path: Path) -> None:
    short = "only-31-characters-long-secret!"
    done = cli(tmp_path, "articles", ok=False, NEWSBOT_WEB_ADMIN_TOKEN=short)
    assert done.returncode == 2
    assert "NEWSBOT_WEB_ADMIN_TOKEN" in done.stderr
    assert "at least 32 characters (it is 31)" in done.stderr
    assert short not in done.stderr and "Traceback" not in done.stderr
    assert Settings(web_admin_token="x" * 32).web_admin_token is not None
    assert Settings(web_admin_token=" ").web_admin_token is None


def test_trusted_proxies_are_addresses_or_ranges(tmp_path: Path) -> None:
    settings = Settings(web_trust_proxy="127.0.0.1, 10.0.0.0/8,::1")
    assert settings.web_trust_proxy == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert Settings().web_trust_proxy == ()
    for bad in ("true", "10.0.0.0/33", "proxy.local"):
        done = cli(tmp_path, "articles", ok=False, NEWSBOT_WEB_TRUST_PROXY=bad)
        assert done.returncode == 2, bad
        assert "NEWSBOT_WEB_TRUST_PROXY" in done.stderr and "not an IP address" in done.stderr


def test_newer_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("PRAGMA user_version = 77")
    done = cli(tmp_path, "articles", ok=False)
    assert done.returncode == 1 and "newer than this newsbot" in done.stderr


async def test_run_without_tokens_says_what_is_off_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BOT),
        cwd=tmp_path,
        env=clean_env(tmp_path, NEWSBOT_TELEGRAM_TOKEN="", NEWSBOT_DISCORD_TOKEN=""),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    async with asyncio.timeout(30):
        while not any("newsbot running" in line for line in seen):
            line = (await proc.stderr.readline()).decode()
            assert line, "".join(seen)
            seen.append(line)
    text = "".join(seen)
    assert "telegram: off (NEWSBOT_TELEGRAM_TOKEN is not set)" in text
    assert "discord: off (NEWSBOT_DISCORD_TOKEN is not set)" in text
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(30):
        rest = (await proc.stderr.read()).decode()
        assert await proc.wait() == 0, rest
    assert "newsbot stopping" in rest


def test_tokens_never_reach_logs_or_reprs() -> None:
    token = "123456:AAE-secret-token-value"
    settings = Settings(telegram_token=token, discord_token="discord.secret.value")
    assert token not in repr(settings) and "discord.secret.value" not in str(settings)
    stream = io.StringIO()
    configure_logging(settings, stream)
    try:
        logging.getLogger("httpx").warning("POST https://api.telegram.org/bot%s/getMe", token)
        logging.getLogger("newsbot.test").error(
            "failed", extra={"url": f"https://x/bot{token}/sendMessage"}
        )
        try:
            raise RuntimeError(f"boom discord.secret.value {token}")
        except RuntimeError:
            logging.getLogger("newsbot.test").exception("crash")
    finally:
        configure_logging(Settings())
    out = stream.getvalue()
    assert "***" in out and token not in out and "discord.secret.value" not in out
    assert "logger=newsbot.test" in out and "level=ERROR" in out


def test_logfmt_quotes_values() -> None:
    record = logging.LogRecord("n", logging.INFO, "f", 1, 'a "quoted" msg', None, None)
    record.chat_id = "-100 1"
    line = LogfmtFormatter().format(record)
    assert 'msg="a \\"quoted\\" msg"' in line and 'chat_id="-100 1"' in line
    # Control characters from outside never reach the terminal raw, C1 (U+009B is CSI) too.
    record.title = "evil\x9b2J\x1b[31m"
    line = LogfmtFormatter().format(record)
    assert 'title="evil\\u009b2J\\u001b[31m"' in line
    assert not TERMINAL_CONTROLS.search(line)


TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


async def _comment_on(path: Path, article_id: int) -> None:
    async with SqliteStore(path) as store:
        service = NewsService(store)
        await service.add_web_comment(ArticleId(article_id), "Eve", "hi", client_key="k")


def test_comments_never_print_terminal_controls(tmp_path: Path) -> None:
    """Names and comments stored before newsbot stripped C1 control characters (U+009B is
    CSI, as ESC [ is) reach the operator's terminal inert."""
    article = json.loads(cli(tmp_path, "publish", "--title", "T", "--body", "B", "--json").stdout)
    asyncio.run(_comment_on(tmp_path / "cli.db", article["id"]))
    name, text = "Eve\x9b31m", "red\x9b2J\x1b[1m bold\x85"
    with sqlite3.connect(tmp_path / "cli.db") as db:
        db.execute("UPDATE comments SET author_name = ?, text = ?", (name, text))
    human = cli(tmp_path, "comments", str(article["id"])).stdout
    assert not TERMINAL_CONTROLS.search(human), repr(human)
    assert "Eve31m" in human and "red2J[1m bold" in human
    raw = cli(tmp_path, "comments", str(article["id"]), "--json").stdout
    assert not TERMINAL_CONTROLS.search(raw), repr(raw)
    [comment] = json.loads(raw)["comments"]
    assert (comment["author_name"], comment["text"]) == (name, text)


def test_the_installed_newsbot_command_runs(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "newsbot"
    assert script.exists(), "pip install -e . installs the newsbot console script"
    done = subprocess.run(
        [str(script), "articles", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"articles": [], "next_cursor": None}


def test_database_option_on_every_command_names_the_database(tmp_path: Path) -> None:
    """``--database`` (before or after the command) beats NEWSBOT_DATABASE, for the commands,
    the feed actions and ``run``; an empty value is refused."""
    other = tmp_path / "elsewhere" / "news.db"
    other.parent.mkdir()
    cli(tmp_path, "subscribe", "telegram", "-1", "--database", str(other))
    out = cli(tmp_path, "--database", str(other), "publish", "--title", "T", "--body", "B")
    assert "Queued for 1 destination(s)" in out.stdout
    assert not (tmp_path / "cli.db").exists(), "NEWSBOT_DATABASE was not touched"
    listed = json.loads(cli(tmp_path, "articles", "--json", "--database", str(other)).stdout)
    assert [a["title"] for a in listed["articles"]] == ["T"]
    feeds = cli(tmp_path, "feed", "list", "--json", "--database", str(other))
    assert json.loads(feeds.stdout) == []
    feeds = cli(tmp_path, "feed", "--database", str(other), "list", "--json")
    assert json.loads(feeds.stdout) == []
    parser = build_parser()
    assert parser.parse_args(["run", "--database", "x.db"]).database == "x.db"
    assert parser.parse_args(["--database", "y.db", "workers"]).database == "y.db"
    assert parser.parse_args(["workers", "--database", "z.db"]).database == "z.db"
    bad = cli(tmp_path, "articles", "--database", " ", ok=False)
    assert bad.returncode == 2 and "--database" in bad.stderr


def test_a_command_on_a_database_no_worker_runs_on_says_so(tmp_path: Path) -> None:
    """Run from another directory without NEWSBOT_DATABASE, ``publish`` used to create an
    empty ./newsbot.db and say "Queued for 0 destination(s)" and nothing else."""
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    env = {k: v for k, v in clean_env(tmp_path).items() if k != "NEWSBOT_DATABASE"}
    done = subprocess.run(
        [sys.executable, str(BOT), "publish", "--title", "T", "--body", "B", "--json"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["queued"] == 0, "stdout stays JSON"
    path = str(elsewhere / "newsbot.db")
    assert f"warning: created a new, empty database at newsbot.db ({path})" in done.stderr
    assert "no newsbot worker runs on it" in done.stderr
    assert "--database" in done.stderr and "Traceback" not in done.stderr
    # An existing database nobody runs on: a warning without "created", after the result
    # (and after an error's own line).
    cli(tmp_path, "destinations")
    again = cli(tmp_path, "articles")
    assert "no newsbot worker has been seen" in again.stderr and "created" not in again.stderr
    missing = cli(tmp_path, "article", "99", ok=False)
    assert missing.stderr.startswith("error: There is no article 99.")
    assert "no newsbot worker has been seen" in missing.stderr


async def test_no_warning_while_a_worker_runs_on_the_database(tmp_path: Path) -> None:
    from newsbot import Roles
    from storage import SqliteStore

    async with SqliteStore(tmp_path / "cli.db") as store:
        roles = Roles(store, "w1", ["send:telegram"], lease=3.0, renew_every=0.5, margin=1.0)
        await roles.start()
        try:
            done = await asyncio.to_thread(cli, tmp_path, "articles", "--json")
        finally:
            await roles.stop()
    assert json.loads(done.stdout)["articles"] == []
    assert "warning" not in done.stderr, done.stderr


def test_a_command_on_postgres_without_asyncpg_is_one_clear_line(tmp_path: Path) -> None:
    """Without the ``postgres`` extra, ``bot.py COMMAND`` on a PostgreSQL URL used to end in a
    traceback (only ``bot.py run`` said what to install)."""
    # A package named asyncpg that fails to import, first on the path: asyncpg "missing".
    (tmp_path / "asyncpg").mkdir()
    (tmp_path / "asyncpg" / "__init__.py").write_text(
        "raise ImportError('asyncpg is not installed here')\n", encoding="utf-8"
    )
    url = "postgresql://newsbot@127.0.0.1:1/newsbot"
    done = cli(tmp_path, "articles", "--database", url, ok=False, PYTHONPATH=str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        "newsbot: NEWSBOT_DATABASE is a PostgreSQL URL but asyncpg is missing: "
        "pip install 'newsbot[postgres]'"
    ]
