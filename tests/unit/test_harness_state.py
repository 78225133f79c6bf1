"""``python -m aioproducer.testing``'s state: one file per checkout, no broker needed.

Stand-in "brokers" are sleeping Python processes whose arguments name their node's
``server.properties``, as a Kafka JVM's do.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from aioproducer.testing import __main__ as cli
from aioproducer.testing.jars import HarnessError
from aioproducer.testing.state import find_checkout, load_state, state_file
from aioproducer.testing.versions import KAFKA_VERSION

Spawn = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("AIOPRODUCER_CACHE", str(root))
    return root


def _checkout(parent: Path, name: str) -> Path:
    directory = parent / name
    directory.mkdir(parents=True)
    (directory / "pyproject.toml").write_text("")
    return directory.resolve()


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start sleeping processes (killed at the end) with the given extra arguments."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*arguments: str) -> subprocess.Popen[bytes]:
        code = "import time; time.sleep(120)"
        started.append(subprocess.Popen([sys.executable, "-c", code, *arguments]))
        # Right after exec, /proc/PID/cmdline reads empty for a moment.
        cmdline = Path(f"/proc/{started[-1].pid}/cmdline")
        deadline = time.monotonic() + 10
        while not cmdline.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.001)
        return started[-1]

    yield start
    for process in started:
        process.kill()
        process.wait()


def _record(path: Path, pid: int, workdir: Path, checkout: Path | None, port: int = 1) -> None:
    """Write a state file the way ``up`` does (``checkout=None``: the old machine-wide one)."""
    node = workdir / "node-1"
    node.mkdir(parents=True, exist_ok=True)
    data: dict[str, object] = {
        "version": KAFKA_VERSION,
        "workdir": str(workdir),
        "bootstrap_servers": f"127.0.0.1:{port}",
        "nodes": [
            {"node_id": 1, "port": port, "controller_port": 2, "pid": pid, "directory": str(node)}
        ],
    }
    if checkout is not None:
        data |= {"checkout": str(checkout), "broker_config": {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _recorded_broker(
    spawn: Spawn, state: Path, workdir: Path, checkout: Path | None, port: int = 1
) -> subprocess.Popen[bytes]:
    """A stand-in broker for node 1 in ``workdir``, recorded in the state file ``state``."""
    broker = spawn(str(workdir / "node-1" / "server.properties"))
    _record(state, broker.pid, workdir, checkout, port)
    return broker


@pytest.fixture
def app(tmp_path: Path, cache: Path) -> Path:
    return _checkout(tmp_path, "app")


@pytest.fixture
def app_broker(tmp_path: Path, app: Path, spawn: Spawn) -> subprocess.Popen[bytes]:
    """The running stand-in broker of the checkout ``app``, on port 9."""
    return _recorded_broker(spawn, state_file(app), tmp_path / "work", app, port=9)


def test_checkout_is_the_nearest_marked_directory(tmp_path: Path) -> None:
    outer = _checkout(tmp_path, "outer")
    inner = outer / "src" / "deep"
    inner.mkdir(parents=True)
    worktree = tmp_path / "worktree"
    worktree.mkdir()
    (worktree / ".git").write_text("gitdir: elsewhere\n")  # a git worktree's .git is a file
    assert find_checkout(inner) == outer
    assert find_checkout(worktree / ".") == worktree.resolve()


def test_checkout_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = _checkout(tmp_path, "outer")
    (outer / "sub").mkdir()
    monkeypatch.chdir(outer / "sub")
    assert find_checkout() == outer
    plain = tmp_path / "plain"
    plain.mkdir()
    marked = [d for d in plain.resolve().parents if (d / ".git").exists()]
    marked += [d for d in plain.resolve().parents if (d / "pyproject.toml").exists()]
    if marked:
        pytest.skip(f"the temporary directory lies inside a checkout: {marked[0]}")
    assert find_checkout(plain) == plain.resolve()


def test_two_checkouts_have_two_state_files(tmp_path: Path, cache: Path) -> None:
    first = _checkout(tmp_path / "x", "app")
    second = _checkout(tmp_path / "y", "app")  # same name, other place
    assert state_file(first) != state_file(second)
    assert state_file(first) == state_file(first / "src" / "..")
    for path in (state_file(first), state_file(second)):
        assert path.parent == cache / "clusters"
        assert path.name.startswith("app-")
        assert path.suffix == ".json"


def test_cache_defaults_to_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIOPRODUCER_CACHE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    checkout = _checkout(tmp_path, "app")
    assert state_file(checkout).parent == tmp_path / "home" / ".cache/aioproducer/clusters"


def test_unreadable_state_is_an_error(tmp_path: Path, cache: Path) -> None:
    path = state_file(_checkout(tmp_path, "app"))
    assert load_state(path) is None
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(HarnessError, match="unreadable state file"):
        load_state(path)


def test_up_reuses_this_checkouts_broker_and_says_so(
    app: Path,
    app_broker: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "_start", lambda *_: pytest.fail("started a cluster"))
    monkeypatch.chdir(app)
    assert cli.main(["up"]) == 0
    out, err = capsys.readouterr()
    assert out == "127.0.0.1:9\n"  # the Makefile captures stdout whole
    assert f"reusing the broker 127.0.0.1:9 (pid {app_broker.pid}) of checkout {app}" in err


def test_up_with_other_options_replaces_this_checkouts_broker(
    app: Path,
    app_broker: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def start(*_: object) -> None:
        raise HarnessError("no Java here")

    monkeypatch.setattr(cli, "_start", start)
    assert cli.main(["--checkout", str(app), "up", "--set", "log.retention.ms=1000"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert f"stopping the broker 127.0.0.1:9 (pid {app_broker.pid}) of checkout {app}" in err
    assert err.endswith("error: no Java here\n")
    assert app_broker.wait(10) == -15
    assert not state_file(app).exists()


def test_status_and_down_act_on_this_checkout_only(
    tmp_path: Path, cache: Path, spawn: Spawn, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second, third = (_checkout(tmp_path, n) for n in ("first", "second", "third"))
    brokers = {
        checkout: _recorded_broker(
            spawn, state_file(checkout), tmp_path / f"work-{checkout.name}", checkout
        )
        for checkout in (first, second)
    }
    legacy = _recorded_broker(spawn, cache / "cluster.json", tmp_path / "work-legacy", None)

    assert cli.main(["--checkout", str(third), "status"]) == 1
    out, err = capsys.readouterr()
    assert out == f"no cluster running for checkout {third}\n"
    assert f"(pid {legacy.pid}), recorded in {cache / 'cluster.json'}" in err
    assert cli.main(["--checkout", str(third), "down"]) == 0
    assert cli.main(["--checkout", str(first / "."), "status"]) == 0
    out, _ = capsys.readouterr()
    assert f"checkout {first} " in out
    assert f"pid {brokers[first].pid}" in out

    assert cli.main(["--checkout", str(first), "down"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"stopped broker 127.0.0.1:1 (pid {brokers[first].pid}) of checkout {first}\n"
    assert brokers[first].wait(10) == -15  # SIGTERM
    assert not state_file(first).exists()
    assert not (tmp_path / "work-first").exists()
    assert brokers[second].poll() is None
    assert legacy.poll() is None
    assert state_file(second).exists()
    assert (cache / "cluster.json").exists()


def test_a_reused_pid_is_not_taken_for_the_broker(
    tmp_path: Path, app: Path, spawn: Spawn, capsys: pytest.CaptureFixture[str]
) -> None:
    stranger = spawn()  # alive, but not started with this node's server.properties
    _record(state_file(app), stranger.pid, tmp_path / "work", app)
    assert cli.main(["--checkout", str(app), "status"]) == 1
    assert cli.main(["--checkout", str(app), "down"]) == 0
    out, _ = capsys.readouterr()
    assert f"forgot the exited broker 127.0.0.1:1 (pid {stranger.pid})" in out
    assert stranger.poll() is None
    assert not state_file(app).exists()


def test_a_state_file_naming_another_checkout_is_left_alone(
    tmp_path: Path, cache: Path, spawn: Spawn, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, theirs = _checkout(tmp_path, "mine"), _checkout(tmp_path, "theirs")
    broker = _recorded_broker(spawn, state_file(mine), tmp_path / "work", theirs)
    for command in ("up", "status", "down"):
        assert cli.main(["--checkout", str(mine), command]) == 2
        assert f"records the cluster of checkout {theirs}" in capsys.readouterr().err
    assert broker.poll() is None
    assert state_file(mine).exists()
