"""The core depends on nothing outside it: no platform SDK, no database driver, no pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FORBIDDEN = (
    "discord",
    "telegram",
    "aiosqlite",
    "sqlite3",
    "aiohttp",
    "pydantic",
    "httpx",
    "storage",
    "adapters",
    "feedparser",
    "nh3",
    "markdownify",
    "bs4",
)


def test_importing_newsbot_loads_no_sdk_or_driver() -> None:
    code = (
        "import json, sys, newsbot, newsbot.service, newsbot.dispatcher, newsbot.text, "
        "newsbot.feeds; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    loaded = json.loads(out)
    assert "newsbot.service" in loaded  # the probe really imported the core
    offending = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert offending == []


def test_core_sources_name_no_forbidden_module() -> None:
    """Also catches imports hidden inside functions, which the runtime check cannot see."""
    core = Path(__file__).resolve().parent.parent / "newsbot"
    for source in core.glob("*.py"):
        for line in source.read_text().splitlines():
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in FORBIDDEN, (source.name, line)
