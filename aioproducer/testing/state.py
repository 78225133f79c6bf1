"""Where ``python -m aioproducer.testing`` records the cluster it left running: one file per
checkout, so one checkout's ``down`` never stops another checkout's broker.

A checkout is the nearest directory at or above the working directory that holds ``.git``
or ``pyproject.toml`` (else the working directory itself). Its state file is
``<cache>/clusters/<directory name>-<hash of its path>.json``, where ``<cache>`` is
``$AIOPRODUCER_CACHE`` or ``~/.cache/aioproducer`` (the Maven jars stay shared there); the
file names the checkout beside the cluster's nodes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aioproducer.testing.cluster import LocalKafkaCluster
from aioproducer.testing.jars import HarnessError, cache_root

__all__ = [
    "ClusterState",
    "describe",
    "find_checkout",
    "legacy_state_file",
    "load_state",
    "locked",
    "save_state",
    "state_file",
]


@dataclass(frozen=True)
class ClusterState:
    """A state file's content: the cluster and the checkout that started it."""

    checkout: Path
    cluster: LocalKafkaCluster

    def running(self) -> bool:
        """True when every node of the cluster still runs."""
        return all(node.running() for node in self.cluster.nodes)


def find_checkout(start: Path | None = None) -> Path:
    """The checkout ``start`` (default: the working directory) belongs to, resolved."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / ".git").exists() or (directory / "pyproject.toml").exists():
            return directory
    return here


def state_file(checkout: Path) -> Path:
    """The state file of ``checkout``'s cluster (it need not exist)."""
    checkout = checkout.resolve()
    digest = hashlib.sha256(os.fsencode(checkout)).hexdigest()[:12]
    return cache_root() / "clusters" / f"{checkout.name or 'root'}-{digest}.json"


def legacy_state_file() -> Path:
    """The one state file for the whole machine that earlier versions kept (now ignored)."""
    return cache_root() / "cluster.json"


def load_state(path: Path) -> ClusterState | None:
    """The state recorded in ``path``; None when there is no such file."""
    try:
        data = json.loads(path.read_text())
        checkout = Path(data.get("checkout", "(unknown)"))
        return ClusterState(checkout, LocalKafkaCluster.load(path))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise HarnessError(f"unreadable state file {path}: {exc!r}") from exc


def save_state(path: Path, cluster: LocalKafkaCluster, checkout: Path) -> None:
    """Record ``cluster`` as ``checkout``'s, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(json.dumps({"checkout": str(checkout), **cluster.describe()}, indent=2))
    staging.replace(path)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s state (two ``up`` at once start one cluster)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.with_name(path.name + ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def describe(cluster: LocalKafkaCluster) -> str:
    """``127.0.0.1:9092 (pid 42)``: the addresses and process ids of a cluster's nodes."""
    pids = ", ".join(str(node.pid) for node in cluster.nodes)
    return f"{cluster.bootstrap_servers} (pid{'s' if len(cluster.nodes) > 1 else ''} {pids})"
