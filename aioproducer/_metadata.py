"""Cluster metadata: brokers, partition leaders and partition counts, as a plain object.

:class:`ClusterMetadata` holds what the last Metadata response said, which topics the
producer uses, and when the next refresh is due. It does no I/O and reads no clock: callers
pass the time in (milliseconds), call :meth:`~ClusterMetadata.begin_refresh` for the topics to
request and feed it the response (or :meth:`~ClusterMetadata.refresh_failed`).

The refresh policy is Java's (``Metadata``, ``ProducerMetadata``, KIP-580):

- a regular refresh every ``metadata_max_age_ms``;
- a refresh at once when a topic is wanted for the first time;
- a refresh asked for (:meth:`~ClusterMetadata.request_refresh`: a send waits for a topic, a
  queued batch has no leader, a broker said the metadata is stale) waits out a backoff from
  the last refresh: ``retry_backoff_ms`` doubling, with jitter, for every refresh in a row
  that failed or left a wanted partition without a leader, up to ``retry_backoff_max_ms``;
  one that finds every wanted partition led resets it. A request is answered by the next
  refresh; nothing asks again by itself, so a topic that does not exist costs nothing
  between regular refreshes once nobody waits for it (Java keeps asking, with backoff);
- a topic not used for ``metadata_max_idle_ms`` is forgotten: no longer requested, its
  partitions dropped. Using a topic is routing to it or opening a batch for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from aioproducer._backoff import ExponentialBackoff
from aioproducer._protocol.error_codes import LEADER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION
from aioproducer.errors import BrokerError, broker_error

__all__ = ["BrokerAddress", "ClusterMetadata", "TopicInfo", "TopicPartition"]

_NO_LEADER: Final = -1
_ZERO_UUID: Final = uuid.UUID(int=0)
_RETRIABLE_TOPIC_CODES: Final = frozenset({UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE})


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
    topic_id: uuid.UUID = _ZERO_UUID
    """The topic's id (Metadata v10+, Kafka 2.8+; zero when not known)."""

    @property
    def num_partitions(self) -> int:
        return len(self.leaders)


class ClusterMetadata:
    """The producer's view of the cluster, refreshed from Metadata responses."""

    def __init__(
        self,
        bootstrap: Iterable[tuple[str, int]],
        max_age_ms: int,
        *,
        max_idle_ms: int = 300_000,
        backoff: ExponentialBackoff | None = None,
    ) -> None:
        self.bootstrap = list(bootstrap)
        self.max_age_ms = max_age_ms
        self.max_idle_ms = max_idle_ms
        self.brokers: dict[int, BrokerAddress] = {}
        self.topics: dict[str, TopicInfo] = {}
        """Changed in place, never replaced (FastSend holds this dict)."""
        self.wanted: dict[str, int] = {}
        """The topics the producer uses, with when each was last used (ms)."""
        self.last_refresh_ms = -1
        self.version = 0
        self._backoff = backoff or ExponentialBackoff(100, 1000)
        self._refresh_requested = True
        self._new_topic = False  # a topic wanted since the last refresh began
        self._failures = 0  # refreshes in a row that failed or left a partition without leader
        self._retry_at_ms = 0  # no requested refresh before this

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
    def want(self, topic: str, now_ms: int) -> None:
        """``topic`` is used now: keep it; a topic not wanted yet makes a refresh due at once."""
        if topic not in self.wanted:
            self._new_topic = True
        self.wanted[topic] = now_ms

    def request_refresh(self) -> None:
        """Ask for a refresh, as soon as the backoff allows; the next one answers it."""
        self._refresh_requested = True

    def refresh_due_in_ms(self, now_ms: int) -> int:
        """Milliseconds until a refresh is due (0 = now)."""
        if self._new_topic:
            return 0
        due = self._retry_at_ms
        if not self._refresh_requested and self.last_refresh_ms >= 0:
            due = max(due, self.last_refresh_ms + self.max_age_ms)
        return max(0, due - now_ms)

    def begin_refresh(self, now_ms: int) -> list[str]:
        """A refresh starts now: forget idle topics; return the topics to request.

        What was asked for so far is this refresh's to answer.
        """
        idle = [t for t, used in self.wanted.items() if now_ms - used >= self.max_idle_ms]
        for topic in idle:
            del self.wanted[topic]
            self.topics.pop(topic, None)
        self._refresh_requested = False
        self._new_topic = False
        return list(self.wanted)

    def refresh_failed(self, now_ms: int) -> None:
        """The refresh begun last got no response: try again after a longer backoff."""
        self._refresh_requested = True
        self._schedule_retry(now_ms, complete=False)

    def _schedule_retry(self, now_ms: int, *, complete: bool) -> None:
        self._failures = 0 if complete else self._failures + 1
        self._retry_at_ms = now_ms + self._backoff.backoff(max(self._failures - 1, 0))

    # -- updates --------------------------------------------------------------------------
    def update(
        self,
        brokers: Iterable[BrokerAddress],
        topics: Iterable[tuple[str, int, list[tuple[int, int, int]]]],
        now_ms: int,
        topic_ids: Mapping[str, uuid.UUID] | None = None,
    ) -> None:
        """Apply a Metadata response (to the request :meth:`begin_refresh` named).

        ``topics`` holds ``(name, error_code, [(partition, error_code, leader), ...])``;
        topics forgotten meanwhile are left out. ``topic_ids`` gives the topics' ids.
        """
        ids = topic_ids or {}
        self.brokers = {b.node_id: b for b in brokers}
        complete = True
        for name, error_code, partitions in topics:
            if name not in self.wanted:
                continue
            if error_code in _RETRIABLE_TOPIC_CODES or (error_code == 0 and not partitions):
                self.topics.pop(name, None)
                complete = False
                continue
            if error_code != 0:
                self.topics[name] = TopicInfo(error=broker_error(error_code, f"topic {name!r}"))
                continue
            leaders = [_NO_LEADER] * (max(p for p, _, _ in partitions) + 1)
            for index, _, leader in partitions:
                leaders[index] = leader if leader in self.brokers else _NO_LEADER
            available = [p for p, leader in enumerate(leaders) if leader != _NO_LEADER]
            complete = complete and len(available) == len(leaders)
            self.topics[name] = TopicInfo(leaders, available, topic_id=ids.get(name, _ZERO_UUID))
        self.last_refresh_ms = now_ms
        self._schedule_retry(now_ms, complete=complete)
        self.version += 1
