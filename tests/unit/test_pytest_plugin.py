"""The pytest plugin loads with pytest alone, and a path whose extra is missing names it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aioproducer.testing import pytest_plugin, readback
from aioproducer.testing.jars import HarnessError

# The testing extra's modules, and the POSIX-only ones the local cluster needs (Windows).
OPTIONAL = ("testcontainers", "docker", "confluent_kafka", "fcntl", "resource")


def test_plugin_loads_without_optional_or_posix_only_modules() -> None:
    code = (
        "import sys\n"
        f"for name in {OPTIONAL!r}: sys.modules[name] = None  # as if not installed\n"
        "import aioproducer.testing.pytest_plugin\n"
        f"print(sorted(n for n in {OPTIONAL!r} if sys.modules[n] is not None))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parent,  # not the checkout: the package imported is the one installed
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == "[]\n"


def test_docker_path_without_the_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.delenv("AIOPRODUCER_NO_DOCKER", raising=False)
    monkeypatch.setitem(sys.modules, "testcontainers.kafka", None)
    with pytest.raises(HarnessError) as raised:
        pytest_plugin._use_docker()
    message = str(raised.value)
    assert "pip install 'aioproducer[testing]'" in message
    assert "AIOPRODUCER_NO_DOCKER=1" in message
    assert isinstance(raised.value.__cause__, ImportError)


def test_docker_path_turned_off_imports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("AIOPRODUCER_NO_DOCKER", "1")
    monkeypatch.setitem(sys.modules, "testcontainers.kafka", None)
    assert pytest_plugin._use_docker() is False


def test_readback_without_the_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    hint = r"confluent_kafka.*pip install 'aioproducer\[testing\]'"
    with pytest.raises(HarnessError, match=hint):
        readback.consume_all("127.0.0.1:1", "topic", 1)
