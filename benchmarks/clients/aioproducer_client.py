"""aioproducer: ``await send()`` per record (futures gathered), its bulk path, and
transactions of ``await send()`` per record (scenario 8); ``aioproducer-uniform`` is the
first with adaptive partitioning off (scenario 7)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aioproducer import Producer
from benchmarks.clients._asyncio_common import drive, transactions, with_loop_lag
from benchmarks.workload import Outcome, Payloads, RunSpec

__all__ = ["run"]

#: Records handed to the bulk path per call.
BULK_CHUNK = 10_000


def _options(name: str, spec: RunSpec) -> dict[str, Any]:
    options: dict[str, Any] = {
        "partitioner_adaptive_partitioning_enable": name != "aioproducer-uniform",
        "bootstrap_servers": spec.bootstrap,
        "acks": "all" if spec.acks == "all" else int(spec.acks),
        **spec.tuning("linger_ms", "batch_size"),
        "compression_type": spec.compression,
        "enable_idempotence": spec.idempotent,
    }
    if spec.sasl_ssl is not None:
        options |= {
            "security_protocol": "SASL_SSL",
            "ssl_cafile": spec.sasl_ssl["cafile"],
            "sasl_mechanism": spec.sasl_ssl["mechanism"],
            "sasl_username": spec.sasl_ssl["username"],
            "sasl_password": spec.sasl_ssl["password"],
        }
    return options


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
    options = _options(name, spec)
    if spec.transaction_records:
        options["transactional_id"] = spec.transactional_id
    async with Producer(**options) as producer:
        await producer.partitions_for(topic)  # metadata before the clock starts
        if name == "aioproducer-bulk":
            return await with_loop_lag(_bulk(producer, spec, payloads))
        send = producer.send

        def one(i: int) -> Any:
            return send(topic, value(i), key(i))

        if spec.transaction_records:
            return await transactions(spec, one, producer.transaction)
        return await drive(spec, one, direct=(send, payloads))


def run(name: str, spec: RunSpec) -> Outcome:
    return asyncio.run(_main(name, spec))
