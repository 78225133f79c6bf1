"""aioproducer.logging without a broker: the JSON formatter, the handler's settings, its
filter, and close() before any record (tests/integration/test_logging_handler.py has the rest)."""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

import pytest

from aioproducer.errors import ConfigurationError, InvalidTopicNameError
from aioproducer.logging import JsonFormatter, KafkaHandler
from aioproducer.serializers import json_serializer


def record(msg: str = "hello %s", *args: object, **attrs: Any) -> logging.LogRecord:
    fields = {"name": "app.unit", "msg": msg, "args": args, "levelname": "INFO", "levelno": 20}
    return logging.makeLogRecord({**fields, **attrs})


def formatted(rec: logging.LogRecord) -> dict[str, Any]:
    text = JsonFormatter().format(rec)
    doc = json.loads(text)
    assert isinstance(doc, dict)
    return doc


def test_json_fields() -> None:
    doc = formatted(record("hello %s", "world", created=0.0015, custom=[1, 2]))
    assert doc == {
        "time": "1970-01-01T00:00:00.001+00:00",
        "level": "INFO",
        "logger": "app.unit",
        "message": "hello world",
        "thread": threading.current_thread().name,
        "process": doc["process"],
        "custom": [1, 2],
    }
    assert list(doc)[:6] == ["time", "level", "logger", "message", "thread", "process"]


def test_exception_and_stack() -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        exc_info = sys.exc_info()
    rec = record(exc_info=exc_info, stack_info="Stack (most recent call last):\n  here")
    doc = formatted(rec)
    assert doc["exception"].startswith("Traceback")
    assert doc["exception"].endswith("KeyError: 'missing'")
    assert doc["stack"] == "Stack (most recent call last):\n  here"
    assert rec.exc_text == doc["exception"]  # cached, as logging.Formatter does


def test_extras_never_override_the_record_fields() -> None:
    doc = formatted(record(time="t", level="l", logger="g", exception="e"))
    assert doc["time"] != "t"
    assert (doc["level"], doc["logger"]) == ("INFO", "app.unit")
    assert "exception" in doc  # an extra named like an absent field stays
    assert doc["exception"] == "e"


@pytest.mark.parametrize(
    "extra",
    [
        {"opaque": object()},
        {"lone": "\udcff"},
        {"nan": float("nan"), "inf": float("-inf")},
        {"huge": 2**70},
        {"nested": {"set": {1}}},
    ],
)
def test_anything_in_extra_still_gives_valid_json(extra: dict[str, Any]) -> None:
    text = JsonFormatter().format(record(**extra))
    doc = json.loads(text)  # strict: NaN would be parsed, so check it is absent
    assert "NaN" not in text
    assert "Infinity" not in text
    assert set(extra) <= set(doc)
    text.encode()  # no lone surrogates left in the text


def test_the_message_may_hold_a_lone_surrogate() -> None:
    doc = formatted(record("file %s", "b\udcffd"))
    assert doc["message"] == "file b\udcffd"


def handler(**options: Any) -> KafkaHandler:
    return KafkaHandler("logs", bootstrap_servers="127.0.0.1:9", **options)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"queue_size": 0}, "queue_size"),
        ({"queue_size": 1.5}, "queue_size"),
        ({"queue_size": True}, "queue_size"),
        ({"block_ms": -1}, "block_ms"),
        ({"block_ms": float("nan")}, "block_ms"),
        ({"block_ms": "10"}, "block_ms"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": None}, "timeout"),
        ({"key_attribute": "not an attribute"}, "key_attribute"),
        ({"key_attribute": 3}, "key_attribute"),
        ({"use_uvloop": 1}, "use_uvloop"),
        ({"value_serializer": json_serializer}, "formatter"),
        ({"linger_ms": -1}, "linger_ms"),
        ({"no_such_setting": 1}, "no_such_setting"),
    ],
)
def test_bad_settings_raise_at_construction(options: dict[str, Any], match: str) -> None:
    before = threading.active_count()
    with pytest.raises(ConfigurationError, match=match):
        handler(**options)
    assert threading.active_count() == before  # no thread left behind


def test_bad_topic() -> None:
    with pytest.raises(InvalidTopicNameError):
        KafkaHandler("no spaces", bootstrap_servers="127.0.0.1:9")


def test_java_names_in_config() -> None:
    h = KafkaHandler("logs", {"bootstrap.servers": "127.0.0.1:9", "linger.ms": "50"})
    try:
        assert h.config.linger_ms == 50
        assert h.config.bootstrap_servers == (("127.0.0.1", 9),)
        assert repr(h) == "<KafkaHandler 'logs' (NOTSET)>"
    finally:
        h.close()


def test_filter_ignores_the_producer_and_the_handler_threads() -> None:
    h = handler(level=logging.INFO)
    try:
        assert not h.filter(record(name="aioproducer"))
        assert not h.filter(record(name="aioproducer.sender"))
        assert h.filter(record(name="aioproducers"))
        assert h.filter(record(name="app.aioproducer"))
        seen: list[bool] = []
        thread = threading.Thread(
            target=lambda: seen.append(h.filter(record())), name="aioproducer-logging"
        )
        thread.start()
        thread.join()
        assert seen == [False]
        assert h.filter(record(name=None))
    finally:
        h.close()


def test_close_without_records_then_emit_counts_a_drop() -> None:
    h = handler()
    h.flush()  # nothing queued: returns at once
    h.close()
    h.close()
    assert (h.sent, h.failed, h.dropped) == (0, 0, 0)
    h.handle(record())
    assert h.dropped == 1
    assert not any(t.name == "aioproducer-logging" for t in threading.enumerate())


def test_format_errors_go_to_handle_error(capsys: pytest.CaptureFixture[str]) -> None:
    h = handler()
    try:
        h.handle(record("%d", "not a number"))
        assert "TypeError" in capsys.readouterr().err
        assert h.dropped == 0
    finally:
        h.close()
