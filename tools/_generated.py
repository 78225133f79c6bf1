"""What every generator in tools/ does with its output: write it, or check it is current."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

__all__ = ["update"]


def update(path: Path, text: str, tool: str, *, check: bool, repo: Path) -> int:
    """Write ``text`` to ``path`` if it differs (0); with ``check``, write nothing and print
    a diff instead (1 when stale)."""
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current == text:
        return 0
    relative = path.relative_to(repo).as_posix()
    if not check:
        path.write_text(text, encoding="utf-8", newline="\n")
        print(f"{tool}: wrote {relative}")
        return 0
    sys.stdout.writelines(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"{relative} (checked in)",
            f"{relative} (generated)",
        )
    )
    print(f"{tool}: out of date; run `python tools/{tool}.py`", file=sys.stderr)
    return 1
