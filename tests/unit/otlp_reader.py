"""A protobuf wire-format reader for the tests of aioproducer's OTLP payloads: a second,
independent look at the bytes (field numbers as in opentelemetry-proto's metrics.proto)."""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["fields", "read_metrics"]


def fields(data: bytes) -> dict[int, list[Any]]:
    """{field number: [values]}: varints as ints, fixed64 and length-delimited as bytes."""
    out: dict[int, list[Any]] = {}
    pos = 0

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result

    while pos < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value = varint()
        elif wire == 1:
            value = data[pos : pos + 8]
            pos += 8
        elif wire == 2:
            n = varint()
            value = data[pos : pos + n]
            pos += n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        out.setdefault(number, []).append(value)
    assert pos == len(data)
    return out


def attributes(raw: list[bytes]) -> dict[str, str]:
    result = {}
    for kv in raw:
        f = fields(kv)
        result[f[1][0].decode()] = fields(f[2][0])[1][0].decode()
    return result


def read_metrics(payload: bytes) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(resource attributes, {metric name: {"kind", "temporality", "points"}})."""
    (resource_metrics,) = fields(payload)[1]
    rm = fields(resource_metrics)
    resource = attributes(fields(rm[1][0]).get(1, []))
    (scope,) = rm[2]
    metrics: dict[str, dict[str, Any]] = {}
    for raw in fields(scope).get(2, []):
        m = fields(raw)
        name = m[1][0].decode()
        if 7 in m:
            data = fields(m[7][0])
            info: dict[str, Any] = {
                "kind": "sum",
                "temporality": data[2][0],
                "monotonic": data[3][0],
            }
        else:
            data = fields(m[5][0])
            info = {"kind": "gauge"}
        info["description"] = m[2][0].decode() if 2 in m else ""
        points = []
        for p in data[1]:
            pf = fields(p)
            points.append(
                {
                    "value": struct.unpack("<d", pf[4][0])[0],
                    "time": struct.unpack("<Q", pf[3][0])[0],
                    "start": struct.unpack("<Q", pf[2][0])[0] if 2 in pf else 0,
                    "attributes": attributes(pf.get(7, [])),
                }
            )
        info["points"] = points
        metrics[name] = info
    return resource, metrics
