"""The suite's ``--implementation`` option (tests/conftest.py): a session names the
implementation it tests in its header and fails at its start when the other one loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Collects one small file in a fresh interpreter; HIDE makes the extension's import fail as
# a missing module does, so these run on either path.
RUN = """
import sys
if {hide}:
    sys.modules["aioproducer._speedups"] = None
import pytest
sys.exit(pytest.main(["-p", "no:cacheprovider", "--co", "tests/unit/test_backoff.py", *{args!r}]))
"""


def _session(*args: str, hide: bool = False, pure: bool = False) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != "AIOPRODUCER_PURE_PYTHON"}
    if pure:
        env["AIOPRODUCER_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(hide=hide, args=list(args))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr


def test_a_compiled_session_without_the_extension_fails_at_its_start() -> None:
    for args in ((), ("--implementation=compiled",)):
        code, output = _session(*args, hide=True)
        assert code == pytest.ExitCode.USAGE_ERROR, output
        assert "--implementation=compiled, but the pure-Python path runs: " in output
        assert "or test the pure-Python path with --implementation=pure" in output


def test_a_pure_session_without_the_extension_is_allowed_when_asked_for() -> None:
    code, output = _session("--implementation=pure", hide=True)
    assert code == pytest.ExitCode.OK, output
    assert "aioproducer: pure Python (the C extension is not installed" in output


def test_the_environment_variable_makes_a_pure_session() -> None:
    code, output = _session(pure=True)
    assert code == pytest.ExitCode.OK, output
    assert "aioproducer: pure Python (AIOPRODUCER_PURE_PYTHON=1 is set); event loop: " in output
    code, output = _session("--implementation=compiled", pure=True)
    assert code == pytest.ExitCode.USAGE_ERROR, output
    assert "AIOPRODUCER_PURE_PYTHON=1 is set; unset it" in output


@pytest.mark.requires_extension
def test_a_pure_session_with_the_extension_loaded_says_how_to_get_pure() -> None:
    code, output = _session()
    assert code == pytest.ExitCode.OK, output
    assert "aioproducer: compiled (the C extension, " in output
    code, output = _session("--implementation=pure")
    assert code == pytest.ExitCode.USAGE_ERROR, output
    assert "set AIOPRODUCER_PURE_PYTHON=1 in the environment" in output
