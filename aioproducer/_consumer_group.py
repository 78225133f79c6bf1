"""What ``Producer.send_offsets_to_transaction()`` takes: a consumer group and its offsets.

:class:`ConsumerGroupMetadata` is a consumer's group membership (read from a group id, an
object with the same attributes, or the bytes of confluent-kafka's
``consumer_group_metadata()``); :func:`parse_offsets` turns the accepted offset forms into
the ``TxnOffset`` list TxnOffsetCommit carries. Both raise ConfigurationError at the call.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from aioproducer._protocol.messages.txn_offset_commit import TxnOffset
from aioproducer.errors import ConfigurationError

__all__ = ["ConsumerGroupMetadata", "parse_offsets"]

_CGMD_MAGIC: Final = b"CGMDv2:"
_INT32: Final = struct.Struct("=i")


@dataclass(frozen=True, slots=True)
class ConsumerGroupMetadata:
    """A consumer's group membership, for :meth:`Producer.send_offsets_to_transaction`:
    the group coordinator refuses the offsets of a member that is no longer in the group
    (KIP-447), so a zombie consumer cannot commit."""

    group_id: str
    generation_id: int = -1
    member_id: str = ""
    group_instance_id: str | None = None

    @classmethod
    def parse(cls, group: object) -> ConsumerGroupMetadata:
        """A group id, this class, an object with the same attributes (aiokafka's, Java's
        shape), or the bytes of confluent-kafka's ``Consumer.consumer_group_metadata()``."""
        if isinstance(group, ConsumerGroupMetadata):
            return group
        if isinstance(group, str):
            result = cls(group)
        elif isinstance(group, bytes):
            result = _parse_librdkafka(group)
        else:
            try:
                result = cls(
                    getattr(group, "group_id"),  # noqa: B009 - a duck-typed object
                    getattr(group, "generation_id", -1),
                    getattr(group, "member_id", "") or "",
                    getattr(group, "group_instance_id", None),
                )
            except AttributeError:
                raise ConfigurationError(
                    "send_offsets_to_transaction() takes a group id or consumer group metadata, "
                    f"not {type(group).__name__}"
                ) from None
        if not isinstance(result.group_id, str) or not result.group_id:
            raise ConfigurationError(f"the group id must be a non-empty str, not {group!r}")
        if type(result.generation_id) is not int or not isinstance(result.member_id, str):
            raise ConfigurationError(f"invalid consumer group metadata {group!r}")
        if result.group_instance_id is not None and not isinstance(result.group_instance_id, str):
            raise ConfigurationError(f"invalid group_instance_id in {group!r}")
        return result


def _parse_librdkafka(data: bytes) -> ConsumerGroupMetadata:
    """librdkafka's serialized group metadata: ``CGMDv2:``, the generation (int32, native
    order), then NUL-terminated group id and member id, an is-null byte and the instance id."""
    try:
        if not data.startswith(_CGMD_MAGIC):
            raise ValueError("no CGMDv2 magic")
        offset = len(_CGMD_MAGIC)
        (generation,) = _INT32.unpack_from(data, offset)
        offset += 4
        group_end = data.index(b"\0", offset)
        member_end = data.index(b"\0", group_end + 1)
        group, member = data[offset:group_end], data[group_end + 1 : member_end]
        instance: str | None = None
        if data[member_end + 1] == 0:
            instance = data[member_end + 2 : data.index(b"\0", member_end + 2)].decode()
        return ConsumerGroupMetadata(group.decode(), generation, member.decode(), instance)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as exc:
        raise ConfigurationError(
            f"bytes given as consumer group metadata are not librdkafka's ({exc})"
        ) from None


def parse_offsets(offsets: object) -> list[TxnOffset]:
    """``{(topic, partition): offset}`` (keys may be objects with ``.topic`` and
    ``.partition``; values ints or objects with ``.offset`` and optionally ``.metadata``),
    or a list of objects with ``.topic``, ``.partition`` and ``.offset`` (confluent-kafka's
    ``TopicPartition``), as the offsets to commit."""
    items: Iterable[tuple[object, object]]
    if isinstance(offsets, Mapping):
        items = offsets.items()
    elif isinstance(offsets, list | tuple):
        items = [(item, item) for item in offsets]
    else:
        raise ConfigurationError(
            "offsets must be a mapping {(topic, partition): offset} or a list of "
            f"TopicPartition, not {type(offsets).__name__}"
        )
    result: list[TxnOffset] = []
    for key, value in items:
        if isinstance(key, tuple) and len(key) == 2:
            topic, partition = key
        else:
            topic, partition = getattr(key, "topic", None), getattr(key, "partition", None)
        offset = value if isinstance(value, int) else getattr(value, "offset", None)
        metadata = getattr(value, "metadata", None)
        epoch = getattr(value, "leader_epoch", None)
        if not isinstance(topic, str) or not topic:
            raise ConfigurationError(f"invalid topic in offsets: {key!r}")
        if type(partition) is not int or not 0 <= partition < 2**31:
            raise ConfigurationError(f"invalid partition in offsets: {key!r}")
        if type(offset) is not int or not 0 <= offset < 2**63:
            raise ConfigurationError(f"invalid offset for {topic}-{partition}: {value!r}")
        if metadata is not None and not isinstance(metadata, str):
            metadata = None
        leader_epoch = epoch if type(epoch) is int and 0 <= epoch < 2**31 else -1
        result.append(TxnOffset(topic, partition, offset, leader_epoch, metadata))
    return result
