"""The producer's metrics, named as the Java producer names them.

:meth:`Producer.metrics` gives plain mappings (``{"record-send-total": 1000.0, ...}``);
:meth:`Producer.metric_samples` gives every metric as a :class:`MetricSample`, the shape the
exporters (``aioproducer.metrics.prometheus``, ``aioproducer.metrics.otel``) and the
KIP-714 push read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = ["MetricKind", "MetricSample"]

MetricKind = Literal["counter", "gauge"]


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One metric's value now.

    ``group`` is Java's metric group: ``"producer-metrics"``, ``"producer-topic-metrics"``
    (tags hold ``"topic"``) or ``"producer-node-metrics"`` (tags hold ``"node-id"``, as
    ``"node-1"``). ``tags`` always hold ``"client-id"``. ``kind`` is ``"counter"`` for a
    monotonic total (the ``*-total`` names) and ``"gauge"`` for everything else (rates,
    averages, maxima, levels).
    """

    group: str
    name: str
    tags: Mapping[str, str]
    value: float
    kind: MetricKind
    description: str
