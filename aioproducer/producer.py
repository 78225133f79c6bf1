"""The public producer: ``await producer.send(...)`` returns a future of the record's metadata.

:meth:`Producer.send` validates and serializes synchronously, picks the partition, appends
the record to its partition's open batch and returns a future, suspending only when the
topic's metadata is unknown or ``buffer_memory`` is exhausted. A :class:`~aioproducer.sender.Sender`
task moves batches to the brokers.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import struct
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, NoReturn, Self, TypeVar

from aioproducer.accumulator import AppendResult, RecordAccumulator
from aioproducer.batch import Completion, ProducerBatch, RecordGroup, RecordMetadata, SentRecords
from aioproducer.cluster import Cluster, now_ms
from aioproducer.config import ProducerConfig, build_config
from aioproducer.errors import (
    BufferFullError,
    InvalidTopicNameError,
    KafkaTimeoutError,
    ProducerClosedError,
    ProducerError,
    RecordTooLargeError,
    SerializationError,
)
from aioproducer.futures import relay_for
from aioproducer.idempotence import IdempotenceState
from aioproducer.metadata import TopicInfo, TopicPartition
from aioproducer.partitioner import DefaultPartitioner, Partitioner, murmur2, positive_murmur2
from aioproducer.protocol.records import Header, RecordBatchBuilder
from aioproducer.sender import Sender
from aioproducer.speedups import c as _c

__all__ = ["Producer", "RecordMetadata", "SentRecords"]

_BYTES_TYPES: Final = (bytes, bytearray, memoryview)
_TOPIC_RE: Final = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_NEW, _RUNNING, _CLOSED = "new", "running", "closed"
_RECORD_BOUND: Final = 61 + 21  # batch header + a record's largest varint overhead (Java)
_APPENDED: Final = AppendResult.APPENDED
_OPENED: Final = AppendResult.NEW_BATCH
_OPENED_FULL: Final = AppendResult.NEW_BATCH | AppendResult.BATCH_FULL
_NEED_ROUTE: Final = -1
_FILLED: Final = 1  # appended, and the record opened a batch behind a full one
_yield = asyncio.sleep
_INDEX: Final = struct.Struct("=q")  # a record's index in a run (native, as memoryview 'q')
_wall_clock_ns = time.time_ns  # a record's default timestamp: wall-clock ms, as Java
_C = TypeVar("_C", bound=Completion)


async def _ready_py(future: asyncio.Future[RecordMetadata]) -> asyncio.Future[RecordMetadata]:
    return future


async def _after_fill(future: asyncio.Future[RecordMetadata]) -> asyncio.Future[RecordMetadata]:
    """``future``, after one yield: the record is queued behind a batch that just filled,
    and the sender gets to write that batch while the caller goes on producing."""
    await _yield(0)
    return future


#: What send() returns when the record is queued: awaiting it gives the record's future
#: (in C, a Ready: registered as a Coroutine, so asyncio.create_task takes it too).
_ready: Callable[
    [asyncio.Future[RecordMetadata]], Coroutine[Any, Any, asyncio.Future[RecordMetadata]]
] = _ready_py if _c is None else _c.Ready


def _no_loop() -> asyncio.Future[Any]:
    raise ProducerClosedError("the producer is not started")


def _nothing() -> None:
    return None


def _nothing_for(tp: TopicPartition) -> None:
    return None


def _check_topic(topic: object) -> str:
    if not isinstance(topic, str) or not _TOPIC_RE.match(topic) or topic in (".", ".."):
        raise InvalidTopicNameError(
            f"invalid topic name {topic!r}: 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'"
        )
    return topic


def _as_bytes(what: str, value: object) -> bytes | None:
    if value is None or type(value) is bytes:
        return value
    if isinstance(value, _BYTES_TYPES):
        return bytes(value)
    raise SerializationError(
        f"{what} must be bytes or None, not {type(value).__name__}; "
        f"pass a {what}_serializer to send other types"
    )


def _check_headers(headers: object) -> list[Header]:
    if isinstance(headers, (str, bytes)) or not isinstance(headers, Iterable):
        raise SerializationError(
            f"headers must be a sequence of (str, bytes | None) pairs, not {type(headers).__name__}"
        )
    checked: list[Header] = []
    for item in headers:
        if not isinstance(item, tuple | list) or len(item) != 2:
            raise SerializationError(f"each header must be a (name, value) pair, not {item!r}")
        name, value = item
        if not isinstance(name, str):
            raise SerializationError(f"header name must be str, not {type(name).__name__}")
        if value is not None and not isinstance(value, _BYTES_TYPES):
            raise SerializationError(
                f"header {name!r} value must be bytes or None, not {type(value).__name__}"
            )
        checked.append((name, None if value is None else bytes(value)))
    return checked


def _raise_bad_partition(topic: str, partition: object, partitions: int) -> NoReturn:
    raise ProducerError(
        f"partition {partition!r} is out of range: topic {topic!r} has {partitions} partitions"
    )


def _headers_bound(headers: Sequence[Header]) -> int:
    """Bytes the headers may take in a record (utf-8 names, varint lengths)."""
    return sum(len(name) * 4 + len(value or b"") + 10 for name, value in headers)


class Producer:
    """An asyncio Kafka producer. Use as ``async with Producer(...) as producer``."""

    def __init__(
        self, config: ProducerConfig | Mapping[str, object] | None = None, **options: object
    ) -> None:
        self.config = build_config(config, **options)
        self._state = _NEW
        self._cluster: Cluster | None = None
        self._accumulator: RecordAccumulator | None = None
        self._sender: Sender | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._idempotence: IdempotenceState | None = None
        self._partitioner: Partitioner = self.config.partitioner or DefaultPartitioner(
            batch_size=self.config.batch_size
        )
        self._space_freed: asyncio.Event | None = None
        self._valid_topics: set[str] = set()
        self._routes: dict[str, tuple[TopicInfo, list[TopicPartition]]] = {}
        self._topics: dict[str, TopicInfo] = {}
        self._key_serializer = self.config.key_serializer
        self._value_serializer = self.config.value_serializer
        self._java_partitioning = self.config.partitioner is None
        self._max_record_size = min(self.config.max_request_size, self.config.buffer_memory)
        # the futures send() and send_many() return: RecordFutures of the loop start() ran in
        self._create_future: Callable[[], asyncio.Future[Any]] = _no_loop
        self._wakeup: Callable[[], None] = _nothing
        self._wakeup_for: Callable[[TopicPartition], None] = _nothing_for

    def __repr__(self) -> str:
        return f"<Producer {self._state} client_id={self.config.client_id!r}>"

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to the cluster (within max_block_ms) and start the sender."""
        if self._state != _NEW:
            raise ProducerClosedError(f"start() on a producer that is {self._state}")
        config = self.config
        cluster = Cluster(config)
        self._cluster = cluster
        self._space_freed = asyncio.Event()
        if config.enable_idempotence:
            self._idempotence = IdempotenceState()
        self._accumulator = RecordAccumulator(
            config,
            on_space_freed=self._space_freed.set,
            on_topic_used=cluster.metadata.want,
            idempotence=self._idempotence,
        )
        self._sender = Sender(config, cluster, self._accumulator, self._idempotence)
        try:
            await cluster.bootstrap(config.max_block_ms / 1000)
            if self._idempotence is not None:
                await self._sender.init_producer_id(config.max_block_ms)
        except BaseException:
            await cluster.close()
            self._state = _CLOSED
            raise
        loop = asyncio.get_running_loop()
        self._sender_task = loop.create_task(self._sender.run(), name="aioproducer-sender")
        self._create_future = relay_for(loop).create_future
        self._wakeup = self._sender.wakeup
        self._wakeup_for = self._sender.wakeup_for
        self._topics = cluster.metadata.topics
        self._state = _RUNNING
        self._install_fast_send()

    def _install_fast_send(self) -> None:
        """Answer the common send() in C when nothing of ours must run for it (no
        serializers, Java's partitioning): the instance's ``send`` becomes a FastSend that
        hands every other call to :meth:`send`. close() takes it away."""
        config, accumulator = self.config, self._accumulator
        if _c is None or accumulator is None or self._sender is None:
            return
        if config.key_serializer or config.value_serializer or not self._java_partitioning:
            return
        self.send = _c.FastSend(  # type: ignore[method-assign]
            self.send,
            self._create_future,
            self._routes,
            self._topics,
            accumulator,
            accumulator.batches_by_partition,
            self._wakeup_for,
            RecordBatchBuilder,
            ProducerBatch,
            self._max_record_size,
            config.batch_size,
            config.buffer_memory,
            _RECORD_BOUND,
            self._open_batch,
        )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- sending ---------------------------------------------------------------------------------
    def send(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[Header] | None = None,
    ) -> Coroutine[Any, Any, asyncio.Future[RecordMetadata]]:
        """Queue one record; return an awaitable of the future of its :class:`RecordMetadata`.

        Use as ``future = await producer.send(...)``. The record is checked and queued when
        send() is called (a bad record raises then); the awaitable suspends only while the
        topic's metadata is unknown or buffer_memory is full (both bounded by max_block_ms),
        and the record is then queued when it is awaited. A started producer without
        serializers or a custom partitioner answers the common call, ``send(topic, value,
        key)`` with bytes, in C (``aioproducer._speedups.FastSend``, set as the instance's
        ``send``); this method decides every other call.
        """
        if self._state is not _RUNNING:
            raise ProducerClosedError(
                "send() before start()" if self._state is _NEW else "send() after close()"
            )
        future: asyncio.Future[RecordMetadata] = self._create_future()
        need = self._enqueue(topic, value, key, partition, timestamp_ms, headers, future)
        if need:
            if need == _FILLED:
                return _after_fill(future)
            return self._enqueue_slowly(
                need, topic, value, key, partition, timestamp_ms, headers, future
            )
        return _ready(future)

    async def send_many(
        self,
        topic: str,
        records: Iterable[tuple[object, object] | tuple[object, object, Sequence[Header]]],
        *,
        partition: int | None = None,
    ) -> asyncio.Future[SentRecords]:
        """Queue many ``(key, value)`` or ``(key, value, headers)`` records at once.

        Returns one future of :class:`SentRecords` (every record's metadata, in input
        order); it fails with the first error any record meets. All records get the same
        timestamp. Every record is checked before any is queued: a bad one raises here and
        queues nothing. Much cheaper per record than :meth:`send`: the records of a
        partition are encoded in runs, and settled a batch at a time. Waits for
        buffer_memory as :meth:`send` does; if it stays full for max_block_ms the
        :class:`~aioproducer.errors.BufferFullError` says how many records went in before
        (those are still delivered).
        """
        if self._state is not _RUNNING:
            raise ProducerClosedError(
                "send_many() before start()" if self._state is _NEW else "send_many() after close()"
            )
        records = list(records)
        route = self._routes.get(topic)
        if route is None or self._topics.get(topic) is not route[0]:
            route = await self._route(topic)
        info, tps = route
        if partition is not None and (type(partition) is not int or not 0 <= partition < len(tps)):
            _raise_bad_partition(topic, partition, len(tps))
        timestamp_ms = _wall_clock_ns() // 1_000_000
        plan = self._plan_runs(topic, info, len(tps), records, partition)
        group = RecordGroup(self._create_future(), topic, len(records), timestamp_ms)
        filled = await self._queue_planned(
            topic, tps, partition, timestamp_ms, records, plan, group
        )
        group.close()
        if filled:
            self._wakeup()
            await _yield(0)  # let the sender write what filled up
        return group.future

    def _plan_runs(
        self,
        topic: str,
        info: TopicInfo,
        partitions: int,
        records: list[Any],
        partition: int | None,
    ) -> tuple[list[tuple[int, Sequence[int]]], list[int]]:
        """Check every record (serializing in place); return the indices per partition and
        those of records with headers (appended one by one)."""
        runs = [bytearray() for _ in range(partitions)]  # int64 indices, native order
        alone: list[int] = []
        limit = self._max_record_size - _RECORD_BOUND
        plain = self._key_serializer is None and self._value_serializer is None
        if plain and partition is None and self._java_partitioning:
            # The common case: bytes keys and values, Java's hash, in C or one tight loop.
            index = 0
            while index < len(records):
                if _c is not None:
                    index = _c.plan_keyed(records, runs, limit, index)
                else:
                    index = self._plan_keyed_py(records, runs, limit, index)
                if index < len(records):
                    self._place(topic, info, records, index, partition, runs, alone)
                    index += 1
        else:
            for index in range(len(records)):
                self._place(topic, info, records, index, partition, runs, alone)
        if partition is not None and not alone:
            return [(partition, range(len(records)))], []
        return [
            (number, memoryview(run).cast("q")) for number, run in enumerate(runs) if run
        ], alone

    @staticmethod
    def _plan_keyed_py(records: list[Any], runs: list[bytearray], limit: int, start: int) -> int:
        """The Python twin of the C ``plan_keyed``: place records from ``start`` on that are
        (bytes, bytes) within ``limit`` by Java's hash; return where it stopped."""
        extend = [run.extend for run in runs]
        pack, partitions = _INDEX.pack, len(runs)
        for index in range(start, len(records)):
            record = records[index]
            if type(record) is not tuple or len(record) != 2:
                return index
            key, value = record
            if type(key) is not bytes or type(value) is not bytes or len(key) + len(value) > limit:
                return index
            extend[positive_murmur2(key) % partitions](pack(index))
        return len(records)

    def _place(  # noqa: PLR0917
        self,
        topic: str,
        info: TopicInfo,
        records: list[Any],
        index: int,
        partition: int | None,
        runs: list[bytearray],
        alone: list[int],
    ) -> None:
        """Check and serialize ``records[index]`` and add its index to its partition's run
        (or to ``alone`` when it has headers)."""
        record = records[index]
        if not isinstance(record, tuple | list) or len(record) not in (2, 3):
            raise SerializationError(
                f"send_many() takes (key, value) or (key, value, headers) records, not {record!r}"
            )
        key, value = record[0], record[1]
        if self._key_serializer is not None:
            key = self._key_serializer(key)
        if self._value_serializer is not None:
            value = self._value_serializer(value)
        key, value = _as_bytes("key", key), _as_bytes("value", value)
        size = _RECORD_BOUND + (len(key) if key else 0) + (len(value) if value else 0)
        headers = _check_headers(record[2]) if len(record) == 3 and record[2] else []
        size += _headers_bound(headers)
        if size > self._max_record_size:
            self._raise_too_large(size)
        if len(record) == 3:  # with headers: appended alone, after the runs
            records[index] = (key, value, headers)
            alone.append(index)
            return
        records[index] = (key, value)
        if partition is None:
            if key is not None and self._java_partitioning:
                partition = positive_murmur2(key) % len(runs)
            else:
                partition = self._partitioner.partition(
                    topic, key, value, range(len(runs)), info.available
                )
                if key is None:
                    self._partitioner.on_append(topic, partition, size, True)
        runs[partition] += _INDEX.pack(index)

    async def _queue_planned(  # noqa: PLR0917
        self,
        topic: str,
        tps: list[TopicPartition],
        partition: int | None,
        timestamp_ms: int,
        records: list[Any],
        plan: tuple[list[tuple[int, Sequence[int]]], list[int]],
        group: RecordGroup,
    ) -> bool:
        """Append the checked records of ``send_many``: each partition's run, then those
        with headers one by one, waiting for buffer space (max_block_ms per wait). Returns
        whether a batch filled up. An error while waiting says how many went in before."""
        accumulator = self._accumulator
        assert accumulator is not None
        runs, alone = plan
        filled, queued = False, 0
        try:
            for number, run in runs:
                indices = run
                while indices:
                    done, full = accumulator.append_run(
                        tps[number], timestamp_ms, records, indices, group
                    )
                    filled |= full
                    queued += done
                    indices = indices[done:]
                    if indices:
                        if full:
                            self._wakeup()
                        deadline = time.monotonic() + self.config.max_block_ms / 1000
                        await self._wait_for_space(accumulator.batch_bytes, deadline)
                        if self._state is not _RUNNING:
                            raise ProducerClosedError(
                                "the producer was closed while send_many() waited"
                            )
            for index in alone:
                key, value, headers = records[index]
                slot = group.slot(index)
                need = self._enqueue(
                    topic, value, key, partition, timestamp_ms, headers, slot, True
                )
                if need:
                    await self._enqueue_slowly(
                        need, topic, value, key, partition, timestamp_ms, headers, slot, True
                    )
                queued += 1
        except (BufferFullError, ProducerClosedError) as exc:
            raise type(exc)(
                f"{exc}; {queued} of the {len(records)} records went in before and are "
                "still delivered"
            ) from exc
        return filled

    def _enqueue(  # noqa: PLR0917 - the hot path: positional calls are cheapest
        self,
        topic: str,
        value: object,
        key: object,
        partition: int | None,
        timestamp_ms: int | None,
        headers: Sequence[Header] | None,
        completion: Completion,
        serialized: bool = False,
    ) -> int:
        """Append one record now (``serialized``: key and value went through the
        serializers already).

        Returns 0 when appended; ``_FILLED`` when appended behind a batch that just filled
        up (the caller should yield to the sender); ``_NEED_ROUTE`` when the topic's
        metadata must be waited for; else the bytes of buffer_memory the record needs.
        """
        # Serialize and check types: bytes pass straight through.
        if self._key_serializer is not None and not serialized:
            key = self._key_serializer(key)
        if key is not None and type(key) is not bytes:
            key = _as_bytes("key", key)
        if self._value_serializer is not None and not serialized:
            value = self._value_serializer(value)
        if value is not None and type(value) is not bytes:
            value = _as_bytes("value", value)
        key_bytes: bytes | None = key
        value_bytes: bytes | None = value
        size = _RECORD_BOUND
        if key_bytes is not None:
            size += len(key_bytes)
        if value_bytes is not None:
            size += len(value_bytes)
        header_list: Sequence[Header] = ()
        if headers:
            header_list = _check_headers(headers)
            size += _headers_bound(header_list)
        if timestamp_ms is None:
            timestamp_ms = _wall_clock_ns() // 1_000_000
        elif type(timestamp_ms) is not int or timestamp_ms < 0:
            raise SerializationError(
                f"timestamp_ms must be a non-negative int, not {timestamp_ms!r}"
            )
        if size > self._max_record_size:
            self._raise_too_large(size)

        # Where it goes: a cached list of TopicPartitions per known topic.
        route = self._routes.get(topic)
        if route is None or self._topics.get(topic) is not route[0]:
            return _NEED_ROUTE
        info, tps = route
        if partition is None:
            if key_bytes is not None and self._java_partitioning:
                partition = (murmur2(key_bytes) & 0x7FFFFFFF) % len(tps)  # no frame of ours
            else:
                partition = self._partitioner.partition(
                    topic, key_bytes, value_bytes, range(len(tps)), info.available
                )
        elif type(partition) is not int or not 0 <= partition < len(tps):
            _raise_bad_partition(topic, partition, len(tps))
        accumulator = self._accumulator
        assert accumulator is not None
        if not accumulator.has_room(size):
            return size
        result = accumulator.append(
            tps[partition], timestamp_ms, key_bytes, value_bytes, header_list, completion
        )
        if result is _APPENDED:
            if key_bytes is None:
                self._partitioner.on_append(topic, partition, size, False)
            return 0
        # The other results: BATCH_FULL, NEW_BATCH, or both (constants: compared by identity).
        if key_bytes is None:
            self._partitioner.on_append(topic, partition, size, result is not _OPENED)
        self._wakeup_for(tps[partition])
        return _FILLED if result is _OPENED_FULL else 0

    def _open_batch(
        self, tp: TopicPartition, timestamp_ms: int, key: bytes, value: bytes | None
    ) -> Coroutine[Any, Any, asyncio.Future[RecordMetadata]]:
        """FastSend's call for a keyed record that opens a batch of ``tp``: what
        :meth:`send` does with it once FastSend has checked everything else (types, size,
        route, partition by Java's hash, room in buffer_memory, accumulator open)."""
        future: asyncio.Future[RecordMetadata] = self._create_future()
        accumulator = self._accumulator
        assert accumulator is not None
        result = accumulator.append_new_batch(tp, timestamp_ms, key, value, future)
        self._wakeup_for(tp)
        return _after_fill(future) if result is _OPENED_FULL else _ready(future)

    async def _enqueue_slowly(  # noqa: PLR0917
        self,
        need: int,
        topic: str,
        value: object,
        key: object,
        partition: int | None,
        timestamp_ms: int | None,
        headers: Sequence[Header] | None,
        completion: _C,
        serialized: bool = False,
    ) -> _C:
        """Wait for metadata or buffer space (max_block_ms in all), then append; return
        ``completion``.

        ``need == _FILLED``: the record is in; yield once so the sender can write the batch
        that just filled up while the caller goes on producing.
        """
        if need == _FILLED:
            await _yield(0)
            return completion
        deadline = time.monotonic() + self.config.max_block_ms / 1000
        while need > _FILLED or need == _NEED_ROUTE:
            if need == _NEED_ROUTE:
                await self._route(topic, max(0.0, deadline - time.monotonic()))
            else:
                await self._wait_for_space(need, deadline)
            if self._state is not _RUNNING:
                raise ProducerClosedError("the producer was closed while send() waited")
            need = self._enqueue(
                topic, value, key, partition, timestamp_ms, headers, completion, serialized
            )
        return completion

    async def _route(
        self, topic: str, timeout: float | None = None
    ) -> tuple[TopicInfo, list[TopicPartition]]:
        """The topic's metadata and partitions, waiting for them up to ``timeout`` seconds."""
        if topic not in self._valid_topics:
            self._valid_topics.add(_check_topic(topic))
        cluster = self._cluster
        assert cluster is not None
        cluster.metadata.want(topic, now_ms())
        info = cluster.metadata.topics.get(topic)
        if info is None or info.error is not None:
            if timeout is None:
                timeout = self.config.max_block_ms / 1000
            info = await cluster.wait_for_topic(topic, timeout)
        route = (info, [TopicPartition(topic, p) for p in range(info.num_partitions)])
        self._routes[topic] = route
        return route

    def _raise_too_large(self, size: int) -> None:
        config = self.config
        limit, name = min(
            (config.max_request_size, "max_request_size"), (config.buffer_memory, "buffer_memory")
        )
        raise RecordTooLargeError(
            f"the record is up to {size} bytes serialized, more than {name} ({limit})"
        )

    async def _wait_for_space(self, size: int, deadline: float) -> None:
        accumulator, event = self._accumulator, self._space_freed
        assert accumulator is not None
        assert event is not None
        accumulator.memory_waiters += 1  # every batch is ready while someone waits (Java)
        assert self._sender is not None
        self._sender.wakeup()
        try:
            while not accumulator.has_room(size) and self._state == _RUNNING:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BufferFullError(
                        f"buffer_memory ({self.config.buffer_memory} bytes) stayed full for "
                        f"max_block_ms ({self.config.max_block_ms} ms)"
                    )
                event.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await event.wait()
        finally:
            accumulator.memory_waiters -= 1

    async def send_and_wait(
        self,
        topic: str,
        value: object = None,
        key: object = None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: Sequence[Header] | None = None,
    ) -> RecordMetadata:
        """Send one record and wait until it is acknowledged."""
        future = await self.send(
            topic, value, key, partition=partition, timestamp_ms=timestamp_ms, headers=headers
        )
        return await future

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every record sent so far is acknowledged or failed."""
        accumulator, sender, event = self._accumulator, self._sender, self._space_freed
        if accumulator is None or sender is None or event is None:
            return
        token = accumulator.begin_flush()
        sender.wakeup()
        try:
            async with asyncio.timeout(timeout):
                while not accumulator.flush_done(token):
                    event.clear()
                    await event.wait()
        except TimeoutError as exc:
            raise KafkaTimeoutError(f"flush() did not finish within {timeout} s") from exc
        finally:
            accumulator.end_flush()

    async def partitions_for(self, topic: str) -> list[int]:
        """The partition numbers of ``topic`` (waiting up to max_block_ms for its metadata)."""
        if self._state != _RUNNING or self._cluster is None:
            raise ProducerClosedError(f"partitions_for() on a producer that is {self._state}")
        _, tps = await self._route(topic)
        return list(range(len(tps)))

    # -- closing ---------------------------------------------------------------------------------
    async def close(self, timeout: float | None = None) -> None:
        """Flush, then stop every task and connection; fail what is left after ``timeout`` s."""
        self._stop_waits()
        if self._state == _CLOSED:
            return
        was_running = self._state == _RUNNING
        self._state = _CLOSED
        self.__dict__.pop("send", None)  # the FastSend, if any: send() now raises
        if self._space_freed is not None:
            self._space_freed.set()
        sender, task = self._sender, self._sender_task
        if was_running and sender is not None and task is not None:
            sender.initiate_close()
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(task)
            except TimeoutError:
                sender.force_close(
                    ProducerClosedError(
                        f"the producer was closed (timeout {timeout} s) before "
                        "these records were delivered"
                    )
                )
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._cluster is not None:
            await self._cluster.close()

    stop = close  # aiokafka's name

    def _stop_waits(self) -> None:
        """Wake every send(), send_many() and partitions_for() waiting for metadata: they
        raise ProducerClosedError."""
        if self._cluster is not None:
            self._cluster.stop_waits()

    @property
    def closed(self) -> bool:
        return self._state == _CLOSED
