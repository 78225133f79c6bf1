"""RecordCheck (send()'s and send_many()'s one record check) and the send_many planner,
without a broker or an event loop."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from aioproducer._config import ProducerConfig
from aioproducer._metadata import TopicInfo
from aioproducer._partition_choice import partitioner_for
from aioproducer._partitioner import positive_murmur2
from aioproducer._producer_state import ProducerState, unusable_error
from aioproducer._record_check import RECORD_BOUND, RecordCheck
from aioproducer._send_many import SendManyPlanner
from aioproducer.errors import (
    FencedProducerError,
    ProducerClosedError,
    RecordTooLargeError,
    SerializationError,
    WrongEventLoopError,
)

LOG = logging.LoggerAdapter(logging.getLogger("test"))


def check(**settings: Any) -> RecordCheck:
    return RecordCheck(ProducerConfig(**settings))


def test_bytes_pass_through_and_the_size_is_bounded() -> None:
    key, value, headers, timestamp, size = check()(b"k", bytearray(b"vv"), [("h", b"x")], None)
    assert (key, value, list(headers), timestamp) == (b"k", b"vv", [("h", b"x")], None)
    assert type(value) is bytes
    assert size > RECORD_BOUND + 3


def test_serializers_run_once_and_must_give_bytes() -> None:
    calls: list[object] = []

    def upper(obj: object) -> bytes:
        calls.append(obj)
        return str(obj).upper().encode()

    record = check(key_serializer=upper, value_serializer=upper)("k", "v", None, 5)
    assert record[:2] == (b"K", b"V")
    assert record[3] == 5
    assert calls == ["k", "v"]
    with pytest.raises(SerializationError, match="value_serializer returned int"):
        check(value_serializer=lambda _: 1)(None, "v", None, None)


def test_the_first_bad_field_is_the_one_reported() -> None:
    # value serializer before the key's type, then headers, then timestamp, then size
    def boom(_: object) -> bytes:
        raise ValueError("no")

    with pytest.raises(SerializationError, match="value_serializer raised"):
        check(value_serializer=boom)(1, "v", None, None)
    with pytest.raises(SerializationError, match="key must be bytes"):
        check()(1, b"v", 5, -1)
    with pytest.raises(SerializationError, match="headers must be"):
        check()(b"k", b"v", 5, -1)
    with pytest.raises(SerializationError, match="timestamp_ms"):
        check(max_request_size=100)(b"k", b"v" * 200, None, -1)
    with pytest.raises(RecordTooLargeError, match="max_request_size"):
        check(max_request_size=100)(b"k", b"v" * 200, None, 2**63 - 1)


def test_send_many_plans_runs_by_java_hash_and_headers_alone() -> None:
    config = ProducerConfig()
    checker = RecordCheck(config)
    planner = SendManyPlanner(
        checker, partitioner_for(config), java_partitioning=True, keys_ignored=False, log=LOG
    )
    info = TopicInfo(leaders=[1, 1, 1], available=[0, 1, 2])
    records: list[Any] = [(b"a", b"1"), (b"b", b"2"), [b"c", bytearray(b"3")], (b"d", b"4", [])]
    runs, alone = planner.plan("t", info, 3, records, None)
    placed = {index: number for number, run in runs for index in run}
    assert placed == {i: positive_murmur2(k) % 3 for i, k in enumerate([b"a", b"b", b"c"])}
    assert alone == [3]
    assert records[2] == (b"c", b"3")  # checked in place
    assert records[3][:3] == (b"d", b"4", ())  # a CheckedRecord, appended alone
    with pytest.raises(SerializationError, match="send_many"):
        planner.plan("t", info, 3, [(b"k",)], None)


def test_producer_states_read_as_their_names() -> None:
    assert f"{ProducerState.RUNNING}" == "running"
    assert str(ProducerState.CLOSED) == "closed"


def test_each_state_says_why_a_call_is_refused() -> None:
    fenced = FencedProducerError("fenced")
    for state, expected, text in [
        (ProducerState.NEW, ProducerClosedError, "send() before start() finished"),
        (ProducerState.STARTING, ProducerClosedError, "before start() finished"),
        (ProducerState.CLOSED, ProducerClosedError, "send() after close()"),
        (ProducerState.DROPPED, ProducerClosedError, "after close()"),
        (ProducerState.STALLED, ProducerClosedError, "stopped because it died; call close()"),
        (ProducerState.RUNNING, WrongEventLoopError, "outside the event loop"),
    ]:
        error = unusable_error(state, "send()", fenced, "it died")
        assert type(error) is expected
        assert text in str(error)
    assert unusable_error(ProducerState.FAILED, "send()", fenced, "") is fenced
    assert type(unusable_error(ProducerState.FAILED, "send()", None, "")) is WrongEventLoopError
