"""Real Apache Kafka for tests: brokers from Maven Central jars, pytest fixtures, a CLI.

``python -m aioproducer.testing up [--brokers 3]`` starts the checkout's cluster in the
background (or reuses it) and prints its bootstrap string; ``status`` and ``down`` inspect
and stop it (:mod:`aioproducer.testing.state`). :class:`FakeBroker` is a scripted fake
cluster on 127.0.0.1 for millisecond tests, in addition to those against real Kafka.

Names are imported on first use, so that loading the pytest plugin (a submodule) brings in
only what it needs: the local cluster's modules are POSIX-only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aioproducer.testing.admin import AdminClient, PartitionState
    from aioproducer.testing.cluster import BrokerNode, LocalKafkaCluster, free_port
    from aioproducer.testing.fake_broker import FakeBroker
    from aioproducer.testing.jars import HarnessError, cache_root, kafka_libs
    from aioproducer.testing.versions import KAFKA_VERSION

__all__ = [
    "KAFKA_VERSION",
    "AdminClient",
    "BrokerNode",
    "FakeBroker",
    "HarnessError",
    "LocalKafkaCluster",
    "PartitionState",
    "cache_root",
    "free_port",
    "kafka_libs",
]

_HOMES = {
    "KAFKA_VERSION": "versions",
    "AdminClient": "admin",
    "PartitionState": "admin",
    "BrokerNode": "cluster",
    "LocalKafkaCluster": "cluster",
    "free_port": "cluster",
    "FakeBroker": "fake_broker",
    "HarnessError": "jars",
    "cache_root": "jars",
    "kafka_libs": "jars",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
