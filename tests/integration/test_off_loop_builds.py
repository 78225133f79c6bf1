"""Large compressed batches are built on a worker thread, small ones on the loop; close()
never waits for a build it was told not to wait for. Read back with confluent-kafka."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from aioproducer import Producer, RecordMetadata
from aioproducer._offloop import OFF_LOOP_MIN_BYTES
from aioproducer._protocol import records as records_module
from aioproducer._protocol.compression import CompressionType, compress
from aioproducer.errors import ProducerClosedError
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all

pytestmark = pytest.mark.integration

LARGE = OFF_LOOP_MIN_BYTES[CompressionType.GZIP]


@dataclass
class Spy:
    """Stands in for the codec the builder calls: which thread compressed how many bytes;
    ``gate`` holds compression on worker threads (``started`` is set when one waits)."""

    calls: list[tuple[int, str, int]] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)

    def compress(self, codec: CompressionType, data: memoryview, level: int | None = None) -> bytes:
        thread = threading.current_thread()
        self.calls.append((thread.ident or 0, thread.name, len(data)))
        if thread is not threading.main_thread():
            self.started.set()
            assert self.gate.wait(60)
        return compress(codec, data, level)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spy]:
    watcher = Spy()
    watcher.gate.set()
    monkeypatch.setattr(records_module, "compress", watcher.compress)
    yield watcher
    watcher.gate.set()  # never leave a worker thread waiting


def _values(count: int) -> list[bytes]:
    return [
        b"%07d:" % i + b'{"name": "record", "score": %d}' % (i * 7919) * 30 for i in range(count)
    ]


@pytest.mark.parametrize("idempotent", [True, False])
async def test_large_gzip_batches_compress_off_the_loop_and_arrive_in_order(
    kafka_bootstrap: str, new_topic: TopicFactory, spy: Spy, idempotent: bool
) -> None:
    topic = new_topic(partitions=2)
    values = _values(4000)  # about 4 MiB: two or more 1 MiB batches per partition
    async with Producer(
        bootstrap_servers=kafka_bootstrap,
        compression_type="gzip",
        batch_size=1 << 20,
        linger_ms=1000,
        enable_idempotence=idempotent,
    ) as producer:
        futures = [
            await producer.send(topic, value, partition=i % 2) for i, value in enumerate(values)
        ]
        await asyncio.gather(*futures)
    loop_thread = threading.get_ident()
    large = [(ident, name) for ident, name, size in spy.calls if size >= LARGE]
    assert len(large) >= 4
    assert all(ident != loop_thread for ident, _ in large)
    assert all(name.startswith("aioproducer-compress") for _, name in large)
    assert all(ident == loop_thread for ident, _, size in spy.calls if size < LARGE)
    records = consume_all(kafka_bootstrap, topic)
    for partition in (0, 1):
        assert [r.value for r in records if r.partition == partition] == values[partition::2]


async def test_small_gzip_batches_compress_on_the_loop(
    kafka_bootstrap: str, new_topic: TopicFactory, spy: Spy
) -> None:
    topic = new_topic()
    values = _values(300)
    async with Producer(
        bootstrap_servers=kafka_bootstrap, compression_type="gzip", batch_size=2048, linger_ms=5
    ) as producer:
        await asyncio.gather(*[await producer.send(topic, value) for value in values])
    assert len(spy.calls) >= 100
    assert {ident for ident, _, _ in spy.calls} == {threading.get_ident()}
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == values


async def _pending_build(
    kafka_bootstrap: str, topic: str, spy: Spy
) -> tuple[Producer, list[asyncio.Future[RecordMetadata]]]:
    """A started gzip producer whose first 1 MiB batch is held in its build on a thread."""
    spy.gate.clear()
    producer = Producer(
        bootstrap_servers=kafka_bootstrap, compression_type="gzip", batch_size=1 << 20, linger_ms=0
    )
    await producer.start()
    futures: list[asyncio.Future[RecordMetadata]] = [
        await producer.send(topic, value)
        for value in _values(1200)  # over 1 MiB
    ]
    await asyncio.to_thread(spy.started.wait, 60)
    return producer, futures


async def test_close_with_a_timeout_does_not_wait_for_a_pending_build(
    kafka_bootstrap: str, new_topic: TopicFactory, spy: Spy
) -> None:
    topic = new_topic()
    producer, futures = await _pending_build(kafka_bootstrap, topic, spy)
    await producer.close(timeout=0.2)  # returns while the build is held
    spy.gate.set()
    for future in futures:
        assert isinstance(future.exception(), ProducerClosedError)
    assert consume_all(kafka_bootstrap, topic) == []


async def test_close_waits_for_a_pending_build_and_delivers(
    kafka_bootstrap: str, new_topic: TopicFactory, spy: Spy
) -> None:
    topic = new_topic()
    producer, futures = await _pending_build(kafka_bootstrap, topic, spy)
    closing = asyncio.create_task(producer.close())
    await asyncio.sleep(0.1)
    assert not closing.done()  # held by the build: nothing can be sent before it
    spy.gate.set()
    await closing
    await asyncio.gather(*futures)
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == _values(1200)
