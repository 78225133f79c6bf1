"""Input of ``aioproducer produce``, parsed without I/O: bytes in, records out.

Two formats. ``lines``: one record per line (``\\n`` ends a line and is dropped, nothing
else is: a ``\\r`` stays in the value), optionally ``KEY<separator>VALUE``. ``jsonl``: one
JSON object per line, ``{"key", "value", "headers", "partition", "timestamp"}``, every
field optional; a string is sent as its UTF-8 bytes, ``null`` as a null, any other JSON
value JSON-encoded. Every mistake is an :class:`InputError` naming the source and line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from aioproducer._protocol.records import Header
from aioproducer.errors import ProducerError

__all__ = [
    "InputError",
    "JsonRecord",
    "LineSplitter",
    "PlainRecord",
    "parse_header",
    "parse_json_lines",
    "parse_json_record",
    "parse_lines",
]

#: What ``send_many`` takes: ``(key, value)`` or ``(key, value, headers)``.
PlainRecord = tuple[bytes | None, bytes | None] | tuple[bytes | None, bytes | None, list[Header]]

_FIELDS: Final = ("key", "value", "headers", "partition", "timestamp")
_INT64_MAX: Final = (1 << 63) - 1


class InputError(ProducerError, ValueError):
    """The command line's input is wrong: a file is missing, a line is malformed."""


def _where(source: str, line: int) -> str:
    return f"{source}:{line}"


def parse_header(text: str) -> Header:
    """``--header NAME=VALUE`` as a header (the value as given on the command line)."""
    name, sep, value = text.partition("=")
    if not sep:
        raise InputError(f"--header {text!r}: expected NAME=VALUE")
    try:
        name.encode()
    except UnicodeEncodeError:
        raise InputError(f"--header {text!r}: the name is not valid UTF-8") from None
    return name, value.encode("utf-8", "surrogateescape")  # the argument's own bytes


class LineSplitter:
    """Cuts a stream of byte chunks into lines, counting them.

    A line may span chunks. One longer than ``limit`` bytes could not be a record: it ends
    the splitting (memory stays bounded), and :attr:`error` says which line it is.
    """

    __slots__ = ("_limit", "_partial", "_partial_size", "error", "lines_done", "source")

    def __init__(self, source: str, limit: int) -> None:
        self.source = source
        self.lines_done = 0  # lines returned so far: the next one is lines_done + 1
        self.error: InputError | None = None
        self._limit = limit
        self._partial: list[bytes] = []  # the start of a line the last chunk did not end
        self._partial_size = 0

    def feed(self, data: bytes) -> list[bytes]:
        """The lines ``data`` completes, without their ``\\n``; after a line too long,
        those before it (and :attr:`error` is set)."""
        if self.error is not None:
            return []
        lines = data.split(b"\n")
        tail = lines.pop()
        if self._partial and lines:
            self._partial.append(lines[0])
            lines[0] = b"".join(self._partial)
            self._partial, self._partial_size = [], 0
        if lines and max(map(len, lines)) > self._limit:
            too_long = next(i for i, line in enumerate(lines) if len(line) > self._limit)
            return self._too_long(lines[:too_long])
        if tail:
            self._partial.append(tail)
            self._partial_size += len(tail)
            if self._partial_size > self._limit:
                return self._too_long(lines)
        self.lines_done += len(lines)
        return lines

    def end(self) -> list[bytes]:
        """The last line, if the input did not end with ``\\n``."""
        if not self._partial or self.error is not None:
            return []
        line = b"".join(self._partial)
        self._partial, self._partial_size = [], 0
        self.lines_done += 1
        return [line]

    def _too_long(self, before: list[bytes]) -> list[bytes]:
        self.lines_done += len(before)
        where = _where(self.source, self.lines_done + 1)
        self.error = InputError(f"{where}: the line is longer than {self._limit} bytes")
        self._partial, self._partial_size = [], 0
        return before


def parse_lines(
    lines: Sequence[bytes],
    separator: bytes | None,
    headers: list[Header],
    source: str,
    first_line: int,
) -> tuple[list[PlainRecord], InputError | None]:
    """Records of ``lines`` (the first is line ``first_line``): value only, or
    ``KEY<separator>VALUE`` split at the first separator. A line without the separator
    ends the parsing: the records before it come with the error."""
    if separator is None:
        if headers:
            return [(None, line, headers) for line in lines], None
        return [(None, line) for line in lines], None
    records: list[PlainRecord] = []
    append = records.append
    for index, line in enumerate(lines):
        key, found, value = line.partition(separator)
        if not found:
            where = _where(source, first_line + index)
            text = separator.decode("utf-8", "backslashreplace")
            return records, InputError(f"{where}: no key separator {text!r} in the line")
        append((key, value, headers) if headers else (key, value))
    return records, None


@dataclass(frozen=True, slots=True)
class JsonRecord:
    """One record of a ``jsonl`` line."""

    line: int
    key: bytes | None
    value: bytes | None
    headers: list[Header]
    partition: int | None
    timestamp_ms: int | None

    def plain(self) -> PlainRecord | None:
        """The record as ``send_many`` takes it, or None if it names a partition or a
        timestamp (only ``send`` takes those)."""
        if self.partition is not None or self.timestamp_ms is not None:
            return None
        if self.headers:
            return (self.key, self.value, self.headers)
        return (self.key, self.value)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _payload(where: str, what: str, value: object) -> bytes | None:
    """A JSON value as bytes: a string as UTF-8, null as None, others JSON-encoded."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    try:
        return value.encode()
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{where}: the {what} holds {value[exc.start : exc.end]!r}, which is not "
            "valid UTF-8 (a lone surrogate escape)"
        ) from None


def _headers(where: str, raw: object) -> list[Header]:
    pairs: Sequence[object]
    if raw is None:
        return []
    if isinstance(raw, Mapping):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        pairs = raw
    else:
        raise InputError(
            f"{where}: headers must be an object or a list of [name, value] pairs, "
            f"not {type(raw).__name__}"
        )
    headers: list[Header] = []
    for pair in pairs:
        if not isinstance(pair, tuple | list) or len(pair) != 2 or not isinstance(pair[0], str):
            raise InputError(f"{where}: a header must be a [name, value] pair, not {pair!r}")
        name = pair[0]
        _payload(where, "header name", name)  # checks it is valid UTF-8
        headers.append((name, _payload(where, f"header {name!r}", pair[1])))
    return headers


def _int_field(where: str, name: str, value: object, high: int) -> int | None:
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= high:
        raise InputError(f"{where}: {name} must be an integer from 0 to {high}, not {value!r}")
    return value


def parse_json_record(
    line: bytes, source: str, number: int, headers: Sequence[Header] = ()
) -> JsonRecord:
    """The record a ``jsonl`` line holds (``number`` is its line number); ``headers``
    (from ``--header``) come before the line's own."""
    where = _where(source, number)
    try:
        obj = json.loads(line, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{where}: malformed JSON: {exc.msg} (column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{where}: malformed JSON: not UTF-8 ({exc.reason})") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{where}: malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, not {type(obj).__name__}")
    unknown = [name for name in obj if name not in _FIELDS]
    if unknown:
        raise InputError(
            f"{where}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"a record has {', '.join(_FIELDS)}"
        )
    return JsonRecord(
        number,
        _payload(where, "key", obj.get("key")),
        _payload(where, "value", obj.get("value")),
        [*headers, *_headers(where, obj.get("headers"))],
        _int_field(where, "partition", obj.get("partition"), (1 << 31) - 1),
        _int_field(where, "timestamp", obj.get("timestamp"), _INT64_MAX),
    )


def parse_json_lines(
    lines: Sequence[bytes], source: str, first_line: int, headers: Sequence[Header] = ()
) -> tuple[list[JsonRecord], InputError | None]:
    """The records of ``jsonl`` lines (blank ones are skipped); a bad line ends the parsing:
    the records before it come with the error."""
    records: list[JsonRecord] = []
    for number, line in enumerate(lines, first_line):
        if not line.strip():
            continue
        try:
            records.append(parse_json_record(line, source, number, headers))
        except InputError as exc:
            return records, exc
    return records, None
