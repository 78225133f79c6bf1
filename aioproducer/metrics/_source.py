"""What the exporters read: a producer, or anything with its metric methods."""

from __future__ import annotations

from typing import Protocol

from aioproducer.metrics import MetricSample

__all__ = ["MetricSource", "read_samples"]


class MetricSource(Protocol):
    """A :class:`~aioproducer.Producer` as the exporters see it."""

    def metric_samples(self) -> list[MetricSample]: ...

    @property
    def closed(self) -> bool: ...


def read_samples(source: MetricSource) -> list[MetricSample]:
    """``source``'s samples, read from any thread: a read that meets the event loop's thread
    adding a topic or a broker (a dict changing size) is tried again."""
    for _ in range(4):
        try:
            return source.metric_samples()
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return source.metric_samples()
