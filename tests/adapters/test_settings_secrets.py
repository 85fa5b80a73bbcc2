"""The database password is a secret the logs never show, whatever the URL's scheme."""

from __future__ import annotations

import io
import logging

from bot import Settings, configure_logging


def test_the_database_password_is_redacted_from_every_log_line() -> None:
    settings = Settings(database="postgresql://newsbot:s3cr3t-pw@127.0.0.1:5432/news")
    assert "s3cr3t-pw" in settings.secrets()
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        configure_logging(settings, out)
        logging.getLogger("newsbot.test").warning("connecting to %s", settings.database)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    assert "connecting to" in out.getvalue()
    assert "s3cr3t-pw" not in out.getvalue()


def test_a_sqlite_file_has_no_password_to_redact() -> None:
    assert Settings(database="/var/lib/newsbot/news.db").secrets() == []
