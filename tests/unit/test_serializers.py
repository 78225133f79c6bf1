"""aioproducer.serializers: JSON by orjson or the json module, UTF-8 text, typed."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pytest

from aioproducer import serializers
from aioproducer.serializers import (
    JSON_LIBRARY,
    json_serializer,
    str_serializer,
    typed_serializer,
)

Dumps = Callable[[object, Callable[[object], object] | None], bytes]
HAS_ORJSON = importlib.util.find_spec("orjson") is not None
BACKENDS: list[tuple[str, Dumps]] = [("json", serializers._stdlib_dumps)]
if serializers._orjson is not None:
    BACKENDS.append(("orjson", serializers._orjson))
SAMPLES: list[object] = [
    {"id": 7, "total": 12.5, "tags": ["a", "b"], "ok": True, "none": None},
    ["ünïcödé", "日本", "emoji 🎉", 'quote " backslash \\ newline \n'],
    0,
    -(2**63),
    2**63 - 1,
    1e-300,
    "",
    {},
    [],
]


def test_the_library_is_orjson_exactly_when_installed() -> None:
    expected = "orjson" if HAS_ORJSON else "json"
    assert expected == JSON_LIBRARY
    assert (serializers._orjson is not None) == HAS_ORJSON


@pytest.mark.parametrize(("name", "dumps"), BACKENDS, ids=[name for name, _ in BACKENDS])
@pytest.mark.parametrize("value", SAMPLES)
def test_both_libraries_write_the_same_compact_utf8_json(
    name: str, dumps: Dumps, value: object
) -> None:
    data = dumps(value, None)
    assert type(data) is bytes
    assert json.loads(data) == value
    assert data == json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(("name", "dumps"), BACKENDS, ids=[name for name, _ in BACKENDS])
@pytest.mark.parametrize("bad", ["lone \udcff", {"key": object()}, {(1, 2): "tuple key"}])
def test_what_json_cannot_hold_raises(name: str, dumps: Dumps, bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        dumps(bad, None)


def test_stdlib_refuses_nan_rather_than_writing_invalid_json() -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        serializers._stdlib_dumps(float("nan"), None)


def test_json_serializer_keeps_none_for_null_keys_and_tombstones() -> None:
    assert json_serializer(None) is None
    assert json_serializer({"a": 1}) == b'{"a":1}'
    assert json.loads(json_serializer([1, "x"]) or b"") == [1, "x"]


def test_str_serializer() -> None:
    assert str_serializer(None) is None
    assert str_serializer("") == b""
    assert str_serializer("ünï") == "ünï".encode()
    with pytest.raises(TypeError, match="str_serializer takes str or None, not bytes"):
        str_serializer(b"bytes")
    with pytest.raises(TypeError, match="not int"):
        str_serializer(1)
    with pytest.raises(UnicodeEncodeError):
        str_serializer("lone \udcff")


@dataclass
class Order:
    id: int
    total: float


def test_typed_serializer_takes_its_class_only() -> None:
    serialize = typed_serializer(Order, lambda order: json_serializer(asdict(order)))
    assert serialize(Order(7, 12.5)) == b'{"id":7,"total":12.5}'
    assert serialize(None) is None
    with pytest.raises(TypeError, match="takes Order or None, not dict"):
        serialize({"id": 7})
    assert "Order" in repr(serialize)


def test_typed_serializer_passes_on_what_encode_raises() -> None:
    def encode(order: Order) -> bytes:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        typed_serializer(Order, encode)(Order(1, 1.0))
