"""A bounded chaos test: 20-30 s of producing through a proxy that fails at random.

The proxy (faulty_proxy.Chaos) blackholes connections, kills them (also after the broker
appended a Produce), drops Produce responses and delays responses, with dice seeded from
``AIOPRODUCER_CHAOS_SEED`` when set (a failure prints the seed to replay). Keyed records
carry a per-key sequence number; read back with confluent-kafka, every acknowledged record
must be where its future said, none twice, and each key's records in order.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import pytest
from faulty_proxy import Chaos, FaultyProxy, proxied_cluster

from aioproducer import Producer, RecordMetadata
from aioproducer._batch import SentRecords
from aioproducer._connection import BrokerConnection
from aioproducer.errors import BrokerUnavailableError, ProducerError
from aioproducer.testing import LocalKafkaCluster, free_port
from aioproducer.testing.readback import ConsumedRecord, consume_all

pytestmark = pytest.mark.integration

PARTITIONS = 6
KEYS = [b"key-%02d" % i for i in range(48)]
MIN_SECONDS, MAX_SECONDS = 20.0, 30.0
"""Produce for MIN_SECONDS, then (up to MAX_SECONDS) until every fault kind has fired and a
request has timed out, forcing the faults the dice have not rolled yet."""
MAX_RECORDS = 120_000
REQUEST_TIMEOUT_MS = 1500
CLOSE_BOUND_S = 30.0
FAULT_KINDS = ("blackhole", "kill", "kill_after_produce", "drop", "delay")

Id = tuple[bytes, int]
"""A record's identity: its key and its sequence number for that key."""


def _chaos(seed: int) -> Chaos:
    return Chaos(seed, blackhole=0.008, kill=0.012, drop=0.015, delay=0.05)


def _seed() -> int:
    replay = os.environ.get("AIOPRODUCER_CHAOS_SEED")
    return int(replay) if replay else random.SystemRandom().randrange(2**32)


def _value(rid: Id, padding: int) -> bytes:
    return b"%s:%d:" % rid + b"v" * padding


def _parse(record: ConsumedRecord) -> Id:
    assert record.value is not None
    key, seq = record.value.split(b":")[:2]
    assert key == record.key, f"value {record.value[:20]!r} under key {record.key!r}"
    return key, int(seq)


class _Timeouts(logging.Handler):
    """Counts the connection's "request ... timed out" warnings."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += "timed out" in record.getMessage()


@dataclass
class Sent:
    """What the test produced: futures of single records and of send_many groups."""

    singles: list[tuple[Id, asyncio.Future[RecordMetadata]]] = field(default_factory=list)
    groups: list[tuple[list[Id], asyncio.Future[SentRecords]]] = field(default_factory=list)
    count: int = 0

    def outcomes(self) -> tuple[dict[Id, RecordMetadata], dict[Id, BaseException]]:
        """Acknowledged records with their metadata, and failed ones with their error."""
        acked: dict[Id, RecordMetadata] = {}
        failed: dict[Id, BaseException] = {}
        for rid, future in self.singles:
            if (exc := future.exception()) is None:
                acked[rid] = future.result()
            else:
                failed[rid] = exc
        for rids, group in self.groups:
            error = group.exception()
            for i, rid in enumerate(rids):
                if error is None:
                    acked[rid] = group.result()[i]
                else:
                    failed[rid] = error
        return acked, failed


async def _produce(
    producer: Producer, topic: str, rng: random.Random, enough: Callable[[], bool]
) -> Sent:
    """send() and send_many() at random, paced, until the time or record bound."""
    sent = Sent()
    next_seq = dict.fromkeys(KEYS, 0)

    def next_id() -> Id:
        key = rng.choice(KEYS)
        next_seq[key] += 1
        return key, next_seq[key] - 1

    started = time.monotonic()
    while sent.count < MAX_RECORDS:
        elapsed = time.monotonic() - started
        if elapsed >= MAX_SECONDS or (elapsed >= MIN_SECONDS and enough()):
            break
        if rng.random() < 0.5:
            rid = next_id()
            future = await producer.send(topic, _value(rid, rng.randrange(100)), rid[0])
            sent.singles.append((rid, future))
            sent.count += 1
        else:
            rids = [next_id() for _ in range(rng.randint(1, 100))]
            records = [(rid[0], _value(rid, rng.randrange(100))) for rid in rids]
            sent.groups.append((rids, await producer.send_many(topic, records)))
            sent.count += len(rids)
        await asyncio.sleep(0.01)
    return sent


def _check(records: list[ConsumedRecord], sent: Sent) -> tuple[int, int]:
    """Assert what the brief demands; return (acknowledged, failed) counts."""
    acked, failed = sent.outcomes()
    untyped = {rid: exc for rid, exc in failed.items() if not isinstance(exc, ProducerError)}
    assert not untyped, f"failures that are not ProducerError: {list(untyped.items())[:5]}"
    assert len(acked) + len(failed) == sent.count

    found: dict[Id, list[tuple[int, int]]] = defaultdict(list)
    last_seq: dict[tuple[int, bytes], int] = {}
    disorder = []
    for record in records:  # partition order, then offset order
        rid = _parse(record)
        found[rid].append((record.partition, record.offset))
        previous = last_seq.get((record.partition, rid[0]), -1)
        if rid[1] <= previous:
            disorder.append((record.partition, record.offset, rid, previous))
        last_seq[record.partition, rid[0]] = rid[1]
    foreign = [rid for rid in found if rid not in acked and rid not in failed]
    duplicated = {rid: places for rid, places in found.items() if len(places) > 1}
    missing = sorted(rid for rid in acked if rid not in found)
    misplaced = {
        rid: ((md.partition, md.offset), found[rid])
        for rid, md in acked.items()
        if rid in found and [(md.partition, md.offset)] != found[rid]
    }
    assert not foreign, f"records nobody sent: {foreign[:5]}"
    assert not duplicated, f"{len(duplicated)} duplicated, e.g. {list(duplicated.items())[:5]}"
    assert not missing, f"{len(missing)} acknowledged records missing, e.g. {missing[:10]}"
    assert not disorder, f"{len(disorder)} out of order (p, offset, id, previous): {disorder[:5]}"
    wrong = list(misplaced.items())[:5]
    assert not misplaced, f"{len(misplaced)} not at the reported offset, e.g. {wrong}"
    return len(acked), len(failed)


@pytest.fixture
async def chaos_broker() -> AsyncIterator[tuple[LocalKafkaCluster, FaultyProxy]]:
    async with proxied_cluster() as pair:
        yield pair


@pytest.fixture
def request_timeouts() -> Iterator[_Timeouts]:
    handler = _Timeouts()
    logger = logging.getLogger("aioproducer.connection")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.mark.slow
async def test_chaos(
    chaos_broker: tuple[LocalKafkaCluster, FaultyProxy],
    request_timeouts: _Timeouts,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cluster, proxy = chaos_broker

    def enough() -> bool:
        """Has every fault kind fired, and a request timed out? Force what has not."""
        missing = [kind for kind in FAULT_KINDS if not proxy.faults[kind]]
        if not request_timeouts.count:
            missing.append("blackhole")  # until one outlasts request_timeout_ms
        for kind in missing:
            proxy.force(kind)
        return not missing

    seed = _seed()
    print(f"\nchaos seed {seed} (replay with AIOPRODUCER_CHAOS_SEED={seed})")
    caplog.set_level(logging.DEBUG, logger="aioproducer")
    caplog.set_level(logging.INFO, logger="faulty_proxy")
    try:
        topic = await asyncio.to_thread(cluster.create_topic, None, PARTITIONS)
        proxy.chaos = _chaos(seed)
        started = time.monotonic()
        producer = Producer(
            bootstrap_servers=f"127.0.0.1:{proxy.port}",
            request_timeout_ms=REQUEST_TIMEOUT_MS,
            delivery_timeout_ms=120_000,
            retry_backoff_ms=50,
        )
        await producer.start()
        try:
            sent = await _produce(producer, topic, random.Random(seed), enough)
        finally:
            produced = time.monotonic()
            await producer.close()
        closed = time.monotonic()
        proxy.chaos = None
        records = await asyncio.to_thread(consume_all, cluster.bootstrap_servers, topic)
        acked, failed = _check(records, sent)
        timeouts = request_timeouts.count
        print(
            f"chaos: {sent.count} records ({len(sent.singles)} send, {len(sent.groups)} "
            f"send_many) in {produced - started:.1f} s, close() {closed - produced:.1f} s; "
            f"{acked} acknowledged, {failed} failed, {len(records)} read back; faults "
            f"{dict(proxy.faults)}, {timeouts} request timeouts, "
            f"{proxy.produce_responses} Produce responses, blackholes "
            f"{sorted(round(s, 1) for s in proxy.blackhole_seconds)}"
        )
        assert closed - produced < CLOSE_BOUND_S, f"close() took {closed - produced:.1f} s"
        assert acked >= 0.99 * sent.count, f"{failed} of {sent.count} records failed"
        assert all(proxy.faults[kind] for kind in FAULT_KINDS), f"faults: {dict(proxy.faults)}"
        assert timeouts, "no blackhole outlasted request_timeout_ms"
    except BaseException as exc:
        exc.add_note(f"chaos seed {seed}: replay with AIOPRODUCER_CHAOS_SEED={seed}")
        raise


async def test_proxy_stops_during_a_blackhole(kafka_bootstrap: str) -> None:
    """stop() ends connections a blackhole holds at once, and the client sees them go."""
    host, port = kafka_bootstrap.split(",", maxsplit=1)[0].rsplit(":", 1)
    assert host == "127.0.0.1", "the proxy forwards to loopback only"
    proxy = FaultyProxy(free_port(), int(port), chaos=Chaos(7, blackhole=1.0, blackhole_s=(9, 9)))
    await proxy.start()
    conn = BrokerConnection("127.0.0.1", proxy.port, request_timeout_ms=30_000)
    connecting = asyncio.create_task(conn.connect(30))
    await asyncio.sleep(0.5)  # the first frame (ApiVersions) falls into the blackhole
    assert proxy.faults["blackhole"] == 1
    started = time.monotonic()
    await proxy.stop()
    assert time.monotonic() - started < 1
    with pytest.raises(BrokerUnavailableError, match="was lost"):
        await connecting
    conn.close()
