"""aioproducer: ``await send()`` per record (futures gathered), and its bulk path;
``aioproducer-uniform`` is the first with adaptive partitioning off."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aioproducer import Producer
from benchmarks.clients._asyncio_common import drive
from benchmarks.workload import Outcome, Payloads, RunSpec

__all__ = ["run"]

#: Records handed to the bulk path per call.
BULK_CHUNK = 10_000


def _options(name: str, spec: RunSpec) -> dict[str, Any]:
    return {
        "partitioner_adaptive_partitioning_enable": name != "aioproducer-uniform",
        "bootstrap_servers": spec.bootstrap,
        "acks": "all" if spec.acks == "all" else int(spec.acks),
        **spec.tuning("linger_ms", "batch_size"),
        "compression_type": spec.compression,
        "enable_idempotence": spec.idempotent,
    }


async def _bulk(producer: Producer, spec: RunSpec, payloads: Payloads) -> Outcome:
    """``send_many`` in chunks: one future per chunk, resolving to every record's metadata."""
    key, value = payloads.key, payloads.value
    started = time.perf_counter()
    groups = []
    for first in range(0, spec.records, BULK_CHUNK):
        pairs = [(key(i), value(i)) for i in range(first, min(first + BULK_CHUNK, spec.records))]
        groups.append(await producer.send_many(spec.topic, pairs))
    acked = sum(len(results) for results in await asyncio.gather(*groups))
    return Outcome(acked=acked, seconds=time.perf_counter() - started)


async def _main(name: str, spec: RunSpec) -> Outcome:
    payloads = Payloads(spec)
    key, value, topic = payloads.key, payloads.value, spec.topic
    async with Producer(**_options(name, spec)) as producer:
        await producer.partitions_for(topic)  # metadata before the clock starts
        if name == "aioproducer-bulk":
            return await _bulk(producer, spec, payloads)
        send = producer.send

        def one(i: int) -> Any:
            return send(topic, value(i), key(i))

        return await drive(spec, one)


def run(name: str, spec: RunSpec) -> Outcome:
    return asyncio.run(_main(name, spec))
