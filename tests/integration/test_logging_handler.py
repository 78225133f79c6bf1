"""aioproducer.logging.KafkaHandler against a real broker: records from threads, from inside
a running event loop, from a dictConfig'd process at exit; with the cluster away. Every
record is read back with confluent-kafka."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aioproducer._partitioner import partition_for_key
from aioproducer.logging import KafkaHandler
from aioproducer.testing import free_port
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import ConsumedRecord, consume_all

pytestmark = pytest.mark.integration

UVLOOP = os.environ.get("AIOPRODUCER_TEST_LOOP", "asyncio") == "uvloop"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    """A logger of its own (not propagating to pytest's handlers), cleared afterwards."""
    log = logging.getLogger(f"app.{request.node.name}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in log.handlers[:]:
        log.removeHandler(handler)
        handler.close()


def handler_for(topic: str, bootstrap: str, **options: Any) -> KafkaHandler:
    return KafkaHandler(topic, bootstrap_servers=bootstrap, use_uvloop=UVLOOP, **options)


def documents(records: list[ConsumedRecord]) -> list[dict[str, object]]:
    docs = []
    for record in records:
        assert record.value is not None
        doc = json.loads(record.value)
        assert isinstance(doc, dict)
        docs.append(doc)
    return docs


def test_records_from_four_threads_arrive_as_json(
    kafka_bootstrap: str, new_topic: TopicFactory, logger: logging.Logger
) -> None:
    """The issue's figure: 5,000 records from 4 threads of a sync process all arrive, as
    JSON, keyed by logger name (so each thread's records keep their order)."""
    topic = new_topic(partitions=3)
    handler = handler_for(topic, kafka_bootstrap, key_attribute="name")
    logger.addHandler(handler)
    per_thread = 1250

    def work(n: int) -> None:
        log = logger.getChild(f"t{n}")
        for i in range(per_thread):
            log.info("thread %d record %d", n, i, extra={"n": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,), name=f"worker-{n}") for n in range(4)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logged = time.perf_counter() - started
    handler.close()
    closed = time.perf_counter() - started - logged
    print(f"\n5000 records from 4 threads: logged in {logged:.3f} s, close() {closed:.3f} s")
    assert (handler.sent, handler.failed, handler.dropped) == (5000, 0, 0)
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == 5000
    seen: dict[str, list[int]] = defaultdict(list)
    for record, doc in zip(records, documents(records), strict=True):
        assert record.key == f"{logger.name}.t{doc['n']}".encode()
        assert record.partition == partition_for_key(record.key, 3)
        assert doc["logger"] == record.key.decode()
        assert doc["level"] == "INFO"
        assert doc["message"] == f"thread {doc['n']} record {doc['i']}"
        assert doc["thread"] == f"worker-{doc['n']}"
        assert doc["process"] == os.getpid()
        assert isinstance(doc["time"], str)
        assert doc["time"].endswith("+00:00")
        seen[record.key.decode()].append(doc["i"])  # type: ignore[arg-type]
    assert all(order == list(range(per_thread)) for order in seen.values())
    assert len(seen) == 4


def test_extra_fields_exception_and_stack_are_in_the_json(
    kafka_bootstrap: str, new_topic: TopicFactory, logger: logging.Logger
) -> None:
    topic = new_topic()
    handler = handler_for(topic, kafka_bootstrap)
    logger.addHandler(handler)
    opaque = object()
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logger.exception("it failed", extra={"user": "ünï", "count": 3, "opaque": opaque})
    logger.warning("here", stack_info=True, extra={"time": "not the time"})
    logger.info("lone \udcff surrogate")
    handler.close()
    first, second, third = documents(consume_all(kafka_bootstrap, topic))
    assert first["message"] == "it failed"
    assert first["level"] == "ERROR"
    assert (first["user"], first["count"], first["opaque"]) == ("ünï", 3, str(opaque))
    assert isinstance(first["exception"], str)
    assert first["exception"].startswith("Traceback")
    assert "ZeroDivisionError: division by zero" in first["exception"]
    assert "exception" not in second
    assert isinstance(second["stack"], str)
    assert "test_extra_fields_exception_and_stack" in second["stack"]
    assert second["time"] != "not the time"  # the record's own fields win
    assert third["message"] == "lone \udcff surrogate"  # escaped in JSON, read back intact


def test_the_key_is_any_record_attribute(
    kafka_bootstrap: str, new_topic: TopicFactory, logger: logging.Logger
) -> None:
    topic = new_topic(partitions=4)
    handler = handler_for(topic, kafka_bootstrap, key_attribute="tenant")
    logger.addHandler(handler)
    for i in range(40):
        logger.info("record %d", i, extra={"tenant": f"tenant-{i % 5}"})
    logger.info("no tenant")
    handler.close()
    records = consume_all(kafka_bootstrap, topic)
    keys = sorted({r.key for r in records if r.key is not None})
    assert keys == [f"tenant-{i}".encode() for i in range(5)]
    assert all(r.partition == partition_for_key(r.key, 4) for r in records if r.key is not None)
    assert [r.key for r in records if documents([r])[0]["message"] == "no tenant"] == [None]


def test_cluster_away_log_calls_return_at_once_and_are_counted(
    logger: logging.Logger, capfd: pytest.CaptureFixture[str]
) -> None:
    """The issue's figure: 1,000 log calls with the cluster away return in well under a
    second in total; each record is counted as dropped, with a rate-limited notice."""
    away = f"127.0.0.1:{free_port()}"
    handler = handler_for("logs", away, queue_size=100, timeout=1.0, max_block_ms=60_000)
    logger.addHandler(handler)
    slowest, started = 0.0, time.perf_counter()
    for i in range(1000):
        before = time.perf_counter()
        logger.error("nobody listens %d", i)
        slowest = max(slowest, time.perf_counter() - before)
    took = time.perf_counter() - started
    with capfd.disabled():
        print(
            f"\n1000 log calls, cluster away: {took * 1000:.1f} ms, slowest {slowest * 1000:.2f} ms"
        )
    assert took < 1.0
    assert handler.dropped == 900  # the queue holds 100 while the producer tries to connect
    started = time.perf_counter()
    handler.close()
    closing = time.perf_counter() - started
    with capfd.disabled():
        print(f"close() with the cluster away: {closing:.3f} s (timeout 1.0 s)")
    assert closing < 2.0
    assert (handler.sent, handler.failed, handler.dropped) == (0, 0, 1000)
    notices = [line for line in capfd.readouterr().err.splitlines() if "aioproducer" in line]
    assert 1 <= len(notices) <= 3, notices  # at once, then at close(): not one per record
    assert "dropped (not connected): " in notices[0]
    handler.close()  # idempotent
    assert handler.dropped == 1000


def test_close_during_retry_pause_is_prompt(logger: logging.Logger) -> None:
    """After a failed attempt to reach the cluster the handler waits before the next; a
    close() then returns at once, and log calls drop without waiting (even with block_ms)."""
    handler = handler_for(
        "logs", f"127.0.0.1:{free_port()}", max_block_ms=100, block_ms=5000, queue_size=1
    )
    logger.addHandler(handler)
    logger.error("first")
    deadline = time.monotonic() + 10
    while not handler._away and time.monotonic() < deadline:
        time.sleep(0.01)
    assert handler._away
    started = time.perf_counter()
    for i in range(100):
        logger.error("dropped %d", i)
    assert time.perf_counter() - started < 0.5  # block_ms applies only while connected
    started = time.perf_counter()
    handler.close()
    assert time.perf_counter() - started < 1.0
    assert (handler.sent, handler.failed, handler.dropped) == (0, 0, 101)


def test_block_ms_waits_for_room_instead_of_dropping(
    kafka_bootstrap: str, new_topic: TopicFactory, logger: logging.Logger
) -> None:
    topic = new_topic()
    handler = handler_for(topic, kafka_bootstrap, queue_size=5, block_ms=10_000)
    logger.addHandler(handler)
    logger.info("connect")
    handler.flush()
    for i in range(2000):
        logger.info("record %d", i)
    handler.close()
    assert (handler.sent, handler.failed, handler.dropped) == (2001, 0, 0)
    assert len(consume_all(kafka_bootstrap, topic)) == 2001


async def test_logging_inside_a_running_loop_does_not_block_it(
    kafka_bootstrap: str, new_topic: TopicFactory, logger: logging.Logger
) -> None:
    """emit() on the loop's thread only formats and queues: a 1 ms sleeper keeps its pace,
    and block_ms never makes a loop's thread wait (a full queue drops instead)."""
    topic = new_topic()
    handler = handler_for(topic, kafka_bootstrap, queue_size=100_000)
    logger.addHandler(handler)
    lags: list[float] = []
    stop = asyncio.Event()

    async def sleeper() -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - before - 0.001)

    task = asyncio.create_task(sleeper())
    slowest = 0.0
    for i in range(5000):
        before = time.perf_counter()
        logger.info("from the loop %d", i)
        slowest = max(slowest, time.perf_counter() - before)
        if i % 50 == 49:
            await asyncio.sleep(0)
    await asyncio.sleep(0.05)
    stop.set()
    await task
    lags.sort()
    print(
        f"\n5000 records logged on the loop: slowest call {slowest * 1000:.2f} ms; sleeper lag "
        f"p50 {lags[len(lags) // 2] * 1000:.2f} ms, max {lags[-1] * 1000:.2f} ms ({len(lags)})"
    )
    # Generous bounds (the machine may be loaded): a call that waited on the network, or a
    # lock held across one, would show as seconds here.
    assert slowest < 0.5
    assert lags[len(lags) // 2] < 0.05
    assert lags[-1] < 0.5
    logger.removeHandler(handler)
    await asyncio.to_thread(handler.close)
    assert (handler.sent, handler.failed, handler.dropped) == (5000, 0, 0)
    assert len(consume_all(kafka_bootstrap, topic)) == 5000

    blocking = handler_for(topic, kafka_bootstrap, queue_size=1, block_ms=60_000)
    logger.addHandler(blocking)
    logger.info("connect")
    await asyncio.to_thread(blocking.flush)
    assert blocking.sent == 1
    started = time.perf_counter()
    for i in range(1000):
        logger.info("full queue %d", i)
    took = time.perf_counter() - started
    await asyncio.to_thread(blocking.close)
    print(f"1000 calls on the loop with a 1-record queue and block_ms: {took * 1000:.1f} ms")
    assert took < 1.0
    assert blocking.sent + blocking.dropped == 1001
    assert blocking.dropped > 0


def test_no_recursion_with_the_producer_loggers_at_debug(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """The handler on the root logger, aioproducer's loggers at DEBUG: what the producer
    (and the handler's event loop) log goes to the other handlers, never to Kafka."""
    topic = new_topic()
    seen: list[tuple[str, str]] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.name, threading.current_thread().name))

    root, own = logging.getLogger(), logging.getLogger("aioproducer")
    collector = Collector()
    # a dead server first: the cluster logs its failed bootstrap on the handler's thread
    dead = f"127.0.0.1:{free_port()}"
    handler = handler_for(topic, f"{dead},{kafka_bootstrap}")
    saved = root.level, own.level
    root.addHandler(handler)
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    own.setLevel(logging.DEBUG)
    try:
        app = logging.getLogger("app.recursion")
        for i in range(100):
            app.info("app record %d", i)
        handler.flush()
        handler.close()
    finally:
        root.removeHandler(handler)
        root.removeHandler(collector)
        root.setLevel(saved[0])
        own.setLevel(saved[1])
    from_producer = [name for name, _ in seen if name.startswith("aioproducer")]
    assert from_producer, "the producer logged nothing: the test proves nothing"
    docs = documents(consume_all(kafka_bootstrap, topic))
    assert [doc["message"] for doc in docs] == [f"app record {i}" for i in range(100)]
    assert handler.sent == 100


def run_script(source: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("reconfigure", [False, True], ids=["exit", "reconfigure"])
def test_dict_config_by_class_path_and_delivery_at_exit(
    kafka_bootstrap: str, new_topic: TopicFactory, reconfigure: bool
) -> None:
    """A script configures the handler with logging.config.dictConfig (the docs' example),
    logs from threads and exits without closing it: logging.shutdown() at exit delivers.
    dictConfig holds logging's lock while it makes the handler, and while it closes the
    handlers a new configuration replaces: neither may wait for the handler's thread."""
    topic = new_topic(partitions=2)
    result = run_script(f"""
        import logging, logging.config, threading

        logging.config.dictConfig({{
            "version": 1,
            "formatters": {{"json": {{"()": "aioproducer.logging.JsonFormatter"}}}},
            "handlers": {{
                "kafka": {{
                    "class": "aioproducer.logging.KafkaHandler",
                    "level": "INFO",
                    "formatter": "json",
                    "topic": {topic!r},
                    "config": {{"bootstrap.servers": {kafka_bootstrap!r}, "linger.ms": 50}},
                    "key_attribute": "name",
                    "use_uvloop": {UVLOOP!r},
                }},
            }},
            "root": {{"level": "DEBUG", "handlers": ["kafka"]}},
        }})

        def work(n):
            for i in range(500):
                logging.getLogger(f"script.t{{n}}").info("record %d", i)
            logging.getLogger("script").debug("below the handler's level")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(logging.getLogger().handlers[0])
        if {reconfigure!r}:
            logging.config.dictConfig({{"version": 1, "root": {{"handlers": []}}}})
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"<KafkaHandler {topic!r} (INFO)>"
    assert "aioproducer" not in result.stderr
    records = consume_all(kafka_bootstrap, topic)
    assert len(records) == 2000
    assert {r.key for r in records} == {f"script.t{n}".encode() for n in range(4)}


def test_a_process_exits_within_the_timeout_with_the_cluster_away() -> None:
    """At exit logging.shutdown() calls flush() and close(): each is bounded by timeout,
    even while the producer is still trying to connect (max_block_ms 60 s)."""
    started = time.perf_counter()
    result = run_script(f"""
        import logging
        from aioproducer.logging import KafkaHandler

        handler = KafkaHandler(
            "logs", bootstrap_servers="127.0.0.1:{free_port()}", timeout=1.0,
            use_uvloop={UVLOOP!r},
        )
        logging.getLogger().addHandler(handler)
        for i in range(1000):
            logging.error("nobody listens %d", i)
    """)
    took = time.perf_counter() - started
    print(f"\nexit with the cluster away (timeout 1.0 s): {took:.2f} s")
    assert result.returncode == 0, result.stderr
    assert took < 10
    assert "dropped (not delivered by close()): 1000" in result.stderr


def test_a_forked_child_logs_through_its_own_thread(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """A pre-forking server (gunicorn --preload) configures logging, then forks: the child
    gets a fresh handler thread and delivers its own records; the parent delivers its own."""
    topic = new_topic()
    result = run_script(f"""
        import logging, os, sys
        from aioproducer.logging import KafkaHandler

        handler = KafkaHandler({topic!r}, bootstrap_servers={kafka_bootstrap!r})
        log = logging.getLogger("forked")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        for i in range(10):
            log.info("parent before %d", i)
        pid = os.fork()
        if pid == 0:
            for i in range(10):
                log.info("child %d", i)
            sys.exit(0)  # logging.shutdown() at exit
        for i in range(10):
            log.info("parent after %d", i)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    """)
    assert result.returncode == 0, result.stderr
    messages = sorted(str(d["message"]) for d in documents(consume_all(kafka_bootstrap, topic)))
    expected = [f"{w} {i}" for w in ("child", "parent after", "parent before") for i in range(10)]
    assert messages == sorted(expected)
