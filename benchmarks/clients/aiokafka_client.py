"""aiokafka: ``await send()`` per record with futures gathered, and create_batch()/send_batch()."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from benchmarks.clients._asyncio_common import drive
from benchmarks.workload import Outcome, Payloads, RunSpec

__all__ = ["run"]


def _options(spec: RunSpec) -> dict[str, Any]:
    return {
        "bootstrap_servers": spec.bootstrap,
        "acks": "all" if spec.acks == "all" else int(spec.acks),
        **spec.tuning("linger_ms", "max_batch_size"),
        "compression_type": spec.compression,
        "enable_idempotence": spec.idempotent,
    }


async def _send_batches(producer: Any, spec: RunSpec, payloads: Payloads) -> Outcome:
    """Fill a batch per partition in turn (round robin) and hand each to send_batch()."""
    partitions = sorted(await producer.partitions_for(spec.topic))
    key, value, topic = payloads.key, payloads.value, spec.topic
    futures: list[asyncio.Future[Any]] = []
    started = time.perf_counter()
    batch = producer.create_batch()
    turn = 0
    for i in range(spec.records):
        if batch.append(key=key(i), value=value(i), timestamp=None) is None:
            futures.append(await producer.send_batch(batch, topic, partition=partitions[turn]))
            turn = (turn + 1) % len(partitions)
            batch = producer.create_batch()
            batch.append(key=key(i), value=value(i), timestamp=None)
    if batch.record_count():
        futures.append(await producer.send_batch(batch, topic, partition=partitions[turn]))
    await asyncio.gather(*futures)
    return Outcome(acked=spec.records, seconds=time.perf_counter() - started)


async def _main(name: str, spec: RunSpec) -> Outcome:
    payloads = Payloads(spec)
    key, value, topic = payloads.key, payloads.value, spec.topic
    producer = AIOKafkaProducer(**_options(spec))
    await producer.start()
    try:
        await producer.partitions_for(topic)
        if name == "aiokafka-batch":
            return await _send_batches(producer, spec, payloads)
        send = producer.send

        def one(i: int) -> Any:
            return send(topic, value(i), key(i))

        return await drive(spec, one)
    finally:
        await producer.stop()


def run(name: str, spec: RunSpec) -> Outcome:
    return asyncio.run(_main(name, spec))
