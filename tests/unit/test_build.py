"""setup.py: a failed compile installs the pure-Python package and says so; the repository's
strict build fails instead; the pure build makes the ``py3-none-any`` wheel.

Builds real wheels with pip (no build isolation: the setuptools installed here builds them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from zipfile import ZipFile

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTE = "aioproducer/_speedups_build_error.txt"
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps"]
PIP_WHEEL += ["--no-cache-dir", "--no-index"]


def _setuptools_major() -> int:
    try:
        return int(version("setuptools").split(".")[0])
    except PackageNotFoundError:  # Python 3.12+ venvs come without it
        return 0


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (REPO_ROOT / "setup.py").exists(), reason="needs the source tree (setup.py)"
    ),
    pytest.mark.skipif(_setuptools_major() < 77, reason="needs setuptools 77 or newer"),
]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of what a wheel is built from, so no build output lands in the checkout."""
    root = tmp_path_factory.mktemp("source")
    for name in ("setup.py", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"):
        shutil.copy(REPO_ROOT / name, root)
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.pyd", "_speedups_build_error.txt")
    shutil.copytree(REPO_ROOT / "aioproducer", root / "aioproducer", ignore=ignore)
    return root


def _wheel(source: Path, out: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``pip wheel`` with ``env`` added to a build environment free of the repo's own build
    settings. No ``-v``: pip shows the warnings of a local folder's build without it. No
    controlling terminal, so the banner goes only to the captured output."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AIOPRODUCER_")}
    done = subprocess.run(
        [*PIP_WHEEL, "-w", str(out), str(source)],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
        start_new_session=True,
    )
    wheels = list(out.glob("*.whl"))
    return done, wheels[0] if wheels else out


def _extensions(names: list[str]) -> list[str]:
    """The compiled modules among a wheel's files."""
    return [n for n in names if n.endswith((".so", ".pyd"))]


def test_failed_compile_installs_pure_and_says_why(source: Path, tmp_path: Path) -> None:
    done, wheel = _wheel(source, tmp_path, CC="false")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "aioproducer: the optional C extension was NOT built" in done.stderr  # pip's warning
    with ZipFile(wheel) as archive:
        names = archive.namelist()
        note = archive.read(NOTE).decode()
    assert _extensions(names) == []
    assert note.startswith("CompileError: ")


def test_strict_build_fails_when_the_compiler_does(source: Path, tmp_path: Path) -> None:
    done, _ = _wheel(source, tmp_path, CC="false", AIOPRODUCER_STRICT_BUILD="1")
    assert done.returncode != 0
    assert "NOT built" not in done.stdout + done.stderr
    assert list(tmp_path.glob("*.whl")) == []


def test_pure_build_makes_the_any_platform_wheel(source: Path, tmp_path: Path) -> None:
    done, wheel = _wheel(source, tmp_path, AIOPRODUCER_PURE_BUILD="1")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert wheel.name.endswith("-py3-none-any.whl")
    with ZipFile(wheel) as archive:
        names = archive.namelist()
    assert _extensions(names) == []
    assert NOTE not in names
    assert "aioproducer/py.typed" in names


def test_published_metadata(source: Path, tmp_path: Path) -> None:
    """The wheel's metadata: one version (aioproducer.__version__), the PEP 639 license, the
    project URLs and the public extras; the repository's own `dev` tools are no extra."""
    from email.parser import Parser  # noqa: PLC0415

    import aioproducer  # noqa: PLC0415

    done, wheel = _wheel(source, tmp_path, AIOPRODUCER_PURE_BUILD="1")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        meta = Parser().parsestr(archive.read(name).decode())
    assert meta["Version"] == aioproducer.__version__
    assert meta["License-Expression"] == "Apache-2.0"
    assert {url.split(",")[0] for url in meta.get_all("Project-URL", [])} >= {
        "Homepage",
        "Documentation",
        "Changelog",
        "Issues",
    }
    extras = set(meta.get_all("Provides-Extra", []))
    assert {"testing", "docs"} <= extras
    assert "dev" not in extras
    requires: list[str] = meta.get_all("Requires-Dist", [])
    assert not [r for r in requires if "matplotlib" in r or "py-spy" in r]
    assert [r for r in requires if r.startswith("confluent-kafka") and "testing" in r]
