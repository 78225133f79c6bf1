"""The main job: produce a stream with aioproducer, then read it back with another client.

``python -m benchmarks.demo --bootstrap 127.0.0.1:9092 [--records 200000] [--size 100]``
prints a progress bar, then throughput, latency percentiles and the read-back count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from collections.abc import Callable

from tqdm import tqdm

from aioproducer import Producer, RecordMetadata
from aioproducer.testing import AdminClient
from aioproducer.testing.readback import count_records


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1)))
    return sorted_values[index]


async def produce(
    bootstrap: str, topic: str, records: int, size: int
) -> tuple[list[float], dict[str, float]]:
    """Send ``records`` values of ``size`` bytes with 8-byte keys; return latencies in ms
    and the producer's ``metrics()`` at the end.

    Latency is per record, from the call to ``send()`` to the resolution of its future.
    """
    latencies: list[float] = []
    payload = os.urandom(size)
    clock = time.perf_counter
    window = 20_000  # records in flight at once, as a service with bounded concurrency

    def done(sent_at: float) -> Callable[[asyncio.Future[RecordMetadata]], None]:
        return lambda _: latencies.append((clock() - sent_at) * 1000)

    async with Producer(bootstrap_servers=bootstrap, acks=1, linger_ms=5) as producer:
        with tqdm(total=records, unit="msg", unit_scale=True, desc="producing") as bar:
            for start in range(0, records, window):
                futures = []
                for i in range(start, min(records, start + window)):
                    future = await producer.send(topic, payload, key=i.to_bytes(8, "big"))
                    future.add_done_callback(done(clock()))
                    futures.append(future)
                await asyncio.gather(*futures)
                bar.update(len(futures))
        metrics = producer.metrics()
    return latencies, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    if not args.bootstrap:
        parser.error("--bootstrap (or KAFKA_BOOTSTRAP_SERVERS) is required")

    topic = f"demo-{uuid.uuid4().hex[:8]}"
    with AdminClient(args.bootstrap.split(",")[0]) as admin:
        admin.create_topic(topic, args.partitions, 1, {})
        admin.wait_for_leaders(topic, args.partitions)

    started = time.perf_counter()
    cpu_started = time.process_time()
    latencies, metrics = asyncio.run(produce(args.bootstrap, topic, args.records, args.size))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    latencies.sort()
    rate = args.records / elapsed
    print(f"\ntopic {topic}: {args.records:,} records of {args.size} B in {elapsed:.2f} s")
    print(f"throughput: {rate:,.0f} msgs/s, {rate * args.size / 1e6:.1f} MB/s")
    print(f"client CPU: {cpu:.2f} s ({cpu / args.records * 1e6:.1f} us per record)")
    print(
        "latency (send() to ack, 20k in flight): "
        + ", ".join(
            f"{name} {_percentile(latencies, q):.1f} ms"
            for name, q in (("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999), ("max", 1.0))
        )
    )
    shown = (
        "record-send-total",
        "record-error-total",
        "record-retry-total",
        "request-total",
        "request-latency-avg",
        "batch-size-avg",
        "records-per-request-avg",
        "record-queue-time-avg",
        "outgoing-byte-total",
    )
    print("producer.metrics(): " + ", ".join(f"{name} {metrics[name]:,.1f}" for name in shown))
    read = count_records(args.bootstrap, topic, expected=args.records)
    verdict = "OK" if read == args.records else "MISMATCH"
    print(f"read back by confluent-kafka's consumer: {read:,} records ({verdict})")
    if read != args.records:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
