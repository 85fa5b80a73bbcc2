"""How many lines two sets of files share: the measure of what the SQL backends repeat.

    python -m bench.shared_lines storage/sqlite storage/postgres

Each side is a file or a folder (its ``*.py`` files, concatenated in name order). A line counts
when it is not blank, not a comment, not an import, and has at least 3 word characters; the
answer is how many such lines stand in both, and how many of them stand in the same order.
"""

from __future__ import annotations

import difflib
import re
import sys
from pathlib import Path


def lines(place: str) -> list[str]:
    """The counted lines of a file, or of a folder's Python files."""
    path = Path(place)
    files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
    kept = []
    for file in files:
        for raw in file.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if (
                line
                and not line.startswith("#")
                and len(re.findall(r"\w", line)) >= 3
                and not re.match(r"(from|import) ", line)
            ):
                kept.append(line)
    return kept


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    a, b = lines(sys.argv[1]), lines(sys.argv[2])
    in_b = set(b)
    shared = sum(1 for line in a if line in in_b)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    in_order = sum(block.size for block in matcher.get_matching_blocks())
    print(f"{len(a)} and {len(b)} lines; in both: {shared}; in the same order: {in_order}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
