"""The checks of single settings: each takes the setting's name and the value given, and
returns the value ProducerConfig keeps or raises ConfigurationError naming the setting.

The table in aioproducer/_settings.py says which check each setting has.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Callable, Iterable
from typing import Final, Literal, Never, Protocol

from aioproducer._oauth import check_provider
from aioproducer._partitioner import Partitioner
from aioproducer._protocol.sasl import MECHANISMS as _SASL_MECHANISMS
from aioproducer.errors import ConfigurationError

__all__ = [
    "Serializer",
    "SerializerLike",
    "acks",
    "boolean",
    "callable_or_none",
    "file_name",
    "integer",
    "optional",
    "optional_boolean",
    "optional_name",
    "optional_text",
    "parse_bootstrap_servers",
    "partitioner",
    "required_name",
    "sasl_mechanism",
    "secret",
    "security_protocol",
    "servers",
    "ssl_context",
    "text",
    "token_provider",
]

DEFAULT_PORT: Final = 9092
INT32_MAX: Final = 2**31 - 1
INT64_MAX: Final = 2**63 - 1
SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
JAVA_PRODUCER: Final = "org.apache.kafka.clients.producer."
# partitioner= strings: the built-in strategies by name and by Java class (None: sticky)
_PARTITIONER_NAMES: Final[dict[str, Literal["round_robin"] | None]] = {
    "sticky": None,
    "round_robin": "round_robin",
    JAVA_PRODUCER + "internals.DefaultPartitioner": None,
    JAVA_PRODUCER + "RoundRobinPartitioner": "round_robin",
}
_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Za-z:.%_-]+)\]|(?P<host>[^:\[\]\s]+))(?::(?P<port>\d+))?$"
)

#: A check: the setting's name and the value given in, the value ProducerConfig keeps out
#: (normalised), or ConfigurationError naming the setting.
Check = Callable[[str, object], object]


class Serializer(Protocol):
    """Turns a key or value given to ``send()`` into bytes (or None for a null)."""

    def __call__(self, value: object, /) -> bytes | None: ...


class SerializerLike(Protocol):
    """What ``key_serializer`` and ``value_serializer`` accept: a callable of one argument
    returning bytes or None, of any argument type (``str.encode`` type-checks). ``send()``
    takes any object; one the serializer cannot take comes out as ``SerializationError``."""

    def __call__(self, value: Never, /) -> bytes | None: ...


def parse_bootstrap_servers(
    servers: str | Iterable[str | tuple[str, int]],
) -> tuple[tuple[str, int], ...]:
    """Parse ``"host[:port],..."`` (or a list of those or of pairs) into ``(host, port)`` pairs.

    The port defaults to 9092; IPv6 addresses go in brackets (``[::1]:9092``); a listener
    prefix such as ``PLAINTEXT://`` is ignored, as Java does.
    """
    raw: object = servers  # checked at run time too: this is user input
    items: list[object]
    if isinstance(raw, str):
        items = list(raw.split(","))
    elif isinstance(raw, Iterable) and not isinstance(raw, bytes | bytearray):
        items = list(raw)
    else:
        raise ConfigurationError(
            f"bootstrap_servers must be a 'host:port' string or a list of them, not {servers!r}"
        )
    parsed: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str) or not _is_int(item[1]):
                raise ConfigurationError(f"bootstrap_servers: invalid (host, port) pair {item!r}")
            host, port = item[0], item[1]
        elif isinstance(item, str):
            text = item.strip()
            if not text:
                continue
            text = text.split("://", 1)[-1]
            match = _HOST_PORT.match(text)
            if match is None:
                hint = (
                    " (put IPv6 addresses in brackets: [::1]:9092)" if text.count(":") > 1 else ""
                )
                raise ConfigurationError(f"bootstrap_servers: invalid address {item!r}{hint}")
            host = match["v6"] or match["host"]
            port = int(match["port"]) if match["port"] is not None else DEFAULT_PORT
        else:
            raise ConfigurationError(f"bootstrap_servers: invalid entry {item!r}")
        if not host or not 0 < port < 65536:
            raise ConfigurationError(f"bootstrap_servers: invalid host or port in {item!r}")
        parsed.append((host, port))
    if not parsed:
        raise ConfigurationError("bootstrap_servers must name at least one broker")
    return tuple(parsed)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(low: int, high: int = INT32_MAX) -> Check:
    """An int (not a bool) from ``low`` to ``high``."""

    def check(name: str, value: object) -> int:
        if not _is_int(value):
            raise ConfigurationError(f"{name} must be an int, not {value!r}")
        assert isinstance(value, int)
        if not low <= value <= high:
            raise ConfigurationError(f"{name} must be between {low} and {high}, not {value}")
        return value

    return check


def optional(check: Check) -> Check:
    """None, or what ``check`` accepts."""
    return lambda name, value: None if value is None else check(name, value)


def boolean(name: str, value: object) -> bool:
    """True or False (not 1 or "true": strings are converted by ``from_mapping`` only)."""
    if not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True or False, not {value!r}")
    return value


def optional_boolean(name: str, value: object) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigurationError(f"{name} must be True, False or None, not {value!r}")
    return value


def text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string, not {value!r}")
    return value


def optional_text(name: str, value: object, *, empty_ok: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or (not empty_ok and not value):
        raise ConfigurationError(f"{name} must be a non-empty string or None, not {value!r}")
    return value


def optional_name(name: str, value: object) -> str | None:
    """None or a non-empty string."""
    return optional_text(name, value, empty_ok=False)


def required_name(name: str, value: object) -> str:
    """A non-empty string."""
    checked = optional_name(name, value)
    if checked is None:
        raise ConfigurationError(f"{name} must be a string, not None")
    return checked


def file_name(name: str, value: object) -> str | None:
    """A file name; ``""`` means none, as in Java's properties."""
    return optional_name(name, None if value == "" else value)


def secret(name: str, value: object) -> str | None:
    """None or a string, never shown in the error."""
    if value is not None and not isinstance(value, str):
        raise ConfigurationError(f"{name} must be a string or None")
    return value


def servers(_name: str, value: object) -> tuple[tuple[str, int], ...]:
    """:func:`parse_bootstrap_servers`."""
    return parse_bootstrap_servers(value)  # type: ignore[arg-type]  # it checks


def acks(_name: str, value: object) -> int:
    """``"all"`` is -1."""
    if value in ("all", "-1", -1):
        return -1
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        return int(str(value))
    raise ConfigurationError(f"acks must be 'all', -1, 0 or 1, not {value!r}")


def partitioner(_name: str, value: object) -> Partitioner | Literal["round_robin"] | None:
    """None or ``"sticky"`` (or Java's default class): the default; ``"round_robin"``; or an
    object with partition() and on_append()."""
    if isinstance(value, str):
        name = value.strip()
        if name in _PARTITIONER_NAMES:
            return _PARTITIONER_NAMES[name]
        hint = (
            " (it ignores keys: use partitioner_ignore_keys=True)"
            if name == JAVA_PRODUCER + "UniformStickyPartitioner"
            else ""
        )
        raise ConfigurationError(
            f"partitioner must be 'sticky', 'round_robin' or an object with partition() and "
            f"on_append() methods, not {value!r}{hint}"
        )
    if value is None or (
        callable(getattr(value, "partition", None)) and callable(getattr(value, "on_append", None))
    ):
        return value  # type: ignore[return-value]
    raise ConfigurationError(
        f"partitioner must have partition() and on_append() methods, not {value!r}"
    )


def callable_or_none(name: str, value: object) -> object:
    if value is not None and not callable(value):
        hint = " (give a Python callable, not a Java class name)" if isinstance(value, str) else ""
        raise ConfigurationError(f"{name} must be callable or None, not {value!r}{hint}")
    return value


def token_provider(_name: str, value: object) -> object:
    """None, a callable, or an object with ``token()``."""
    if value is not None:
        check_provider(value)
    return value


def security_protocol(name: str, value: object) -> str:
    """One of :data:`SECURITY_PROTOCOLS`, in any case; kept in upper case."""
    if not isinstance(value, str) or value.upper() not in SECURITY_PROTOCOLS:
        raise ConfigurationError(
            f"{name} must be one of {', '.join(SECURITY_PROTOCOLS)}, not {value!r}"
        )
    return value.upper()


def sasl_mechanism(name: str, value: object) -> str | None:
    """None or a mechanism aioproducer implements, kept in upper case."""
    mechanism = optional_name(name, value)
    if mechanism is not None:
        mechanism = mechanism.upper()
        if mechanism not in _SASL_MECHANISMS:
            raise ConfigurationError(
                f"{name} must be one of {', '.join(_SASL_MECHANISMS)}, not {value!r}"
            )
    return mechanism


def ssl_context(name: str, value: object) -> ssl.SSLContext | None:
    if value is not None and not isinstance(value, ssl.SSLContext):
        raise ConfigurationError(f"{name} must be an ssl.SSLContext, not {value!r}")
    return value
