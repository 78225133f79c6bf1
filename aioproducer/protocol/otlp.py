"""An OpenTelemetry ``MetricsData`` protobuf writer, for KIP-714's PushTelemetry payload.

Only the subset a client's metrics need, written by hand so that no protobuf runtime is
required: ``MetricsData`` -> one ``ResourceMetrics`` (with the resource's attributes) -> one
``ScopeMetrics`` -> a ``Metric`` per name, holding a monotonic ``Sum`` (cumulative or delta)
or a ``Gauge`` of ``NumberDataPoint`` s (``as_double``, string attributes). Field numbers are
those of opentelemetry-proto's ``metrics/v1/metrics.proto``, ``common/v1/common.proto`` and
``resource/v1/resource.proto``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["DataPoint", "encode_metrics_data"]

_VARINT, _FIXED64, _LEN = 0, 1, 2
_DOUBLE = struct.Struct("<d")
_UINT64 = struct.Struct("<Q")
_DELTA, _CUMULATIVE = 1, 2  # AggregationTemporality

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


def _key(buf: bytearray, field: int, wire_type: int) -> None:
    _varint(buf, field << 3 | wire_type)


def _message(buf: bytearray, field: int, body: bytes | bytearray) -> None:
    _key(buf, field, _LEN)
    _varint(buf, len(body))
    buf += body


def _string(buf: bytearray, field: int, text: str) -> None:
    if text:  # proto3: an empty string is the default, not written
        _message(buf, field, text.encode("utf-8", "surrogatepass"))


def _fixed64(buf: bytearray, field: int, value: int) -> None:
    _key(buf, field, _FIXED64)
    buf += _UINT64.pack(value & 0xFFFF_FFFF_FFFF_FFFF)


def _attributes(buf: bytearray, field: int, attributes: Attributes) -> None:
    for key, value in attributes:
        any_value = bytearray()
        _message(any_value, 1, value.encode("utf-8", "surrogatepass"))  # string_value, always
        pair = bytearray()
        _string(pair, 1, key)
        _message(pair, 2, any_value)
        _message(buf, field, pair)


def _data_point(point: DataPoint) -> bytearray:
    body = bytearray()
    if point.kind == "sum" and point.start_time_unix_nano:
        _fixed64(body, 2, point.start_time_unix_nano)
    _fixed64(body, 3, point.time_unix_nano)
    _key(body, 4, _FIXED64)  # as_double: in a oneof, so written even when 0.0
    body += _DOUBLE.pack(point.value)
    _attributes(body, 7, point.attributes)
    return body


def _metric(points: Sequence[DataPoint]) -> bytearray:
    first = points[0]
    data = bytearray()
    for point in points:
        _message(data, 1, _data_point(point))  # data_points
    body = bytearray()
    _string(body, 1, first.name)
    _string(body, 2, first.description)
    if first.kind == "sum":
        _key(data, 2, _VARINT)  # aggregation_temporality
        _varint(data, _DELTA if first.delta else _CUMULATIVE)
        _key(data, 3, _VARINT)  # is_monotonic
        _varint(data, 1)
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
