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
        "newsbot.feeds, newsbot.intake, newsbot.mirroring; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    ).stdout
    loaded = json.loads(out)
    assert "newsbot.service" in loaded  # the probe really imported the core
    offending = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert offending == []


def test_core_sources_name_no_forbidden_module() -> None:
    """Also catches imports hidden inside functions, which the runtime check cannot see."""
    core = Path(__file__).resolve().parents[2] / "newsbot"
    for source in core.rglob("*.py"):
        for line in source.read_text().splitlines():
            words = line.strip().split()
            if words[:1] in (["import"], ["from"]) and len(words) > 1:
                assert words[1].split(".")[0] not in FORBIDDEN, (source.name, line)


def _imports(source: Path, root: Path) -> set[str]:
    """The modules of the tree that ``source`` imports, wherever the import statement is."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if (root / (name.replace(".", "/") + ".py")).exists()} | {
        name for name in found if (root / name.replace(".", "/") / "__init__.py").exists()
    }


def test_no_storage_module_imports_one_that_imports_it_back() -> None:
    root = Path(__file__).resolve().parents[2]
    graph: dict[str, set[str]] = {}
    for source in (root / "storage").rglob("*.py"):
        name = ".".join(source.relative_to(root).with_suffix("").parts)
        graph[name.removesuffix(".__init__")] = _imports(source, root)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert circles == []


def test_adapters_never_reach_the_store() -> None:
    """Adapters call the service's use cases; ``service.store`` (or any ``.store``) is not
    theirs to touch, whatever its type says."""
    import ast

    adapters = Path(__file__).resolve().parents[2] / "adapters"
    reached = [
        f"{source.relative_to(adapters)}:{node.lineno}"
        for source in adapters.rglob("*.py")
        for node in ast.walk(ast.parse(source.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "store"
    ]
    assert reached == []


def test_no_adapter_imports_storage() -> None:
    """Adapters reach storage only through the service (the CLI through its ``Backend``)."""
    root = Path(__file__).resolve().parents[2]
    importers = sorted(
        str(source.relative_to(root))
        for source in (root / "adapters").rglob("*.py")
        if any(name.split(".")[0] == "storage" for name in _imports(source, root))
    )
    assert importers == []
