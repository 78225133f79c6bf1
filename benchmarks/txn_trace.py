"""Where a transaction's time goes: scenario 8's loop, traced per transaction.

``python -m benchmarks.txn_trace --bootstrap HOST:PORT`` creates a topic (6 partitions),
runs ``--transactions`` transactions of 1,000 records of 100 B (acks=all, linger 5 ms, as
scenario 8) and prints, per phase, the median, p10 and p90 over the transactions (the
first left out) in ms from ``begin``: the sends done, the first Produce sent and first
answered, the last Produce answered, AddPartitionsToTxn answered (version 1), EndTxn sent
and answered; and the broker errors met (a Produce's, or a retried coordinator request's).

It wraps a few internal methods (``Sender._send``, ``Sender._on_partition``,
``TransactionManager._call``, ``TransactionManager._retry_for``) to time them: a tool for
this tree, not an API.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from aioproducer import Producer
from aioproducer._sender import Sender
from aioproducer._transactions import TransactionManager
from aioproducer.testing import AdminClient

Event = tuple[float, str, object]
RECORDS = 1000


def _instrument(events: list[Event]) -> None:
    def mark(kind: str, detail: object = None) -> None:
        events.append((time.perf_counter(), kind, detail))

    send, on_partition = Sender._send, Sender._on_partition
    call, retry_for = TransactionManager._call, TransactionManager._retry_for

    def _send(self: Sender, *args: Any) -> None:
        mark("produce sent")
        send(self, *args)

    def _on_partition(self: Sender, batch: Any, part: Any, now: int) -> None:
        mark("produce answered", part.error_code)
        on_partition(self, batch, part, now)

    async def _call(self: TransactionManager, *args: Any, **options: Any) -> None:
        what = args[2]
        mark(f"{what} sent")
        try:
            await call(self, *args, **options)
        finally:
            mark(f"{what} answered")

    def _retry_for(self: TransactionManager, code: int, what: str, **options: Any) -> None:
        mark("retried", f"{what} error {code}")
        retry_for(self, code, what, **options)

    Sender._send = _send  # type: ignore[method-assign, assignment]
    Sender._on_partition = _on_partition  # type: ignore[method-assign]
    TransactionManager._call = _call  # type: ignore[method-assign]
    TransactionManager._retry_for = _retry_for  # type: ignore[method-assign]


def _report(events: list[Event]) -> None:
    transactions: list[list[Event]] = []
    for event in events:
        if event[1] == "begin":
            transactions.append([])
        if transactions:
            transactions[-1].append(event)
    phases: dict[str, list[float]] = defaultdict(list)
    errors: Counter[str] = Counter()
    for txn in transactions[1:]:
        begin = txn[0][0]

        def first(kind: str, txn: list[Event] = txn, begin: float = begin) -> float | None:
            return next((t - begin for t, k, _ in txn if k == kind), None)

        answered = [t - begin for t, k, d in txn if k == "produce answered" and d == 0]
        for _, kind, detail in txn:
            if kind == "retried" or (kind == "produce answered" and detail):
                errors[f"Produce error {detail}" if kind != "retried" else str(detail)] += 1
        found: dict[str, float | None] = {
            "sends done": first("sends done"),
            "first Produce sent": first("produce sent"),
            "first Produce answered": min(answered, default=None),
            "last Produce answered": max(answered, default=None),
            "AddPartitionsToTxn answered": first("AddPartitionsToTxn answered"),
            "EndTxn sent": first("EndTxn sent"),
            "EndTxn answered": first("EndTxn answered"),
        }
        for name, value in found.items():
            if value is not None:
                phases[name].append(value * 1000)
    for name, values in phases.items():
        values.sort()
        print(
            f"{name:28s} median {statistics.median(values):7.2f}  "
            f"p10 {values[len(values) // 10]:7.2f}  p90 {values[len(values) * 9 // 10]:7.2f}"
        )
    print("errors:", dict(errors) or "none")


async def _run(bootstrap: str, transactions: int, mark: Callable[[str], None]) -> float:
    topic = f"txn-trace-{uuid.uuid4().hex[:8]}"
    with AdminClient(bootstrap.split(",", maxsplit=1)[0]) as admin:
        features = admin.finalized_features()
        admin.create_topic(topic, 6, 1, {})
        admin.wait_for_leaders(topic, 6)
    print(f"transaction.version {features.get('transaction.version', 0)}; topic {topic}")
    value = b"x" * 100
    async with Producer(
        bootstrap_servers=bootstrap, transactional_id=topic, acks="all", linger_ms=5
    ) as producer:
        await producer.partitions_for(topic)
        started = time.perf_counter()
        for _ in range(transactions):
            mark("begin")
            async with producer.transaction():
                futures = [
                    await producer.send(topic, value, key=b"%08d" % i) for i in range(RECORDS)
                ]
                mark("sends done")
            await asyncio.gather(*futures)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--transactions", type=int, default=50)
    args = parser.parse_args()
    events: list[Event] = []
    _instrument(events)
    seconds = asyncio.run(
        _run(
            args.bootstrap,
            args.transactions,
            lambda kind: events.append((time.perf_counter(), kind, None)),
        )
    )
    count = args.transactions
    print(
        f"{count * RECORDS / seconds:,.0f} records/s, {seconds / count * 1000:.1f} ms a transaction"
    )
    _report(events)


if __name__ == "__main__":
    main()
