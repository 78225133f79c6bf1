"""Consume, transform, produce: each input record reaches the output exactly once.

A confluent-kafka consumer (``read_committed``, no auto-commit) reads ``--input``; every
poll's records are upper-cased and written to ``--output`` in ONE transaction of an
aioproducer transactional producer, which also commits the consumer's offsets
(``send_offsets_to_transaction`` with the consumer's group metadata, so that a zombie
consumer of an older generation is fenced, KIP-447). The output and the offsets are committed
together or not at all: killed at any moment (``kill -9``) and started again, the process
resumes at the last committed offsets, and the open transaction of the killed process is
aborted when the new one starts (same ``--transactional-id``), so nothing is lost and
nothing is written twice for ``read_committed`` readers.

    python examples/consume_transform_produce.py --bootstrap 127.0.0.1:9092 \\
        --input in --output out --group ctp --transactional-id ctp-1 --idle-exit 5
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

from aioproducer import Producer
from aioproducer.errors import FencedProducerError, ProducerError


def transform(value: bytes | None) -> bytes | None:
    """The transformation: upper-case the value."""
    return None if value is None else value.upper()


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--bootstrap", required=True, help="bootstrap servers, host:port,...")
    parser.add_argument("--input", required=True, help="the topic to consume")
    parser.add_argument("--output", required=True, help="the topic to produce to")
    parser.add_argument("--group", required=True, help="the consumer group id")
    parser.add_argument("--transactional-id", required=True, help="the producer's id")
    parser.add_argument("--group-instance-id", help="static group membership (KIP-345)")
    parser.add_argument(
        "--batch", type=int, default=1000, help="records per poll, and so per transaction"
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=0.0,
        help="exit after this many seconds without input (0: run until SIGINT/SIGTERM)",
    )
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    return args


def _consumer(args: argparse.Namespace) -> Any:
    config: dict[str, Any] = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,  # a killed member leaves its partitions within 6 s
    }
    if args.group_instance_id:
        config["group.instance.id"] = args.group_instance_id
    return Consumer(config)


def _rewind(consumer: Any, messages: list[Any]) -> None:
    """Seek each partition back to the first record of an aborted transaction."""
    first: dict[tuple[str, int], int] = {}
    for msg in messages:
        first.setdefault((msg.topic(), msg.partition()), msg.offset())
    for (topic, partition), offset in first.items():
        consumer.seek(TopicPartition(topic, partition, offset))


async def _transaction(producer: Producer, consumer: Any, records: list[Any], output: str) -> None:
    """One transaction: the transformed records, and the offsets after them."""
    producer.begin_transaction()
    offsets: dict[tuple[str, int], int] = {}
    for msg in records:
        await producer.send(output, transform(msg.value()), key=msg.key())
        offsets[(msg.topic(), msg.partition())] = msg.offset() + 1
    # confluent-kafka's group metadata (generation, member id): the group coordinator
    # refuses the offsets if this consumer was replaced in the group meanwhile.
    await producer.send_offsets_to_transaction(offsets, consumer.consumer_group_metadata())
    await producer.commit_transaction()  # delivers every record first


async def run(args: argparse.Namespace, stop: asyncio.Event) -> int:
    """The loop: poll, then one transaction per poll's records with their offsets."""
    loop = asyncio.get_running_loop()
    producer = Producer(bootstrap_servers=args.bootstrap, transactional_id=args.transactional_id)
    # Start the producer first: its InitProducerId aborts what a killed predecessor left
    # open, so that the consumer's committed offsets are stable when it asks for them.
    await producer.start()
    consumer = _consumer(args)
    consumer.subscribe([args.input])
    transactions = total = 0
    idle_since = loop.time()
    try:
        while not stop.is_set():
            messages = await asyncio.to_thread(consumer.consume, args.batch, 0.5)
            records = [m for m in messages if m.error() is None]
            for m in messages:
                if m.error() is not None and m.error().code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"consumer error: {m.error()}")
            if not records:
                if args.idle_exit and loop.time() - idle_since >= args.idle_exit:
                    break
                continue
            idle_since = loop.time()
            try:
                await _transaction(producer, consumer, records, args.output)
            except FencedProducerError:
                raise  # another process took over this transactional id: stop
            except ProducerError as exc:
                # Abort, and the consumer goes back: the records are done again.
                print(f"transaction failed ({exc}); aborting and retrying it", flush=True)
                await producer.abort_transaction()
                _rewind(consumer, records)
                continue
            transactions += 1
            total += len(records)
            print(f"committed {transactions} {len(records)} {total}", flush=True)
    finally:
        consumer.close()
        await producer.close()
    print(f"done {transactions} {total}", flush=True)
    return 0


async def main_async(argv: Sequence[str] | None = None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await run(_parse(argv), stop)


if __name__ == "__main__":
    sys.exit(asyncio.run(main_async()))
