"""The compiled per-partition append (_caccumulate.pyx): AppenderProtocol's methods."""

from collections import deque
from collections.abc import Sequence
from typing import Any

from aioproducer._appender import AppendResult
from aioproducer._batch import Completion, ProducerBatch
from aioproducer._metadata import TopicPartition
from aioproducer._protocol.records import Header

class Appender:
    _buffer_memory: int
    _used: int
    _reserved: int
    _queued: int
    _closed: bool
    _batches: dict[TopicPartition, deque[ProducerBatch]]
    def __init__(self, buffer_memory: int) -> None: ...
    def has_room(self, nbytes: int, held: int = 0) -> bool: ...
    def append(
        self,
        tp: TopicPartition,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header],
        completion: Completion,
        now_ms: int = -1,
    ) -> AppendResult: ...
    def _append_new(self, *args: Any) -> AppendResult: ...
