"""The exception hierarchy: per-code broker errors checked against Kafka's own table
(tools/kafka-error-codes.tsv) and against the generator that writes them from it."""

from __future__ import annotations

import asyncio
import csv
import inspect
import pickle
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import aioproducer._broker_errors
import aioproducer.errors as errors_module
from aioproducer._protocol import error_codes
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
ERROR_CODES_TSV = REPO_ROOT / "tools" / "kafka-error-codes.tsv"


class Row(NamedTuple):
    code: int
    name: str
    retriable: bool
    invalid_metadata: bool
    message: str


def _load_table() -> list[Row]:
    with ERROR_CODES_TSV.open(newline="") as f:
        lines = [line for line in f if not line.startswith("#")]  # the provenance note
    return [
        Row(
            int(r["code"]),
            r["name"],
            r["retriable"] == "true",
            r["invalidates_metadata"] == "true",
            " ".join(r["message"].split()),
        )
        for r in csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    ]


TABLE = _load_table()


def test_the_table_lists_every_code_kafka_had() -> None:
    codes = [row.code for row in TABLE]
    assert len(codes) == len(set(codes)) == 128
    assert set(codes) == {-1, *range(1, 99), *range(100, 129)}  # Errors.java here lacks 99


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
    assert getattr(errors_module, cls.__name__) is cls
    assert getattr(error_codes, row.name) == row.code  # the codes by name, for comparisons


def test_the_codes_module_names_every_code_and_success() -> None:
    assert error_codes.NONE == 0
    assert set(error_codes.__all__) == {"NONE", *(row.name for row in TABLE)}


def test_every_registered_code_is_in_the_table() -> None:
    assert set(BrokerError._by_code) == {row.code for row in TABLE}


@pytest.mark.parametrize("row", TABLE, ids=lambda r: r.name)
def test_broker_error_message_names_code_and_kafka_name(row: Row) -> None:
    exc = broker_error(row.code)
    assert type(exc) is BrokerError.for_code(row.code)
    assert str(exc) == f"[Error {row.code}] {row.name}: {row.message}"
    assert exc.broker_message is None
    with_message = broker_error(row.code, "from the broker")
    assert str(with_message) == f"[Error {row.code}] {row.name}: from the broker"
    assert with_message.broker_message == "from the broker"


def test_broker_error_defaults_to_the_docstring() -> None:
    assert str(NotLeaderOrFollowerError()) == (
        "[Error 6] NOT_LEADER_OR_FOLLOWER: For requests intended only for the leader, this error"
        " indicates that the broker is not the current leader."
    )
    assert str(RequestTimedOutError()) == "[Error 7] REQUEST_TIMED_OUT: The request timed out."


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


def test_the_generated_module_holds_exactly_the_per_code_classes() -> None:
    module = aioproducer._broker_errors
    own = {
        cls
        for cls in vars(module).values()
        if inspect.isclass(cls) and cls.__module__ == module.__name__
    }
    assert own == set(BrokerError._by_code.values())
    assert all(getattr(errors_module, cls.__name__) is cls for cls in own)


def test_errors_resolves_names_without_a_module_getattr() -> None:
    assert "__getattr__" not in vars(errors_module)
    assert "__dir__" not in vars(errors_module)


def test_unknown_attribute_still_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchError"):
        errors_module.NoSuchError  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize(
    "first", ["aioproducer._errors_base", "aioproducer._broker_errors", "aioproducer.errors"]
)
def test_any_errors_module_can_be_imported_first(first: str) -> None:
    code = (
        f"import {first}\n"
        "from aioproducer.errors import NotLeaderOrFollowerError as E, broker_error\n"
        "assert type(broker_error(6)) is E\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, timeout=60)


def test_errors_unpickle_in_a_fresh_interpreter() -> None:
    errors = [broker_error(6, "moved"), broker_error(35), broker_error(4242), ProducerError("x")]
    code = (
        "import pickle, sys\n"
        "for exc in pickle.loads(sys.stdin.buffer.read()):\n"
        "    print(type(exc).__name__, getattr(exc, 'code', None), exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=pickle.dumps(errors),
        capture_output=True,
        check=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    expected = [f"{type(e).__name__} {getattr(e, 'code', None)} {e}" for e in errors]
    assert done.stdout.decode().splitlines() == expected


# -- the generator ---------------------------------------------------------------------------


def _generate(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "tools" / "generate_errors.py"), *args],
        capture_output=True,
        check=False,
        text=True,
        cwd=root,
        timeout=60,
    )


def _needs_the_source_tree() -> None:
    """The generator rewrites the source: a run against an installed wheel (wheels-check
    runs the sdist's tests without its aioproducer/) has nothing for it to rewrite."""
    if not (REPO_ROOT / "aioproducer" / "_errors_base.py").exists():
        pytest.skip("needs the source tree (the generator rewrites aioproducer/)")


def test_regenerating_changes_nothing() -> None:
    _needs_the_source_tree()
    done = _generate(REPO_ROOT, "--check")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


GENERATED_FILES = [
    "aioproducer/errors.py",
    "aioproducer/_broker_errors.py",
    "aioproducer/_protocol/error_codes.py",
]


@pytest.fixture
def copy_root(tmp_path: Path) -> Path:
    """The generator, its table and the files it writes, copied to a scratch tree."""
    _needs_the_source_tree()
    tools = ["tools/generate_errors.py", "tools/_generated.py", "tools/kafka-error-codes.tsv"]
    for relative in [*tools, "aioproducer/_errors_base.py", *GENERATED_FILES]:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / relative, tmp_path / relative)
    return tmp_path


def _generated_files_unchanged(root: Path) -> bool:
    return all((root / f).read_text() == (REPO_ROOT / f).read_text() for f in GENERATED_FILES)


def test_check_reports_a_table_change_and_generating_applies_it(copy_root: Path) -> None:
    table = copy_root / "tools" / "kafka-error-codes.tsv"
    table.write_text(
        table.read_text().replace("8\tBROKER_NOT_AVAILABLE\tfalse", "8\tBROKER_NOT_AVAILABLE\ttrue")
        + "\n4242\tBRAND_NEW\tfalse\tfalse\tBrandNewException\tSomething new.\n"
    )
    check = _generate(copy_root, "--check")
    assert check.returncode == 1
    assert "out of date" in check.stderr
    assert "-class BrokerNotAvailableError(BrokerError," in check.stdout
    assert "+class BrokerNotAvailableError(RetriableBrokerError," in check.stdout
    assert '+    "BrandNewError",' in check.stdout  # in errors.py's __all__
    assert "+class BrandNewError(BrokerError, code=4242" in check.stdout
    assert "+BRAND_NEW: Final = 4242\n" in check.stdout  # in protocol/error_codes.py
    assert _generated_files_unchanged(copy_root)

    assert _generate(copy_root).returncode == 0
    assert _generate(copy_root, "--check").returncode == 0
    assert "    BrandNewError,\n" in (copy_root / "aioproducer" / "errors.py").read_text()


def test_check_reports_a_hand_edit_of_generated_code(copy_root: Path) -> None:
    module = copy_root / "aioproducer" / "_broker_errors.py"
    module.write_text(module.read_text().replace("code=6,", "code=60006,"))
    check = _generate(copy_root, "--check")
    assert check.returncode == 1
    assert "+    RetriableBrokerError, code=6, name=" in check.stdout


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        ("0\tNONE\tfalse\tfalse\tNone\tSuccess.", "code 0"),
        ("6\tAGAIN\ttrue\ttrue\tAgainException\tAgain.", "code 6"),
        ("4242\tNETWORK\tfalse\tfalse\tNetworkException\tClash.", "NetworkError"),
        ("4242\tNEW\tyes\tfalse\tNewException\tNew.", "true or false"),
        ("4242\tNEW\tfalse\tfalse\tNewException", "columns"),
        ("0x10\tNEW\tfalse\tfalse\tNewException\tNew.", "not an error code"),
        ("4242\tnew\tfalse\tfalse\tNewException\tNew.", "not a Kafka error name"),
        ("4242\tTIMEOUT\ttrue\tfalse\tTimeoutException\tLate.", "hide the builtin"),
        ("4242\tBROKER\tfalse\tfalse\tE\tNo.", "BrokerError: hand-written"),
        (
            "4242\tINVALID_PARTITION\tfalse\tfalse\tE\tNo.",
            "InvalidPartitionError: hand-written",
        ),
        ('4242\tNEW\tfalse\tfalse\tNewException\tSay "hi".', "double quotes"),
    ],
)
def test_a_bad_table_row_is_refused(copy_root: Path, row: str, complaint: str) -> None:
    table = copy_root / "tools" / "kafka-error-codes.tsv"
    table.write_text(table.read_text() + row + "\n")
    done = _generate(copy_root)
    assert done.returncode == 2
    assert complaint in done.stderr
    assert _generated_files_unchanged(copy_root)


def test_errors_py_without_its_markers_is_refused(copy_root: Path) -> None:
    errors_py = copy_root / "aioproducer" / "errors.py"
    errors_py.write_text(errors_py.read_text().replace("# END per-code names\n", ""))
    done = _generate(copy_root, "--check")
    assert done.returncode == 2
    assert "per-code names" in done.stderr


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
