"""Command line: ``python -m aioproducer.testing up|status|down``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aioproducer.testing.cluster import LocalKafkaCluster
from aioproducer.testing.jars import HarnessError, cache_root


def _state_file() -> Path:
    return cache_root() / "cluster.json"


def _running() -> LocalKafkaCluster | None:
    path = _state_file()
    if not path.exists():
        return None
    cluster = LocalKafkaCluster.load(path)
    if all(node.running() for node in cluster.nodes):
        return cluster
    return None


def _up(brokers: int, settings: list[str]) -> int:
    cluster = _running()
    if cluster is not None and len(cluster.nodes) == brokers:
        print(cluster.bootstrap_servers)
        return 0
    if cluster is not None:
        cluster.stop()
    config = dict(item.split("=", 1) for item in settings)
    workdir = cache_root() / "run"
    if workdir.exists():
        import shutil  # noqa: PLC0415

        shutil.rmtree(workdir)
    cluster = LocalKafkaCluster(
        brokers, broker_config=config, workdir=workdir, die_with_parent=False
    )
    try:
        cluster.start()
    except HarnessError:
        cluster.stop()
        raise
    cluster.detach()
    cluster.save(_state_file())
    print(cluster.bootstrap_servers)
    return 0


def _status() -> int:
    cluster = _running()
    if cluster is None:
        print("no cluster running")
        return 1
    for node in cluster.nodes:
        print(f"node {node.node_id}: {node.address} pid {node.pid}")
    print(cluster.bootstrap_servers)
    return 0


def _down() -> int:
    path = _state_file()
    if path.exists():
        LocalKafkaCluster.load(path).stop()
        path.unlink()
        print("stopped")
    else:
        print("no cluster running")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aioproducer.testing")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start a local cluster (or reuse the running one)")
    up.add_argument("--brokers", type=int, default=1)
    up.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a broker setting, repeatable",
    )
    sub.add_parser("status", help="show the running cluster")
    sub.add_parser("down", help="stop the running cluster")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return _up(args.brokers, args.set)
        if args.command == "status":
            return _status()
        return _down()
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
