"""Where a transaction's time goes: scenario 8's loop, traced per transaction.

``python -m benchmarks.txn_trace --bootstrap HOST:PORT`` creates a topic (6 partitions),
runs ``--transactions`` transactions of ``--records`` (1,000) records of 100 B (acks=all,
linger 5 ms, as scenario 8) and prints, per phase, the median, p10 and p90 over the
transactions (the first left out) in ms from ``begin``: the sends done, the first Produce
sent and first answered, the last Produce answered, AddPartitionsToTxn answered (version
1), EndTxn sent and answered, the next transaction's begin; and the broker errors met (a
Produce's, or a retried coordinator request's). ``--markers`` adds when the previous
transaction's markers were seen written (DescribeTransactions polled on a connection of
its own).

Without ``--bootstrap`` it starts a local broker (its logs in memory, as ``python -m
benchmarks run``'s) formatted with ``--transaction-version`` (1 or 2) and
``--broker-config KEY=VALUE`` settings (such as ``add.partitions.to.txn.retry.backoff.ms=1``).
``--client confluent`` traces
confluent-kafka's transactional Producer instead (librdkafka speaks transaction version 1
whatever the broker's feature): its debug log (``eos,protocol``, written to stderr with
millisecond timestamps by librdkafka's own threads) gives the same phases.

For aioproducer it wraps a few internal methods (``Sender._send``,
``Sender._on_partition``, ``TransactionManager._call``, ``TransactionManager._retry_for``)
to time them: a tool for this tree, not an API.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from aioproducer import Producer
from aioproducer._protocol.messages.describe_transactions import (
    DescribeTransactionsRequest,
    DescribeTransactionsResponse,
)
from aioproducer._sender import Sender
from aioproducer._transactions import TransactionManager
from aioproducer.testing import AdminClient

Event = tuple[float, str, object]
RECORDS = 1000  # per transaction (--records)


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
    for index, txn in enumerate(transactions[1:], 2):
        begin = txn[0][0]
        nxt = transactions[index] if index < len(transactions) else None

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
            "prepare seen": first("prepare seen"),
            "markers written": first("markers written"),
            "next begin": (nxt[0][0] - begin) if nxt else None,
        }
        sent, acked = found["first Produce sent"], found["first Produce answered"]
        if sent is not None and acked is not None:
            found["first Produce round trip"] = acked - sent
        for name, value in found.items():
            if value is not None:
                phases[name].append(value * 1000)
    if len(transactions) > 1:  # on a new topic: often tens of times the next ones
        first_ms = (transactions[1][0][0] - transactions[0][0][0]) * 1000
        print(f"{'first transaction (left out)':30s} {first_ms:7.2f} ms, begin to next begin")
    for name, values in phases.items():
        values.sort()
        print(
            f"{name:30s} median {statistics.median(values):7.2f}  "
            f"p10 {values[len(values) // 10]:7.2f}  p90 {values[len(values) * 9 // 10]:7.2f}"
        )
    print("errors:", dict(errors) or "none")


def _topic(bootstrap: str) -> str:
    topic = f"txn-trace-{uuid.uuid4().hex[:8]}"
    with AdminClient(bootstrap.split(",", maxsplit=1)[0]) as admin:
        features = admin.finalized_features()
        admin.create_topic(topic, 6, 1, {})
        admin.wait_for_leaders(topic, 6)
    print(f"broker transaction.version {features.get('transaction.version', 0)}; topic {topic}")
    return topic


async def _probe_markers(
    bootstrap: str, transactional_id: str, mark: Callable[[str], None]
) -> None:
    """Poll the coordinator (a connection of its own) with DescribeTransactions every
    1 ms; mark "markers written" when a PrepareCommit/PrepareAbort state ends. The polls
    share the producer's loop: during the sends they come late."""
    async with Producer(bootstrap_servers=bootstrap) as other:
        cluster = other._cluster
        assert cluster is not None
        conn = await cluster.connection(min(cluster.metadata.brokers))  # one broker: its own
        preparing = False
        while True:
            response = await conn.request(DescribeTransactionsRequest([transactional_id]))
            assert isinstance(response, DescribeTransactionsResponse)
            state = response.transactions[0].state
            if state.startswith("Prepare"):
                if not preparing:
                    mark("prepare seen")
                preparing = True
            elif preparing:
                preparing = False
                mark("markers written")
            await asyncio.sleep(0.001)


async def _run(
    bootstrap: str,
    transactions: int,
    records: int,
    mark: Callable[[str], None],
    *,
    markers: bool = False,
) -> float:
    topic = _topic(bootstrap)
    value = b"x" * 100
    async with Producer(
        bootstrap_servers=bootstrap, transactional_id=topic, acks="all", linger_ms=5
    ) as producer:
        await producer.partitions_for(topic)
        probe = (
            asyncio.get_running_loop().create_task(_probe_markers(bootstrap, topic, mark))
            if markers
            else None
        )
        started = time.perf_counter()
        for _ in range(transactions):
            mark("begin")
            async with producer.transaction():
                futures = [
                    await producer.send(topic, value, key=b"%08d" % i) for i in range(records)
                ]
                mark("sends done")
            await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
        return seconds


#: librdkafka's debug lines (``%7|<epoch s.ms>|<facility>|<name>| [thrd:..]: <text>``) that
#: mark a phase, and the phase
_RDKAFKA: tuple[tuple[re.Pattern[str], str, object], ...] = (
    (re.compile(r"Sent ProduceRequest"), "produce sent", None),
    (re.compile(r"Received ProduceResponse"), "produce answered", 0),
    (re.compile(r"Sent AddPartitionsToTxnRequest"), "AddPartitionsToTxn sent", None),
    (re.compile(r"registered with transaction"), "AddPartitionsToTxn answered", None),
    (
        re.compile(r"AddPartitionsToTxn response: partition .*concurrent"),
        "retried",
        "AddPartitionsToTxn error 51",
    ),
    (re.compile(r"Sent EndTxnRequest"), "EndTxn sent", None),
    (re.compile(r"Received EndTxnResponse"), "EndTxn answered", None),
)


def _run_confluent(bootstrap: str, transactions: int, records: int, events: list[Event]) -> float:
    """Scenario 8's loop with confluent-kafka; librdkafka's debug log (on fd 2, parsed
    after the run) gives the phases, on the wall clock as the loop's own marks."""
    from confluent_kafka import Producer as ConfluentProducer  # noqa: PLC0415

    topic = _topic(bootstrap)
    value = b"x" * 100
    with tempfile.TemporaryFile("w+") as log, _stderr_to(log):
        producer = ConfluentProducer(
            {
                "bootstrap.servers": bootstrap,
                "transactional.id": topic,
                "acks": "all",
                "linger.ms": 5,
                "debug": "eos,protocol",
            }
        )
        producer.list_topics(topic, timeout=10)
        producer.init_transactions(30)
        started = time.perf_counter()
        for _ in range(transactions):
            events.append((time.time(), "begin", None))
            producer.begin_transaction()
            for i in range(records):
                producer.produce(topic, value, b"%08d" % i)
            events.append((time.time(), "sends done", None))
            producer.commit_transaction(60)
        seconds = time.perf_counter() - started
        del producer  # its threads flush the log before the file is read
        log.seek(0)
        first = events[0][0]
        for line in log:
            fields = line.split("|", 4)
            if len(fields) < 5 or float(fields[1]) < first:
                continue
            for pattern, kind, detail in _RDKAFKA:
                if pattern.search(fields[4]):
                    events.append((float(fields[1]), kind, detail))
    events.sort(key=lambda event: event[0])  # stable: a loop mark stays first at a tie
    return seconds


@contextlib.contextmanager
def _stderr_to(file: Any) -> Iterator[None]:
    saved = os.dup(2)
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def _bootstrap(args: argparse.Namespace) -> Iterator[str]:
    """``--bootstrap``, or a local broker of ``--transaction-version`` and ``--broker-config``."""
    if args.bootstrap:
        yield args.bootstrap
        return
    from aioproducer.testing import LocalKafkaCluster  # noqa: PLC0415
    from benchmarks.run import broker_root  # noqa: PLC0415

    config = dict(item.split("=", 1) for item in args.broker_config)
    with tempfile.TemporaryDirectory(prefix="aioproducer-txn-trace-", dir=broker_root()) as workdir:
        cluster = LocalKafkaCluster(
            1,
            heap="1g",
            workdir=Path(workdir),
            broker_config=config,
            format_args=("--feature", f"transaction.version={args.transaction_version}"),
        )
        with cluster.start():
            print(f"local broker {cluster.bootstrap_servers}: {config or 'defaults'}")
            yield cluster.bootstrap_servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bootstrap", help="a running broker (default: start a local one)")
    parser.add_argument("--transactions", type=int, default=50)
    parser.add_argument("--records", type=int, default=RECORDS, help="per transaction")
    parser.add_argument("--client", choices=("aioproducer", "confluent"), default="aioproducer")
    parser.add_argument(
        "--markers",
        action="store_true",
        help="poll DescribeTransactions (own connection) to time the markers",
    )
    parser.add_argument("--transaction-version", type=int, choices=(1, 2), default=2)
    parser.add_argument(
        "--broker-config", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    args = parser.parse_args()
    events: list[Event] = []
    with _bootstrap(args) as bootstrap:
        if args.client == "confluent":
            seconds = _run_confluent(bootstrap, args.transactions, args.records, events)
        else:
            _instrument(events)
            seconds = asyncio.run(
                _run(
                    bootstrap,
                    args.transactions,
                    args.records,
                    lambda kind: events.append((time.perf_counter(), kind, None)),
                    markers=args.markers,
                )
            )
    count = args.transactions
    rate = count * args.records / seconds
    print(f"{rate:,.0f} records/s, {seconds / count * 1000:.1f} ms a transaction")
    _report(events)


if __name__ == "__main__":
    main()
