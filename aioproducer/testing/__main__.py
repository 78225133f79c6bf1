"""Command line: ``python -m aioproducer.testing [--checkout DIR] up|status|down``.

Each checkout has its own cluster (:mod:`aioproducer.testing.state`): ``up`` starts it or
reuses the one running, ``down`` stops it, and neither touches another checkout's. ``up``
prints only the bootstrap string on stdout; which broker it started or reused goes to stderr.
``up --security`` starts a broker with TLS and SASL listeners too
(:mod:`aioproducer.testing.security`) and lists them, the certificate files and the users on
stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from aioproducer.testing.cluster import LocalKafkaCluster
from aioproducer.testing.jars import HarnessError
from aioproducer.testing.security import LISTENERS, secure_cluster, secure_setup
from aioproducer.testing.state import (
    ClusterState,
    describe,
    find_checkout,
    legacy_state_file,
    load_state,
    locked,
    save_state,
    state_file,
)
from aioproducer.testing.versions import KAFKA_VERSION


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _own_state(path: Path, checkout: Path) -> ClusterState | None:
    """``path``'s state, refusing one that records another checkout's cluster."""
    state = load_state(path)
    if state is not None and state.checkout != checkout:
        raise HarnessError(
            f"{path} records the cluster of checkout {state.checkout}, not of {checkout};"
            " leaving it alone"
        )
    return state


def _note_legacy() -> None:
    """Say so when a broker recorded machine-wide by an earlier version still runs."""
    path = legacy_state_file()
    with contextlib.suppress(HarnessError):
        state = load_state(path)
        if state is not None and state.running():
            _say(
                f"note: the broker {describe(state.cluster)}, recorded in {path} by an earlier"
                " aioproducer, still runs; these commands leave it alone"
            )


def _exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _start(
    path: Path, checkout: Path, brokers: int, config: dict[str, str], security: bool
) -> LocalKafkaCluster:
    """Start a detached cluster in a fresh directory beside ``path`` and record it there;
    interrupted (Ctrl-C, SIGTERM, SIGHUP) before that, stop it: nothing would know of it."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _exit)
    workdir = Path(tempfile.mkdtemp(prefix=f"{path.stem}-", dir=path.parent))
    if security:
        cluster = secure_cluster(workdir, die_with_parent=False)
    else:
        cluster = LocalKafkaCluster(
            brokers, broker_config=config, workdir=workdir, die_with_parent=False
        )
    try:
        cluster.start()
        save_state(path, cluster, checkout)
    except BaseException:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    cluster.detach()
    return cluster


def _up(checkout: Path, brokers: int, config: dict[str, str], security: bool) -> int:
    path = state_file(checkout)
    with locked(path):
        state = _own_state(path, checkout)
        if state is not None:
            old = state.cluster
            if state.running():
                # a secure broker's settings are its own (certificate paths), not the user's
                settings = {} if old.listeners else old.broker_config
                wanted = (brokers, config, KAFKA_VERSION, security)
                if (len(old.nodes), settings, old.version, bool(old.listeners)) == wanted:
                    _say(f"reusing the broker {describe(old)} of checkout {checkout}")
                    _say_security(old)
                    print(old.bootstrap_servers)
                    return 0
                _say(f"stopping the broker {describe(old)} of checkout {checkout}: other options")
            old.stop()
            path.unlink()
        _note_legacy()
        cluster = _start(path, checkout, brokers, config, security)
    _say(f"started a new broker {describe(cluster)} for checkout {checkout}")
    _say_security(cluster)
    print(cluster.bootstrap_servers)
    return 0


def _say_security(cluster: LocalKafkaCluster) -> None:
    if cluster.listeners:
        _say(secure_setup(cluster).describe())


def _status(checkout: Path) -> int:
    path = state_file(checkout)
    state = _own_state(path, checkout)
    _note_legacy()
    if state is None or not state.running():
        print(f"no cluster running for checkout {checkout}")
        return 1
    print(f"the cluster of checkout {checkout} (state {path}):")
    for node in state.cluster.nodes:
        print(f"node {node.node_id}: {node.address} pid {node.pid}")
    print(state.cluster.bootstrap_servers)
    return 0


def _down(checkout: Path) -> int:
    path = state_file(checkout)
    with locked(path):
        state = _own_state(path, checkout)
        if state is None:
            print(f"no cluster running for checkout {checkout}")
        else:
            what, was_running = describe(state.cluster), state.running()
            state.cluster.stop()
            path.unlink()
            verb = "stopped" if was_running else "forgot the exited"
            print(f"{verb} broker {what} of checkout {checkout}")
    _note_legacy()
    return 0


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return int(text)


def _setting(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not key or not equals:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aioproducer.testing")
    parser.add_argument(
        "--checkout",
        type=Path,
        help="act for the checkout holding this directory (default: the working directory's)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start this checkout's cluster (or reuse the running one)")
    up.add_argument("--brokers", type=_count, default=1)
    up.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a broker setting, repeatable",
    )
    up.add_argument(
        "--security",
        action="store_true",
        help="one broker with " + ", ".join(LISTENERS) + " listeners beside PLAINTEXT",
    )
    sub.add_parser("status", help="show this checkout's running cluster")
    sub.add_parser("down", help="stop this checkout's cluster")
    args = parser.parse_args(argv)
    checkout = find_checkout(args.checkout)
    try:
        if args.command == "up":
            if args.security and (args.brokers != 1 or args.set):
                parser.error("--security starts one broker and takes no --set")
            return _up(checkout, args.brokers, dict(args.set), args.security)
        if args.command == "status":
            return _status(checkout)
        return _down(checkout)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
