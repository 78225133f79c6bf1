"""The exception hierarchy: per-code broker errors checked against Kafka's own table."""

from __future__ import annotations

import asyncio
import csv
import inspect
import pickle
import ssl
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import aioproducer.broker_errors
import aioproducer.errors as errors_module
from aioproducer.errors import (
    CONNECT_EXCEPTIONS,
    AuthenticationError,
    BrokerError,
    BrokerUnavailableError,
    BufferFullError,
    ConfigurationError,
    ConnectionLostError,
    DeliveryTimeoutError,
    FencedProducerError,
    IllegalStateError,
    InvalidTopicNameError,
    KafkaTimeoutError,
    NotLeaderOrFollowerError,
    ProducerClosedError,
    ProducerError,
    ProducerFencedError,
    ProtocolError,
    RecordTooLargeError,
    RequestTimedOutError,
    RetriableBrokerError,
    SaslAuthenticationFailedError,
    SerializationError,
    UnknownBrokerError,
    UnknownServerError,
    UnknownTopicError,
    UnsupportedVersionError,
    broker_error,
    map_exceptions,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ERROR_CODES_TSV = REPO_ROOT.parent / "shared" / "reference" / "kafka-protocol" / "error-codes.tsv"


class Row(NamedTuple):
    code: int
    name: str
    retriable: bool
    invalid_metadata: bool


def _load_table() -> list[Row]:
    if not ERROR_CODES_TSV.exists():
        return []
    with ERROR_CODES_TSV.open(newline="") as f:
        return [
            Row(
                int(r["code"]),
                r["name"],
                r["retriable"] == "true",
                r["invalidates_metadata"] == "true",
            )
            for r in csv.DictReader(f, delimiter="\t")
        ]


TABLE = _load_table()
needs_table = pytest.mark.skipif(
    not TABLE, reason=f"Kafka's error table not found at {ERROR_CODES_TSV}"
)


@needs_table
@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_every_kafka_code_has_a_matching_class(row: Row) -> None:
    cls = BrokerError.for_code(row.code)
    assert cls is not UnknownBrokerError
    assert (cls.code, cls.kafka_name) == (row.code, row.name)
    assert cls.retriable is row.retriable
    assert cls.invalid_metadata is row.invalid_metadata
    assert issubclass(cls, RetriableBrokerError) is row.retriable
    assert cls.__doc__
    assert cls.__name__ in errors_module.__all__


@needs_table
def test_every_registered_code_is_in_the_table() -> None:
    BrokerError.for_code(1)  # loads the per-code classes
    assert set(BrokerError._by_code) == {row.code for row in TABLE}


@needs_table
@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_broker_error_message_names_code_and_kafka_name(row: Row) -> None:
    exc = broker_error(row.code)
    assert type(exc) is BrokerError.for_code(row.code)
    assert f"[Error {row.code}] {row.name}: " in str(exc)
    assert exc.broker_message is None
    with_message = broker_error(row.code, "from the broker")
    assert str(with_message) == f"[Error {row.code}] {row.name}: from the broker"
    assert with_message.broker_message == "from the broker"


def test_broker_error_defaults_to_the_docstring() -> None:
    assert str(NotLeaderOrFollowerError()).endswith(
        "This broker is not the leader (or a follower) for that topic-partition."
    )


@pytest.mark.parametrize("code", [-2, 99, 129, 32767, -32768])
def test_unknown_codes_map_to_a_generic_error_carrying_the_code(code: int) -> None:
    assert BrokerError.for_code(code) is UnknownBrokerError
    exc = broker_error(code, "new in a future Kafka")
    assert type(exc) is UnknownBrokerError
    assert exc.code == code
    assert not exc.retriable
    assert str(exc) == f"[Error {code}] UNKNOWN: new in a future Kafka"


def test_code_zero_is_not_an_error() -> None:
    with pytest.raises(ValueError, match="success"):
        BrokerError.for_code(0)
    with pytest.raises(ValueError, match="success"):
        broker_error(0)


def test_declaring_a_duplicate_code_is_refused() -> None:
    with pytest.raises(TypeError, match="duplicate"):

        class Again(BrokerError, code=6, name="NOT_LEADER_OR_FOLLOWER"):
            pass


@pytest.mark.parametrize(
    "exc",
    [
        broker_error(6, "moved"),
        broker_error(7),
        broker_error(35),
        broker_error(4242, "odd"),
        DeliveryTimeoutError("expired"),
    ],
    ids=repr,
)
def test_errors_survive_pickling(exc: ProducerError) -> None:
    copy = pickle.loads(pickle.dumps(exc))
    assert type(copy) is type(exc)
    assert str(copy) == str(exc)
    assert getattr(copy, "code", None) == getattr(exc, "code", None)


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (ConfigurationError, (ValueError,)),
        (KafkaTimeoutError, (TimeoutError,)),
        (RecordTooLargeError, (ValueError,)),
        (SerializationError, (TypeError,)),
        (InvalidTopicNameError, (ValueError,)),
        (UnknownTopicError, (KafkaTimeoutError, TimeoutError)),
        (DeliveryTimeoutError, (KafkaTimeoutError, TimeoutError)),
        (BufferFullError, (KafkaTimeoutError, TimeoutError)),
        (BrokerUnavailableError, (ConnectionError, OSError)),
        (ConnectionLostError, (ConnectionError, OSError)),
        (IllegalStateError, (RuntimeError,)),
        (UnsupportedVersionError, (ProtocolError, BrokerError)),
        (RequestTimedOutError, (RetriableBrokerError, TimeoutError)),
        (SaslAuthenticationFailedError, (AuthenticationError, BrokerError)),
        (ProducerFencedError, (FencedProducerError, BrokerError)),
        (ProducerClosedError, ()),
        (UnknownServerError, (BrokerError,)),
    ],
)
def test_builtin_and_intermediate_bases(cls: type[Exception], bases: tuple[type, ...]) -> None:
    assert issubclass(cls, ProducerError)
    for base in bases:
        assert issubclass(cls, base)


def test_unsupported_version_is_code_35_and_raisable_locally() -> None:
    assert BrokerError.for_code(35) is UnsupportedVersionError
    exc = UnsupportedVersionError("Produce: client v3-v11, broker v0-v2")
    assert exc.code == 35
    assert "Produce: client v3-v11" in str(exc)


def test_request_timed_out_is_a_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        raise broker_error(7)


def test_delivery_timeout_carries_the_last_error_as_cause() -> None:
    last = broker_error(6)
    exc = DeliveryTimeoutError("batch expired", cause=last)
    assert exc.__cause__ is last


def _public_exceptions(module: object) -> set[str]:
    return {
        name
        for name in dir(module)
        if not name.startswith("_")
        and inspect.isclass(cls := getattr(module, name))
        and issubclass(cls, BaseException)
    }


def test_errors_all_lists_every_public_exception() -> None:
    exported = set(errors_module.__all__)
    assert _public_exceptions(errors_module) == {
        name for name in exported if inspect.isclass(getattr(errors_module, name))
    }
    assert exported - _public_exceptions(errors_module) == {
        "CONNECT_EXCEPTIONS",
        "IO_EXCEPTIONS",
        "broker_error",
        "map_exceptions",
    }
    assert len(errors_module.__all__) == len(exported)


def test_broker_errors_all_lists_exactly_its_own_classes() -> None:
    module = aioproducer.broker_errors
    own = {
        name
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and cls.__module__ == module.__name__
    }
    assert set(module.__all__) == own
    assert set(module.__all__) <= set(errors_module.__all__)


def test_unknown_attribute_still_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchError"):
        errors_module.NoSuchError  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize("first", ["aioproducer.broker_errors", "aioproducer.errors"])
def test_either_module_can_be_imported_first(first: str) -> None:
    code = (
        f"import {first}\n"
        "from aioproducer.errors import NotLeaderOrFollowerError as E, broker_error\n"
        "assert type(broker_error(6)) is E\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, timeout=60)


# -- map_exceptions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ConnectionResetError("reset by peer"), ConnectionLostError),
        (BrokenPipeError(), ConnectionLostError),
        (ssl.SSLError("bad record mac"), ConnectionLostError),
        (asyncio.IncompleteReadError(b"", 4), ConnectionLostError),
        (TimeoutError("read"), KafkaTimeoutError),
    ],
    ids=repr,
)
def test_map_exceptions_converts_io_errors_and_chains(
    raised: Exception, expected: type[ProducerError]
) -> None:
    with pytest.raises(expected) as info, map_exceptions(where="b1:9092"):
        raise raised
    assert info.value.__cause__ is raised
    assert str(info.value).startswith("b1:9092: ")


@pytest.mark.parametrize(
    "raised",
    [ConnectionRefusedError(111, "Connection refused"), TimeoutError(), OSError("no route")],
    ids=repr,
)
def test_map_exceptions_while_connecting_names_the_broker(raised: Exception) -> None:
    with (
        pytest.raises(BrokerUnavailableError) as info,
        map_exceptions(CONNECT_EXCEPTIONS, "b1:9092"),
    ):
        raise raised
    assert info.value.__cause__ is raised
    assert "b1:9092" in str(info.value)
    assert isinstance(info.value, ConnectionError)


@pytest.mark.parametrize(
    "raised",
    [
        KafkaTimeoutError("ours"),  # a TimeoutError, hence an OSError: must not be re-wrapped
        broker_error(7),
        ValueError("not an I/O error"),
        asyncio.CancelledError(),
    ],
    ids=repr,
)
def test_map_exceptions_passes_through_ours_and_unmapped(raised: BaseException) -> None:
    with pytest.raises(type(raised)) as info, map_exceptions():
        raise raised
    assert info.value is raised


def test_map_exceptions_lets_success_through() -> None:
    with map_exceptions():
        pass
