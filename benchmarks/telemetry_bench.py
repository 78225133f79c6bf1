"""The cost of a KIP-714 metrics push on the event loop, against a FakeBroker.

Run with ``python -m benchmarks.telemetry_bench [--topics N] [--repeat R]``. A producer
sends to ``N`` topics of 3 partitions on 3 fake nodes, so that its metrics hold per-topic
and per-node series; the report gives the number of samples, the pushed payload's size
(zstd, the broker's first choice), the CPU time of ``metric_samples()`` and of building one
push from them (median of ``R``), and a 1 ms sleeper's oversleep while pushes go out every
100 ms, with the push on and off, side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from aioproducer import Producer
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.push_telemetry import PushTelemetryRequest
from aioproducer._telemetry import TelemetryState
from aioproducer.testing.fake_broker import FakeBroker

SUBSCRIPTION = GetTelemetrySubscriptionsResponse(
    0, uuid.uuid4(), 1, (4, 3, 1, 2), 100, 1 << 20, False, ("org.apache.kafka.producer.",)
)


def cpu_ms(action: object, repeat: int) -> float:
    """Median CPU milliseconds of ``action()`` over ``repeat`` runs."""
    assert callable(action)
    times = []
    for _ in range(repeat):
        start = time.process_time()
        action()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


async def oversleep_ms(seconds: float) -> tuple[float, float]:
    """Median and 99th percentile oversleep of a 1 ms sleeper, in ms."""
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - start - 0.001) * 1000)
    lags.sort()
    return statistics.median(lags), lags[int(len(lags) * 0.99)]


def measure_push(producer: Producer, repeat: int) -> None:
    """Print the samples, the payload's size and the CPU time of one push."""
    samples = producer.metric_samples()
    state = TelemetryState()
    state.on_subscription(SUBSCRIPTION, 0)
    request = state.next_request(lambda: samples, time.time_ns())
    assert isinstance(request, PushTelemetryRequest)
    collect = cpu_ms(producer.metric_samples, repeat)
    build = cpu_ms(lambda: state.next_request(lambda: samples, 1), repeat)
    print(
        f"{len(samples)} samples; push payload {len(request.metrics)} bytes; "
        f"metric_samples() {collect:.2f} ms, building the push {build:.2f} ms (CPU)"
    )


async def main(topics: int, repeat: int) -> None:
    async with FakeBroker(nodes=3, telemetry=SUBSCRIPTION) as broker:
        for t in range(topics):
            broker.create_topic(f"t{t}", 3)
        for push in (True, False):
            async with Producer(
                bootstrap_servers=broker.bootstrap_servers, enable_metrics_push=push
            ) as producer:
                for i in range(2000):
                    await producer.send(f"t{i % topics}", b"x" * 100)
                await producer.flush()
                if push:
                    measure_push(producer, repeat)
                pushes = len(broker.received(72))
                median, p99 = await oversleep_ms(3.0)
                pushed = len(broker.received(72)) - pushes
                print(
                    f"push {'on ' if push else 'off'}: {pushed} pushes in 3 s; 1 ms sleeper "
                    f"oversleeps {median:.3f} ms (median), {p99:.3f} ms (p99)"
                )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.topics, args.repeat))
