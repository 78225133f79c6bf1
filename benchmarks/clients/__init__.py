"""One module per client library; each exposes ``run(name, spec) -> Outcome``.

Imports are lazy (see :func:`load`) so that a worker imports only the library it measures.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from benchmarks.workload import Outcome, RunSpec

__all__ = ["MODULES", "NO_KAFKA", "load"]

#: Client name -> module under ``benchmarks.clients``.
MODULES: dict[str, str] = {
    "aioproducer": "aioproducer_client",
    "aioproducer-bulk": "aioproducer_client",
    "aioproducer-tls": "aioproducer_client",
    "aioproducer-uniform": "aioproducer_client",
    "aiokafka": "aiokafka_client",
    "aiokafka-batch": "aiokafka_client",
    "aiokafka-tls": "aiokafka_client",
    "confluent-aio": "confluent_client",
    "confluent-sync": "confluent_client",
    "confluent-sync-batch": "confluent_client",
    "kafka-python": "kafka_python_client",
    "java": "java_client",
    "asyncio-floor": "floor_client",
}

#: Clients that send nothing to Kafka (their runs are not read back).
NO_KAFKA: frozenset[str] = frozenset({"asyncio-floor"})


def load(name: str) -> Callable[[str, RunSpec], Outcome]:
    """The ``run`` function of client ``name``."""
    if name not in MODULES:
        raise ValueError(f"unknown client {name!r}; known: {', '.join(MODULES)}")
    module = importlib.import_module(f"benchmarks.clients.{MODULES[name]}")
    run: Callable[[str, RunSpec], Outcome] = module.run
    return run
