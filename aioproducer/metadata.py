"""Cluster metadata: brokers, partition leaders and partition counts, as a plain object.

:class:`ClusterMetadata` holds what the last Metadata response said and decides when the next
refresh is due (``metadata_max_age_ms``, or at once after an invalid-metadata error). It does
no I/O: the sender asks it what to request and feeds it the responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from aioproducer.errors import BrokerError, broker_error

__all__ = ["BrokerAddress", "ClusterMetadata", "TopicInfo", "TopicPartition"]

_NO_LEADER: Final = -1
_RETRIABLE_TOPIC_CODES: Final = frozenset(
    {3, 5}
)  # UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class BrokerAddress(NamedTuple):
    node_id: int
    host: str
    port: int


@dataclass(slots=True)
class TopicInfo:
    """What is known of one topic: its partitions' leaders, or why it is unusable."""

    leaders: list[int] = field(default_factory=list)
    """``leaders[p]`` is the node id leading partition ``p`` (-1 when none)."""
    available: list[int] = field(default_factory=list)
    """Partitions that currently have a leader."""
    error: BrokerError | None = None
    """A non-retriable error the broker reported for the whole topic (authorization, invalid)."""

    @property
    def num_partitions(self) -> int:
        return len(self.leaders)


class ClusterMetadata:
    """The producer's view of the cluster, refreshed from Metadata responses."""

    def __init__(self, bootstrap: Iterable[tuple[str, int]], max_age_ms: int) -> None:
        self.bootstrap = list(bootstrap)
        self.max_age_ms = max_age_ms
        self.brokers: dict[int, BrokerAddress] = {}
        self.topics: dict[str, TopicInfo] = {}
        self.wanted: dict[str, None] = {}  # ordered set of topics the producer uses
        self.last_refresh_ms = -1
        self.version = 0
        self._refresh_requested = True

    # -- queries --------------------------------------------------------------------------
    def leader(self, topic: str, partition: int) -> int:
        info = self.topics.get(topic)
        if info is None or partition >= len(info.leaders):
            return _NO_LEADER
        return info.leaders[partition]

    def topic(self, topic: str) -> TopicInfo | None:
        return self.topics.get(topic)

    def broker(self, node_id: int) -> BrokerAddress | None:
        return self.brokers.get(node_id)

    # -- refresh policy -----------------------------------------------------------------
    def want(self, topic: str) -> None:
        """Track ``topic``; an unknown one makes a refresh due at once."""
        if topic not in self.wanted:
            self.wanted[topic] = None
            if topic not in self.topics:
                self._refresh_requested = True

    def request_refresh(self) -> None:
        """Ask for a refresh as soon as possible (after an invalid-metadata error)."""
        self._refresh_requested = True

    def refresh_due_in_ms(self, now_ms: int) -> int:
        """Milliseconds until a refresh is due (0 = now)."""
        if self._refresh_requested or self.last_refresh_ms < 0:
            return 0
        return max(0, self.last_refresh_ms + self.max_age_ms - now_ms)

    # -- updates --------------------------------------------------------------------------
    def update(
        self,
        brokers: Iterable[BrokerAddress],
        topics: Iterable[tuple[str, int, list[tuple[int, int, int]]]],
        now_ms: int,
    ) -> None:
        """Apply a Metadata response.

        ``topics`` holds ``(name, error_code, [(partition, error_code, leader), ...])``.
        """
        self.brokers = {b.node_id: b for b in brokers}
        incomplete = False
        for name, error_code, partitions in topics:
            if error_code in _RETRIABLE_TOPIC_CODES or (error_code == 0 and not partitions):
                self.topics.pop(name, None)
                incomplete = True
                continue
            if error_code != 0:
                self.topics[name] = TopicInfo(error=broker_error(error_code, f"topic {name!r}"))
                continue
            leaders = [_NO_LEADER] * (max(p for p, _, _ in partitions) + 1)
            for index, _, leader in partitions:
                leaders[index] = leader if leader in self.brokers else _NO_LEADER
            available = [p for p, leader in enumerate(leaders) if leader != _NO_LEADER]
            incomplete = incomplete or len(available) < len(leaders)
            self.topics[name] = TopicInfo(leaders, available)
        self.last_refresh_ms = now_ms
        self._refresh_requested = incomplete
        self.version += 1

    def topics_to_request(self) -> list[str]:
        return list(self.wanted)
