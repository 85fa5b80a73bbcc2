"""The README's library example runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_library_example_runs(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "post Hello to 42"
    assert (tmp_path / "example.db").exists()


def test_quick_start_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_the_security_section_has_the_trust_model_and_what_to_configure() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    security = readme.split("## Security", 1)[1].split("\n## ", 1)[0]
    table = [line for line in security.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| Who | From where | Can |")
    assert len(table) >= 8  # header and the seven kinds of people
    for name in (
        "NEWSBOT_TELEGRAM_ADMINS",
        "NEWSBOT_DISCORD_ADMINS",
        "NEWSBOT_DISCORD_GUILDS",
        "NEWSBOT_WEB_ADMIN_TOKEN",
        "NEWSBOT_WEB_TRUST_PROXY",
        "Public Bot",
        "0600",
        "32 characters",
    ):
        assert name in security, name
