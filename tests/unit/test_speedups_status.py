"""Which path runs, and why: ``speedups_enabled()``, ``speedups.why_pure`` and the INFO line
that importing the package on the pure-Python path logs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import aioproducer
from aioproducer import _speedups_status as speedups

HERE = Path(__file__).parent

# Imports the package in a fresh interpreter with INFO logging on; prints its answers last.
PROBE = """
import logging, sys
logging.basicConfig(
    level=logging.INFO, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s"
)
{prelude}
import aioproducer, aioproducer._speedups_status
print("enabled", aioproducer.speedups_enabled())
print("why", aioproducer._speedups_status.why_pure)
"""


def _probe(prelude: str = "", **env: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if k != "AIOPRODUCER_PURE_PYTHON"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(prelude=prelude)],
        env={**environ, **env},
        cwd=HERE,  # not the checkout: the package imported is the one installed
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def test_speedups_enabled_answers_from_the_loaded_extension() -> None:
    assert aioproducer.speedups_enabled() is (speedups.c is not None)
    assert (speedups.why_pure is None) is aioproducer.speedups_enabled()


def test_pure_python_asked_for_logs_one_info_line() -> None:
    lines = _probe(AIOPRODUCER_PURE_PYTHON="1")
    assert lines == [
        "aioproducer.speedups INFO pure-Python path: AIOPRODUCER_PURE_PYTHON=1 is set",
        "enabled False",
        "why AIOPRODUCER_PURE_PYTHON=1 is set",
    ]


def test_missing_extension_logs_why() -> None:
    # None in sys.modules makes the import fail as a missing module does.
    lines = _probe("sys.modules['aioproducer._speedups'] = None")
    assert len(lines) == 3
    prefix = "aioproducer.speedups INFO pure-Python path: "
    why = lines[0].removeprefix(prefix)
    # "not installed", or the build's own note where an in-place build failed here
    assert why.startswith(("the C extension is not installed", "the C extension failed to build"))
    assert lines[1:] == ["enabled False", f"why {why}"]


@pytest.mark.requires_extension
def test_built_extension_logs_nothing() -> None:
    assert _probe() == ["enabled True", "why None"]


def test_why_missing_reports_the_build_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = tmp_path / "_speedups_build_error.txt"
    monkeypatch.setattr(speedups, "_BUILD_ERROR", note)
    missing = ModuleNotFoundError("no module", name="aioproducer._speedups")
    assert speedups._why_missing(missing).startswith("the C extension is not installed")
    note.write_text("CompileError: command 'gcc' failed\n", encoding="utf-8")
    assert speedups._why_missing(missing) == (
        "the C extension failed to build at install: CompileError: command 'gcc' failed"
    )
    broken = ImportError("undefined symbol: PyFoo")  # built, but does not load
    assert speedups._why_missing(broken) == "the C extension did not load: undefined symbol: PyFoo"
    other = ModuleNotFoundError("no module named 'anyio'", name="anyio")
    assert speedups._why_missing(other).startswith("the C extension did not load")
