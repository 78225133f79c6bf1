"""The protocol package stays sans-IO: no networking, event loop or clock imports."""

from __future__ import annotations

import ast
from pathlib import Path

import aioproducer._protocol

FORBIDDEN = {"asyncio", "socket", "ssl", "time", "selectors", "anyio"}
PACKAGE = Path(aioproducer._protocol.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name | ast.Attribute)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in {"__import__", "import_module"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            roots.add(node.args[0].value.split(".")[0])
    return roots


def test_protocol_modules_import_no_io() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) >= 10
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(_imported_roots(path) & FORBIDDEN)
        for path in modules
        if _imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_checker_catches_forbidden_imports(tmp_path: Path) -> None:
    sample = tmp_path / "bad.py"
    sample.write_text(
        "import os\nimport asyncio.events\nfrom time import monotonic\n"
        "import importlib\nimportlib.import_module('ssl')\n"
    )
    assert _imported_roots(sample) & FORBIDDEN == {"asyncio", "time", "ssl"}
