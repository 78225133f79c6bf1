"""The layer table of docs/architecture.md, enforced on every module's imports.

The table is read from the document itself (its ``modules`` column), so there is one table.
Every import counts wherever it is written (module level, inside a function, through
``importlib.import_module``), except one under ``if TYPE_CHECKING:``: that is for annotations
only and may name a module of any layer, though it must still name one the table knows.
``aioproducer/testing/`` is the test harness, not a layer: it is not checked, and no layer
may import it.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "architecture.md"
HARNESS = "aioproducer.testing"
_HEADER = re.compile(r"^\|\s*layer\s*\|\s*modules\s*\|")
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class Layer:
    """One row of the table: its position (0 is the bottom), name and module entries."""

    index: int
    name: str
    entries: tuple[str, ...]


@dataclass(frozen=True)
class Import:
    """An ``aioproducer`` module one source module imports."""

    line: int
    target: str
    type_only: bool


def parse_table(markdown: str) -> list[Layer]:
    """The rows of the first table whose header starts ``| layer | modules |``."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if _HEADER.match(line))
    layers: list[Layer] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        name, modules = (cell.strip() for cell in line.strip("|").split("|")[:2])
        layers.append(Layer(len(layers), name, tuple(_CODE.findall(modules))))
    return layers


def _module_name(relative: str) -> str:
    """``aioproducer/_protocol/`` -> ``aioproducer._protocol``; ``a/b.py``, ``a/_c.c`` -> ``a.b``,
    ``a._c``; ``a/__init__.py`` -> ``a``."""
    parts = list(Path(relative).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules(root: Path) -> dict[str, Path]:
    """Every Python module of the package under ``root`` but the harness, by dotted name."""
    modules = {}
    for path in sorted((root / "aioproducer").rglob("*.py")):
        name = _module_name(path.relative_to(root).as_posix())
        if name != HARNESS and not name.startswith(HARNESS + "."):
            modules[name] = path
    return modules


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, name: str, known: set[str]) -> list[Import]:
    """The ``aioproducer`` modules ``path`` (module ``name``) imports, wherever written."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []

    def add(node: ast.stmt | ast.expr, target: str, type_only: bool) -> None:
        if target == "aioproducer" or target.startswith("aioproducer."):
            found.append(Import(node.lineno, target, type_only))

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.body:
                visit(child, type_only=True)
            for child in node.orelse:
                visit(child, type_only)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(node, alias.name, type_only)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:  # ``from pkg import submodule`` imports the submodule
                submodule = f"{base}.{alias.name}"
                add(node, submodule if submodule in known else base, type_only)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node, node.args[0].value, type_only)
        for inner in ast.iter_child_nodes(node):
            visit(inner, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), type_only=False)
    return list(dict.fromkeys(found))  # once per module named, not per name imported


def check(markdown: str, root: Path) -> list[str]:
    """Every way the package under ``root`` breaks the table in ``markdown``; [] if none."""
    layers = parse_table(markdown)
    modules = source_modules(root)
    compiled = {
        _module_name(entry): entry
        for layer in layers
        for entry in layer.entries
        if not entry.endswith(("/", ".py"))
    }
    problems = [
        f"the table names {entry}, which does not exist"
        for layer in layers
        for entry in layer.entries
        if not (root / entry).exists()
    ]

    def rows_of(module: str) -> list[Layer]:
        rows = []
        for layer in layers:
            for entry in layer.entries:
                prefix = _module_name(entry)
                if module == prefix or (entry.endswith("/") and module.startswith(prefix + ".")):
                    rows.append(layer)
        return rows

    layer_of: dict[str, Layer] = {}
    for module in [*modules, *compiled]:
        rows = rows_of(module)
        if len(rows) == 1:
            layer_of[module] = rows[0]
        elif not rows:
            problems.append(f"{module} is in no layer of the table in docs/architecture.md")
        else:
            names = ", ".join(repr(row.name) for row in rows)
            problems.append(f"{module} is in more than one row of the table: {names}")

    for module, path in modules.items():
        own = layer_of.get(module)
        where = path.relative_to(root).as_posix()
        for imp in imports_of(path, module, set(modules) | set(compiled)):
            if imp.target == HARNESS or imp.target.startswith(HARNESS + "."):
                problems.append(f"{where}:{imp.line}: {module} imports the test harness")
                continue
            theirs = layer_of.get(imp.target)
            if theirs is None:
                problems.append(
                    f"{where}:{imp.line}: {module} imports {imp.target}, which is in no layer"
                )
                continue
            if own is not None and theirs.index > own.index and not imp.type_only:
                problems.append(
                    f"{where}:{imp.line}: {module} (layer {own.name!r}) imports {imp.target}"
                    f" (layer {theirs.name!r}), a layer above its own"
                )
    return problems


# -- the project -----------------------------------------------------------------------------


def test_every_module_is_in_one_layer_and_imports_only_its_own_or_lower_ones() -> None:
    problems = check(DOC.read_text(encoding="utf-8"), REPO)
    assert problems == [], "\n".join(problems)


def test_the_table_runs_from_protocol_up_to_the_integrations() -> None:
    names = [layer.name for layer in parse_table(DOC.read_text(encoding="utf-8"))]
    order = ["protocol", "connection", "cluster", "accumulator", "sender", "producer", "integr"]
    positions = [next(i for i, n in enumerate(names) if n.startswith(want)) for want in order]
    assert positions == sorted(positions), names


# -- the checker itself ----------------------------------------------------------------------

_TABLE = """\
# Layers

| layer | modules | what it is |
|---|---|---|
| low | `aioproducer/low.py`, `aioproducer/_ext.c` | the bottom (`not/a/module.py` here is prose) |
| pkg | `aioproducer/pkg/` | a package |
| high | `aioproducer/high.py`, `aioproducer/__init__.py` | the top |

After the table.
"""


_EMPTY = [
    "aioproducer/_ext.c",
    "aioproducer/__init__.py",
    "aioproducer/low.py",
    "aioproducer/high.py",
    "aioproducer/pkg/__init__.py",
]


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A package under ``tmp_path``: the table's modules, empty, unless ``files`` says more."""
    for relative, text in {**dict.fromkeys(_EMPTY, ""), **files}.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    return tmp_path


def test_the_parser_reads_the_module_column_only() -> None:
    layers = parse_table(_TABLE)
    assert [(layer.index, layer.name) for layer in layers] == [(0, "low"), (1, "pkg"), (2, "high")]
    assert layers[0].entries == ("aioproducer/low.py", "aioproducer/_ext.c")


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "aioproducer/__init__.py": "from aioproducer.high import X\n",
            "aioproducer/low.py": "import importlib\nimportlib.import_module('aioproducer._ext')\n",
            "aioproducer/pkg/__init__.py": "from . import a\n",
            "aioproducer/pkg/a.py": "from ..low import Y\nfrom aioproducer.pkg import b\n",
            "aioproducer/pkg/b.py": "",
            "aioproducer/high.py": "from aioproducer import pkg\nfrom aioproducer.pkg.a import Z\n",
            "aioproducer/testing/__init__.py": "from aioproducer.high import X\n",
        },
    )
    assert check(_TABLE, root) == []


def test_an_import_from_above_fails_naming_both_layers(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "aioproducer/low.py": "from aioproducer.pkg.a import Y\n",
            "aioproducer/pkg/a.py": "def f():\n    import aioproducer.high\n",
        },
    )
    assert check(_TABLE, root) == [
        "aioproducer/low.py:1: aioproducer.low (layer 'low') imports aioproducer.pkg.a"
        " (layer 'pkg'), a layer above its own",
        "aioproducer/pkg/a.py:2: aioproducer.pkg.a (layer 'pkg') imports aioproducer.high"
        " (layer 'high'), a layer above its own",
    ]


def test_type_checking_imports_may_point_up_but_must_be_known(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "aioproducer/low.py": (
                "import typing\nfrom typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from aioproducer.high import X\n"
                "if typing.TYPE_CHECKING:\n    import aioproducer.nowhere\n"
                "else:\n    import aioproducer.high\n"
            ),
        },
    )
    assert check(_TABLE, root) == [
        "aioproducer/low.py:6: aioproducer.low imports aioproducer.nowhere, which is in no layer",
        "aioproducer/low.py:8: aioproducer.low (layer 'low') imports aioproducer.high"
        " (layer 'high'), a layer above its own",
    ]


def test_missing_doubled_and_stale_entries_and_the_harness_fail(tmp_path: Path) -> None:
    table = _TABLE.replace("`aioproducer/pkg/` |", "`aioproducer/pkg/`, `aioproducer/gone.py` |")
    table = table.replace(
        "`aioproducer/high.py`,", "`aioproducer/high.py`, `aioproducer/pkg/a.py`,"
    )
    root = _tree(
        tmp_path,
        {
            "aioproducer/pkg/a.py": "",
            "aioproducer/high.py": "from aioproducer.testing import harness\n",
            "aioproducer/stray.py": "",
            "aioproducer/testing/harness.py": "",
        },
    )
    assert check(table, root) == [
        "the table names aioproducer/gone.py, which does not exist",
        "aioproducer.pkg.a is in more than one row of the table: 'pkg', 'high'",
        "aioproducer.stray is in no layer of the table in docs/architecture.md",
        "aioproducer/high.py:1: aioproducer.high imports the test harness",
    ]
