"""Reading OpenTelemetry's in-memory metric reader in tests (unit and integration)."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

Points = dict[str, dict[tuple[tuple[str, Any], ...], tuple[Any, Any]]]


def otel_points(reader: InMemoryMetricReader) -> Points:
    """Collect now: instrument name -> sorted attributes -> (the metric's data, the value),
    every instrument from aioproducer's meter."""
    data = reader.get_metrics_data()
    found: Points = {}
    if data is None:
        return found
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "aioproducer"
            for metric in scope.metrics:
                points = found.setdefault(metric.name, {})
                for point in metric.data.data_points:
                    assert isinstance(point, NumberDataPoint)
                    attributes = tuple(sorted((point.attributes or {}).items()))
                    points[attributes] = (metric.data, point.value)
    return found
