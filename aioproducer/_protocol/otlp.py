"""An OpenTelemetry ``MetricsData`` protobuf writer, for KIP-714's PushTelemetry payload.

Only the subset a client's metrics need, written by hand so that no protobuf runtime is
required: ``MetricsData`` -> one ``ResourceMetrics`` (with the resource's attributes) -> one
``ScopeMetrics`` -> a ``Metric`` per name, holding a monotonic ``Sum`` (cumulative or delta)
or a ``Gauge`` of ``NumberDataPoint`` s (``as_double``, string attributes). Field numbers are
those of opentelemetry-proto's ``metrics/v1/metrics.proto``, ``common/v1/common.proto`` and
``resource/v1/resource.proto``.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["DataPoint", "encode_metrics_data"]

_VARINT, _FIXED64, _LEN = 0, 1, 2
_DELTA, _CUMULATIVE = 1, 2  # AggregationTemporality
_UINT64_MASK = (1 << 64) - 1


def _tag(field: int, wire_type: int) -> int:
    return field << 3 | wire_type  # every field number here is below 16: one byte


# NumberDataPoint: time_unix_nano (3, fixed64) then as_double (4, fixed64), packed at once;
# start_time_unix_nano (2, fixed64) before them for sums
_TIME_AND_VALUE = struct.Struct("<BQBd").pack
_START = struct.Struct("<BQ").pack
_START_TAG, _TIME_TAG, _VALUE_TAG = _tag(2, _FIXED64), _tag(3, _FIXED64), _tag(4, _FIXED64)

Attributes = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class DataPoint:
    """One value of one metric at ``time_unix_nano``.

    A ``"sum"`` is monotonic; ``start_time_unix_nano`` is when its count began (cumulative)
    or the previous push (``delta``). A ``"gauge"`` ignores both.
    """

    name: str
    kind: Literal["sum", "gauge"]
    value: float
    attributes: Attributes
    time_unix_nano: int
    start_time_unix_nano: int = 0
    delta: bool = False
    description: str = ""


def _varint(buf: bytearray, value: int) -> None:
    while value > 0x7F:
        buf.append((value & 0x7F) | 0x80)
        value >>= 7
    buf.append(value)


_LEN_TAGS = tuple(_tag(field, _LEN) for field in range(16))


def _message(buf: bytearray, field: int, body: bytes | bytearray) -> None:
    """A length-delimited field (a message, a string or bytes)."""
    buf.append(_LEN_TAGS[field])
    n = len(body)
    if n < 0x80:
        buf.append(n)
    else:
        _varint(buf, n)
    buf += body


def _string(buf: bytearray, field: int, text: str) -> None:
    if text:  # proto3: an empty string is the default, not written
        _message(buf, field, text.encode("utf-8", "surrogatepass"))


@functools.lru_cache(maxsize=4096)  # a metric's attributes are the same push after push
def _encoded_attributes(field: int, attributes: tuple[tuple[str, str], ...]) -> bytes:
    buf = bytearray()
    for key, value in attributes:
        any_value = bytearray()
        _message(any_value, 1, value.encode("utf-8", "surrogatepass"))  # string_value, always
        pair = bytearray()
        _string(pair, 1, key)
        _message(pair, 2, any_value)
        _message(buf, field, pair)
    return bytes(buf)


def _attributes(buf: bytearray, field: int, attributes: Attributes) -> None:
    if attributes:
        buf += _encoded_attributes(field, tuple(attributes))


def _data_point(point: DataPoint) -> bytearray:
    body = bytearray()
    if point.kind == "sum" and point.start_time_unix_nano:
        body += _START(_START_TAG, point.start_time_unix_nano & _UINT64_MASK)
    # as_double is in a oneof, so it is written even when it is 0.0
    body += _TIME_AND_VALUE(_TIME_TAG, point.time_unix_nano & _UINT64_MASK, _VALUE_TAG, point.value)
    _attributes(body, 7, point.attributes)
    return body


@functools.lru_cache(maxsize=4096)
def _metric_header(name: str, description: str) -> bytes:
    """A Metric's name (1) and description (2) fields."""
    body = bytearray()
    _string(body, 1, name)
    _string(body, 2, description)
    return bytes(body)


def _metric(points: Sequence[DataPoint]) -> bytearray:
    first = points[0]
    data = bytearray()
    for point in points:
        _message(data, 1, _data_point(point))  # data_points
    body = bytearray(_metric_header(first.name, first.description))
    if first.kind == "sum":
        data.append(_tag(2, _VARINT))  # aggregation_temporality
        data.append(_DELTA if first.delta else _CUMULATIVE)
        data.append(_tag(3, _VARINT))  # is_monotonic
        data.append(1)
        _message(body, 7, data)  # sum
    else:
        _message(body, 5, data)  # gauge
    return body


def encode_metrics_data(points: Iterable[DataPoint], resource_attributes: Attributes = ()) -> bytes:
    """The ``MetricsData`` message holding ``points``, grouped into one ``Metric`` per name
    (the first point of a name gives its kind and description)."""
    by_name: dict[str, list[DataPoint]] = {}
    for point in points:
        by_name.setdefault(point.name, []).append(point)
    scope = bytearray()
    for group in by_name.values():
        _message(scope, 2, _metric(group))  # ScopeMetrics.metrics
    resource = bytearray()
    _attributes(resource, 1, resource_attributes)
    resource_metrics = bytearray()
    _message(resource_metrics, 1, resource)  # ResourceMetrics.resource
    _message(resource_metrics, 2, scope)  # ResourceMetrics.scope_metrics
    out = bytearray()
    _message(out, 1, resource_metrics)  # MetricsData.resource_metrics
    return bytes(out)
