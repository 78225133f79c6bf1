"""aiokafka: ``await send()`` per record with futures gathered, create_batch()/send_batch(),
and transactions of ``await send()`` per record (scenario 8)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.helpers import create_ssl_context

from benchmarks.clients._asyncio_common import drive, transactions
from benchmarks.workload import Outcome, Payloads, RunSpec

__all__ = ["run"]


def _options(spec: RunSpec) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": spec.bootstrap,
        "acks": "all" if spec.acks == "all" else int(spec.acks),
        **spec.tuning("linger_ms", "max_batch_size"),
        "compression_type": spec.compression,
        "enable_idempotence": spec.idempotent,
    }
    if spec.sasl_ssl is not None:
        options |= {
            "security_protocol": "SASL_SSL",
            "ssl_context": create_ssl_context(cafile=spec.sasl_ssl["cafile"]),
            "sasl_mechanism": spec.sasl_ssl["mechanism"],
            "sasl_plain_username": spec.sasl_ssl["username"],
            "sasl_plain_password": spec.sasl_ssl["password"],
        }
    return options


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
    options = _options(spec)
    if spec.transaction_records:
        options["transactional_id"] = spec.transactional_id
    producer = AIOKafkaProducer(**options)
    await producer.start()  # InitProducerId too, for a transactional producer
    try:
        await producer.partitions_for(topic)
        if name == "aiokafka-batch":
            return await _send_batches(producer, spec, payloads)
        send = producer.send

        def one(i: int) -> Any:
            return send(topic, value(i), key(i))

        if spec.transaction_records:
            return await transactions(spec, one, producer.transaction)
        return await drive(spec, one, direct=(send, payloads))
    finally:
        await producer.stop()


def run(name: str, spec: RunSpec) -> Outcome:
    return asyncio.run(_main(name, spec))
