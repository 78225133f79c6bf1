"""Serializers for ``key_serializer`` and ``value_serializer``: JSON, UTF-8 text, typed.

::

    Producer(..., key_serializer=str_serializer, value_serializer=json_serializer)
    await producer.send("orders", {"id": 7, "total": 12.5}, key="customer-1")

Each maps None to None (a null key, or a tombstone value), as Java's serializers do. What a
serializer raises reaches the caller of ``send()`` as
:class:`~aioproducer.errors.SerializationError`, the original as its ``__cause__``.

A typed serializer takes instances of one class only; anything else is a ``TypeError``
(so a ``SerializationError`` at ``send()``)::

    @dataclass
    class Order:
        id: int
        total: float

    order_serializer = typed_serializer(Order, lambda order: json_serializer(asdict(order)))
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Final, TypeVar

from aioproducer._checks import Serializer

__all__ = ["JSON_LIBRARY", "json_serializer", "str_serializer", "typed_serializer"]

_T = TypeVar("_T")
_Default = Callable[[object], object] | None


def _load_orjson() -> Callable[..., bytes] | None:
    try:
        module = importlib.import_module("orjson")  # optional
    except ImportError:
        return None
    dumps: Callable[..., bytes] = module.dumps
    return dumps


def _stdlib_dumps(value: object, default: _Default = None) -> bytes:
    """``value`` as compact UTF-8 JSON by the json module (NaN and infinities raise
    ValueError, as JSON has none; lone surrogates raise UnicodeEncodeError)."""
    text = json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=default
    )
    return text.encode()


_orjson = _load_orjson()
#: The library :func:`json_serializer` uses: "orjson" when it is installed, else "json".
JSON_LIBRARY: Final = "json" if _orjson is None else "orjson"
#: ``_dumps(value, default)``: compact UTF-8 JSON; ``default`` converts other objects.
_dumps: Callable[[object, _Default], bytes] = _stdlib_dumps if _orjson is None else _orjson


def json_serializer(value: object) -> bytes | None:
    """``value`` as compact UTF-8 JSON (orjson when installed, else the json module)."""
    return None if value is None else _dumps(value, None)


def str_serializer(value: object) -> bytes | None:
    """A ``str`` as UTF-8; anything else is a TypeError (lone surrogates: UnicodeEncodeError)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"str_serializer takes str or None, not {type(value).__name__}")
    return value.encode()


def typed_serializer(cls: type[_T], encode: Callable[[_T], bytes | None]) -> Serializer:
    """A serializer of ``cls`` instances by ``encode``; another type is a TypeError."""

    def serialize(value: object) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, cls):
            raise TypeError(
                f"this serializer takes {cls.__name__} or None, not {type(value).__name__}"
            )
        return encode(value)

    serialize.__qualname__ = f"typed_serializer({cls.__name__})"
    return serialize
