"""Read a topic back with an independent client (confluent-kafka's consumer, librdkafka).

Tests and benchmarks verify what aioproducer wrote with this, never with aioproducer itself.
CRC checks are on, so a corrupt batch fails loudly.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from aioproducer.testing._extra import missing_extra

__all__ = ["ConsumedRecord", "committed_offsets", "consume_all", "count_records", "end_offsets"]


@dataclass(frozen=True, slots=True)
class ConsumedRecord:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int
    timestamp_type: int
    """1 = CreateTime, 2 = LogAppendTime (librdkafka's numbering)."""


def _consumer(
    bootstrap: str, topic: str, isolation_level: str = "read_uncommitted"
) -> tuple[object, dict[int, int]]:
    try:
        from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415
    except ImportError as exc:
        raise missing_extra(exc, "reading a topic back (aioproducer.testing.readback)") from exc

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"readback-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "check.crcs": True,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 64 * 1024 * 1024,
            "isolation.level": isolation_level,
        }
    )
    metadata = consumer.list_topics(topic, timeout=10)
    partitions = sorted(metadata.topics[topic].partitions)
    ends: dict[int, int] = {}
    for p in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if high > low:
            ends[p] = high
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    return consumer, ends


def consume_all(
    bootstrap: str,
    topic: str,
    timeout: float = 60.0,
    *,
    isolation_level: str = "read_uncommitted",
) -> list[ConsumedRecord]:
    """Every record now in ``topic``, in partition order then offset order.

    ``isolation_level="read_committed"`` leaves out the records of aborted transactions
    (and waits for open ones to end); transaction markers are never records.
    """
    consumer, ends = _consumer(bootstrap, topic, isolation_level)
    records: list[ConsumedRecord] = []
    done = dict.fromkeys(ends, False)
    deadline = time.monotonic() + timeout
    try:
        while not all(done.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} back took over {timeout:.0f}s")
            messages = consumer.consume(10_000, 0.5)  # type: ignore[attr-defined]
            if not messages:  # a partition may end in markers or aborted records
                _done_by_position(consumer, topic, ends, done)
            for msg in messages:
                if msg.error() is not None:
                    raise RuntimeError(f"consumer error: {msg.error()}")
                ts_type, ts = msg.timestamp()
                records.append(
                    ConsumedRecord(
                        msg.partition(),
                        msg.offset(),
                        msg.key(),
                        msg.value(),
                        tuple(msg.headers() or ()),
                        ts,
                        ts_type,
                    )
                )
                if msg.offset() >= ends[msg.partition()] - 1:
                    done[msg.partition()] = True
    finally:
        consumer.close()  # type: ignore[attr-defined]
    records.sort(key=lambda r: (r.partition, r.offset))
    return records


def _done_by_position(
    consumer: object, topic: str, ends: dict[int, int], done: dict[int, bool]
) -> None:
    """Mark partitions whose fetch position reached their end as done."""
    from confluent_kafka import TopicPartition  # noqa: PLC0415

    pending = [TopicPartition(topic, p) for p, finished in done.items() if not finished]
    for tp in consumer.position(pending):  # type: ignore[attr-defined]
        if tp.offset >= ends[tp.partition]:
            done[tp.partition] = True


def count_records(bootstrap: str, topic: str, expected: int | None = None) -> int:
    """How many records ``topic`` holds, counted by consuming them all."""
    del expected
    return len(consume_all(bootstrap, topic, timeout=120.0))


def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """The high watermark of each partition of ``topic``."""
    consumer, _ = _consumer(bootstrap, topic, "read_uncommitted")
    try:
        from confluent_kafka import TopicPartition  # noqa: PLC0415

        metadata = consumer.list_topics(topic, timeout=10)  # type: ignore[attr-defined]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]  # type: ignore[attr-defined]
            for p in sorted(metadata.topics[topic].partitions)
        }
    finally:
        consumer.close()  # type: ignore[attr-defined]


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The offsets group ``group`` committed for ``topic``, by partition (a stable read:
    offsets still pending in an open transaction wait for it, KIP-447)."""
    from confluent_kafka import Consumer, TopicPartition  # noqa: PLC0415

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        asked = [TopicPartition(topic, p) for p in sorted(metadata.topics[topic].partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(asked, timeout=30)}
    finally:
        consumer.close()
