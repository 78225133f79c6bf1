"""kafka-python's KafkaProducer (a background I/O thread; send() returns a future).

Scenario 4 is adapted as for the synchronous librdkafka producer: a window of
``concurrency`` records outstanding at a time.
"""

from __future__ import annotations

import collections
import time
import warnings
from typing import Any

from benchmarks.workload import (
    LATENCY_SAMPLE_EVERY,
    LatencyRecorder,
    Outcome,
    Payloads,
    RunSpec,
    pace_sync,
)

__all__ = ["run"]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaProducer


def run(name: str, spec: RunSpec) -> Outcome:
    del name
    payloads = Payloads(spec)
    key, value, topic = payloads.key, payloads.value, spec.topic
    producer = KafkaProducer(
        bootstrap_servers=spec.bootstrap,
        acks="all" if spec.acks == "all" else int(spec.acks),
        **spec.tuning("linger_ms", "batch_size"),
        compression_type=spec.compression,
        enable_idempotence=spec.idempotent,
    )
    try:
        producer.partitions_for(topic)  # metadata before the clock starts
        send = producer.send
        note = ""
        latencies: list[float] | None = None
        started = time.perf_counter()
        recorder = LatencyRecorder(spec.records)

        def timed(i: int) -> Any:
            t0 = time.perf_counter()
            future = send(topic, value(i), key(i))
            future.add_both(lambda _r: recorder.done(t0))
            return future

        if spec.rate:
            futures: list[Any] = []
            pace_sync(spec.records, spec.rate, lambda i: futures.append(timed(i)), time.sleep)
            producer.flush()
            for future in futures:
                future.get()
            latencies = recorder.samples
        elif spec.concurrency:
            window: collections.deque[Any] = collections.deque()
            for i in range(spec.records):
                if len(window) >= spec.concurrency:
                    window.popleft().get()
                window.append(send(topic, value(i), key(i)))
            for future in window:
                future.get()
            note = f"adapted: a window of {spec.concurrency} records outstanding"
        elif spec.ack_latency:
            futures = [
                send(topic, value(i), key(i)) if i % LATENCY_SAMPLE_EVERY else timed(i)
                for i in range(spec.records)
            ]
            producer.flush()
            for future in futures:
                future.get()
            latencies = recorder.samples
        else:
            futures = [send(topic, value(i), key(i)) for i in range(spec.records)]
            producer.flush()
            for future in futures:
                future.get()
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    return Outcome(acked=spec.records, seconds=seconds, latencies_ms=latencies, note=note)
