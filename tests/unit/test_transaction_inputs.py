"""What send_offsets_to_transaction() accepts: offsets and consumer group metadata."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aioproducer import ConsumerGroupMetadata
from aioproducer._consumer_group import parse_offsets
from aioproducer._protocol.messages.txn_offset_commit import TxnOffset
from aioproducer.errors import ConfigurationError


@dataclass(frozen=True)
class _TP:  # the shape of confluent-kafka's and aiokafka's TopicPartition
    topic: str
    partition: int
    offset: int = -1001
    metadata: str | None = None
    leader_epoch: int | None = None


def test_offsets_in_every_accepted_form() -> None:
    assert parse_offsets({("in", 0): 42}) == [TxnOffset("in", 0, 42)]
    assert parse_offsets({_TP("in", 1): 7}) == [TxnOffset("in", 1, 7)]
    assert parse_offsets([_TP("in", 2, 9, "m", 3)]) == [TxnOffset("in", 2, 9, 3, "m")]
    assert parse_offsets({("in", 0): _TP("in", 0, 5)}) == [TxnOffset("in", 0, 5)]
    assert parse_offsets({}) == []


@pytest.mark.parametrize(
    "offsets",
    [
        {("in", 0): -1},
        {("in", 0): 2**63},
        {("in", -1): 0},
        {("in", True): 0},
        {("", 0): 0},
        {(b"in", 0): 0},
        {("in", 0, 1): 0},
        {("in", 0): 1.0},
        [_TP("in", 0)],  # confluent's OFFSET_INVALID
        "in:0",
        None,
    ],
)
def test_bad_offsets_raise(offsets: object) -> None:
    with pytest.raises(ConfigurationError):
        parse_offsets(offsets)


def test_group_metadata_forms() -> None:
    assert ConsumerGroupMetadata.parse("g") == ConsumerGroupMetadata("g")
    full = ConsumerGroupMetadata("g", 3, "member-1", "instance")
    assert ConsumerGroupMetadata.parse(full) is full

    @dataclass
    class Duck:
        group_id: str
        generation_id: int
        member_id: str
        group_instance_id: str | None

    assert ConsumerGroupMetadata.parse(Duck("g", 3, "member-1", "instance")) == full


def test_librdkafka_group_metadata() -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    unreachable = {"bootstrap.servers": "127.0.0.1:9", "log_level": 0}
    plain = confluent_kafka.Consumer({**unreachable, "group.id": "orders"})
    # consumer_group_metadata() bytes: generation -1 and no member id before joining
    try:
        parsed = ConsumerGroupMetadata.parse(plain.consumer_group_metadata())
    finally:
        plain.close()
    assert parsed == ConsumerGroupMetadata("orders", -1, "", None)
    static = confluent_kafka.Consumer(
        {**unreachable, "group.id": "orders", "group.instance.id": "i-1"}
    )
    try:
        parsed = ConsumerGroupMetadata.parse(static.consumer_group_metadata())
    finally:
        static.close()
    assert parsed == ConsumerGroupMetadata("orders", -1, "", "i-1")
    blob = b"CGMDv2:" + (7).to_bytes(4, "little") + b"g\0m-1\0\x01"
    assert ConsumerGroupMetadata.parse(blob) == ConsumerGroupMetadata("g", 7, "m-1", None)


@pytest.mark.parametrize(
    "group", ["", b"", b"CGMDv1:xxxx", b"CGMDv2:\0\0", b"CGMDv2:\0\0\0\0g", 42, None, object()]
)
def test_bad_group_metadata_raises(group: object) -> None:
    with pytest.raises(ConfigurationError):
        ConsumerGroupMetadata.parse(group)
