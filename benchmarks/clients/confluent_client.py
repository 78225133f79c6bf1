"""confluent-kafka (librdkafka): the asyncio AIOProducer, and the synchronous Producer (in
scenario 8 a transactional one: begin_transaction, produce, commit_transaction).

The synchronous producer has no tasks to run concurrently, so scenario 4 is adapted to it:
a window of ``concurrency`` records outstanding at a time, which is what 1,000 tasks each
awaiting one record amount to on the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from confluent_kafka import Producer
from confluent_kafka.aio import AIOProducer

from benchmarks.clients._asyncio_common import drive
from benchmarks.workload import LatencyRecorder, Outcome, Payloads, RunSpec, pace_sync

__all__ = ["run"]

#: The synchronous producer serves delivery callbacks every this many produce() calls.
POLL_EVERY = 1000
#: Records per produce_batch() call.
BATCH_CHUNK = 1000
#: Keep librdkafka's queue (100,000 messages by default) below this.
QUEUE_LIMIT = 90_000


def _conf(spec: RunSpec) -> dict[str, Any]:
    return {
        "bootstrap.servers": spec.bootstrap,
        "acks": spec.acks,
        **spec.tuning("linger.ms", "batch.size"),
        "compression.type": spec.compression or "none",
        "enable.idempotence": spec.idempotent,
    }


class _Deliveries:
    """Counts acknowledgements and keeps the first error; with ``latencies``, also each
    record's produce->ack time in ms (librdkafka's own, ``Message.latency()``)."""

    def __init__(self, latencies: bool = False) -> None:
        self.acked = 0
        self.outstanding = 0
        self.error: object = None
        self.latencies: list[float] | None = [] if latencies else None

    def __call__(self, err: object, msg: Any) -> None:
        self.outstanding -= 1
        if err is not None:
            if self.error is None:
                self.error = err
        else:
            self.acked += 1
            if self.latencies is not None:
                self.latencies.append(msg.latency() * 1000.0)

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"delivery failed: {self.error}")


def _produce(producer: Any, topic: str, value: bytes, key: bytes | None, cb: Any) -> None:
    while True:
        try:
            producer.produce(topic, value, key, on_delivery=cb)
        except BufferError:
            producer.poll(0.05)
        else:
            return


def _produce_range(
    producer: Any, records: range, payloads: Payloads, topic: str, deliveries: _Deliveries | None
) -> None:
    """``produce()`` records ``records``, serving callbacks every POLL_EVERY records
    (``deliveries`` None: no delivery callback, scenario 11)."""
    key, value, produce, poll = payloads.key, payloads.value, producer.produce, producer.poll
    for i in records:
        try:
            produce(topic, value(i), key(i), on_delivery=deliveries)
        except BufferError:
            _produce(producer, topic, value(i), key(i), deliveries)
        if i % POLL_EVERY == 0:
            poll(0)


def _sync(name: str, spec: RunSpec) -> Outcome:
    payloads = Payloads(spec)
    key, value, topic = payloads.key, payloads.value, spec.topic
    producer = Producer(_conf(spec))
    producer.list_topics(topic, timeout=10)  # metadata before the clock starts
    # send->ack per record in the plain throughput loop only (the others time it themselves)
    plain = name == "confluent-sync" and not spec.rate and not spec.concurrency
    deliveries = _Deliveries(latencies=spec.ack_latency and plain)
    poll = producer.poll
    started = time.perf_counter()
    if name == "confluent-sync-batch":
        for first in range(0, spec.records, BATCH_CHUNK):
            while len(producer) > QUEUE_LIMIT:
                poll(0.05)
            last = min(first + BATCH_CHUNK, spec.records)
            messages: list[dict[str, Any]] = [
                {"key": key(i), "value": value(i)} for i in range(first, last)
            ]
            producer.produce_batch(topic, messages, on_delivery=deliveries)
            failed = [m["_error"] for m in messages if "_error" in m]
            if failed:
                raise RuntimeError(f"produce_batch failed {len(failed)} records: {failed[0]}")
            poll(0)
    elif spec.rate:
        recorder = LatencyRecorder(spec.records)

        def one(i: int) -> None:
            t0 = time.perf_counter()

            def done(err: object, msg: object) -> None:
                deliveries(err, msg)
                recorder.done(t0)

            _produce(producer, topic, value(i), key(i), done)

        pace_sync(spec.records, spec.rate, one, poll)
    elif spec.concurrency:
        for i in range(spec.records):
            while deliveries.outstanding >= spec.concurrency:
                poll(0.1)
            deliveries.outstanding += 1
            _produce(producer, topic, value(i), key(i), deliveries)
            poll(0)
    else:
        _produce_range(producer, range(spec.records), payloads, topic, deliveries)
    remaining = producer.flush(120)
    seconds = time.perf_counter() - started
    deliveries.check()
    if remaining:
        raise RuntimeError(f"{remaining} records still queued after flush(120)")
    outcome = Outcome(acked=deliveries.acked, seconds=seconds, latencies_ms=deliveries.latencies)
    if spec.rate:
        outcome.latencies_ms = recorder.samples
    if spec.concurrency:
        outcome.note = f"adapted: a window of {spec.concurrency} records outstanding"
    return outcome


async def _aio(spec: RunSpec) -> Outcome:
    payloads = Payloads(spec)
    key, value, topic = payloads.key, payloads.value, spec.topic
    # AIOProducer buffers `batch_size` records in Python before handing them to librdkafka
    # (or after buffer_timeout = 1 s); for the latency run that buffer would be the latency.
    producer = AIOProducer(_conf(spec), batch_size=1 if spec.rate else 1000)
    note = (
        "AIOProducer(batch_size=1) so its Python-side buffer adds no latency" if spec.rate else ""
    )
    stop = asyncio.Event()

    async def poller() -> None:
        # Delivery reports reach the futures only through poll()/flush().
        while not stop.is_set():
            await producer.poll(0.05)

    try:
        await producer.list_topics(topic, timeout=10)
        produce = producer.produce
        awaits_each = bool(spec.rate or spec.concurrency)
        poll_task = asyncio.create_task(poller()) if awaits_each else None

        def one(i: int) -> Any:
            return produce(topic, value(i), key(i))

        try:
            outcome = await drive(
                spec, one, before_gather=producer.flush, direct=(produce, payloads)
            )
        finally:
            stop.set()
            if poll_task is not None:
                with contextlib.suppress(Exception):
                    await poll_task
        outcome.note = note
        return outcome
    finally:
        await producer.close()


def _transactions(spec: RunSpec) -> Outcome:
    """``init_transactions()`` before the clock; then per transaction ``begin_transaction()``,
    ``produce()`` each record and ``commit_transaction()`` (which flushes first)."""
    payloads = Payloads(spec)
    producer = Producer(_conf(spec) | {"transactional.id": spec.transactional_id})
    producer.list_topics(spec.topic, timeout=10)
    producer.init_transactions(30)
    deliveries = _Deliveries()
    started = time.perf_counter()
    acked = 0
    for records in spec.transactions():
        producer.begin_transaction()
        _produce_range(
            producer, records, payloads, spec.topic, deliveries if spec.record_waits else None
        )
        if not spec.record_waits:  # a commit that returned delivered every record of it
            acked += len(records)
        producer.commit_transaction(60)
    seconds = time.perf_counter() - started
    deliveries.check()
    return Outcome(
        acked=deliveries.acked + acked,
        seconds=seconds,
        note="transactional Producer: begin_transaction(), produce()"
        + ("" if spec.record_waits else " without a delivery callback")
        + ", commit_transaction()",
    )


def run(name: str, spec: RunSpec) -> Outcome:
    if spec.transaction_records:
        if name != "confluent-sync":
            raise ValueError(f"{name} has no transactional form here; confluent-sync has")
        return _transactions(spec)
    if name == "confluent-aio":
        return asyncio.run(_aio(spec))
    return _sync(name, spec)
