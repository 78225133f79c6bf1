"""ClusterMetadata as a plain object: leaders, topic errors and the refresh policy (times are
passed in, the backoff's jitter fixed at its middle); and Cluster's waits for a topic."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from aioproducer._backoff import ExponentialBackoff
from aioproducer._cluster import Cluster
from aioproducer._config import ProducerConfig
from aioproducer._metadata import BrokerAddress, ClusterMetadata
from aioproducer._protocol.error_codes import UNKNOWN_TOPIC_OR_PARTITION
from aioproducer.errors import ProducerClosedError, TopicAuthorizationFailedError

BROKERS = [BrokerAddress(1, "127.0.0.1", 9092), BrokerAddress(2, "127.0.0.1", 9093)]
LED = [(0, 0, 1)]  # one partition, led by node 1


def make(max_age_ms: int = 1000, max_idle_ms: int = 5000) -> ClusterMetadata:
    """retry_backoff_ms=100, retry_backoff_max_ms=1000 (Java's defaults), without jitter."""
    return ClusterMetadata(
        [("127.0.0.1", 9092)],
        max_age_ms,
        max_idle_ms=max_idle_ms,
        backoff=ExponentialBackoff(100, 1000, random=lambda: 0.5),
    )


def refresh(
    md: ClusterMetadata, now: int, topics: list[tuple[str, int, list[tuple[int, int, int]]]]
) -> list[str]:
    """One refresh at ``now``: what it requested."""
    requested = md.begin_refresh(now)
    md.update(BROKERS, topics, now)
    return requested


def test_topic_ids_are_kept_per_topic() -> None:
    """Metadata v10+ gives each topic's id (Produce v13 names topics by it); a topic
    without one (older Metadata, or an error) keeps the zero id."""
    md = make()
    for topic in ("a", "b", "c"):
        md.want(topic, 0)
    begin = md.begin_refresh(10)
    ids = {"a": uuid.UUID(int=7), "c": uuid.UUID(int=9)}
    md.update(
        BROKERS, [("a", 0, LED), ("b", 0, LED), ("c", UNKNOWN_TOPIC_OR_PARTITION, [])], 10, ids
    )
    assert begin == ["a", "b", "c"]
    assert [md.topics[t].topic_id for t in ("a", "b")] == [uuid.UUID(int=7), uuid.UUID(int=0)]
    assert "c" not in md.topics
    md.begin_refresh(20)
    md.update(BROKERS, [("a", 0, LED)], 20, {"a": uuid.UUID(int=8)})  # re-created: a new id
    assert md.topics["a"].topic_id == uuid.UUID(int=8)


def test_leaders_and_available_partitions() -> None:
    md = make()
    md.want("t", 0)
    refresh(md, 100, [("t", 0, [(0, 0, 1), (1, 0, 2), (2, 5, -1)])])
    assert [md.leader("t", p) for p in range(3)] == [1, 2, -1]
    info = md.topic("t")
    assert info is not None
    assert info.num_partitions == 3
    assert info.available == [0, 1]
    assert md.leader("t", 7) == -1
    assert md.leader("unknown", 0) == -1


def test_a_leader_missing_from_the_broker_list_counts_as_none() -> None:
    md = make()
    md.want("t", 0)
    refresh(md, 0, [("t", 0, [(0, 0, 3)])])
    assert md.leader("t", 0) == -1


def test_regular_refresh_every_max_age() -> None:
    md = make()
    assert md.refresh_due_in_ms(0) == 0  # never refreshed
    refresh(md, 100, [])
    assert md.refresh_due_in_ms(600) == 500
    assert md.refresh_due_in_ms(1100) == 0  # metadata_max_age_ms passed


def test_a_new_topic_refreshes_at_once_even_within_the_backoff() -> None:
    md = make()
    refresh(md, 150, [])
    md.want("new-topic", 151)
    assert md.refresh_due_in_ms(151) == 0
    assert md.begin_refresh(151) == ["new-topic"]
    md.want("new-topic", 152)  # known now: no refresh of its own
    assert md.refresh_due_in_ms(152) > 0


def test_a_topic_wanted_during_a_refresh_gets_the_next_one_at_once() -> None:
    md = make()
    md.want("a", 0)
    assert md.begin_refresh(0) == ["a"]
    md.want("b", 5)  # the request in flight does not name it
    md.update(BROKERS, [("a", 0, LED)], 10)
    assert md.refresh_due_in_ms(10) == 0
    assert md.begin_refresh(10) == ["a", "b"]


def test_a_requested_refresh_backs_off_exponentially_while_a_topic_is_missing() -> None:
    md = make()
    md.want("missing", 0)
    now, gaps = 0, []
    for _ in range(7):
        refresh(md, now, [("missing", UNKNOWN_TOPIC_OR_PARTITION, [])])
        md.request_refresh()  # someone waits for the topic
        gap = md.refresh_due_in_ms(now)
        gaps.append(gap)
        assert md.refresh_due_in_ms(now + gap - 1) == 1
        now += gap
    assert gaps == [100, 200, 400, 800, 1000, 1000, 1000]  # retry_backoff_ms .. max


def test_complete_metadata_resets_the_backoff() -> None:
    md = make()
    md.want("t", 0)
    for now in (0, 100, 300):
        refresh(md, now, [("t", UNKNOWN_TOPIC_OR_PARTITION, [])])
    md.request_refresh()
    assert md.refresh_due_in_ms(300) == 400
    refresh(md, 700, [("t", 0, LED)])
    md.request_refresh()
    assert md.refresh_due_in_ms(700) == 100


def test_a_leaderless_partition_counts_as_incomplete() -> None:
    md = make()
    md.want("t", 0)
    refresh(md, 0, [("t", 0, [(0, 0, 1), (1, 5, -1)])])
    refresh(md, 100, [("t", 0, [(0, 0, 1), (1, 5, -1)])])
    md.request_refresh()
    assert md.refresh_due_in_ms(100) == 200


def test_a_failed_refresh_is_retried_with_backoff() -> None:
    md = make()
    refresh(md, 0, [])
    md.begin_refresh(1000)  # the regular refresh ...
    md.refresh_failed(1030)  # ... got no answer
    assert md.refresh_due_in_ms(1030) == 100
    md.begin_refresh(1130)
    md.refresh_failed(1140)
    assert md.refresh_due_in_ms(1140) == 200
    refresh(md, 1340, [])
    assert md.refresh_due_in_ms(1340) == 1000  # answered: back to metadata_max_age_ms


def test_a_missing_topic_does_not_ask_for_refreshes_by_itself() -> None:
    """The storm of issue 16: a refresh that misses a topic must not make the next one due."""
    md = make(max_age_ms=300_000, max_idle_ms=300_000)
    md.want("missing", 0)
    refresh(md, 0, [("missing", UNKNOWN_TOPIC_OR_PARTITION, [])])
    assert md.refresh_due_in_ms(0) == 300_000
    md.request_refresh()  # a waiter asks once: answered by one refresh
    refresh(md, 100, [("missing", UNKNOWN_TOPIC_OR_PARTITION, [])])
    assert md.refresh_due_in_ms(100) == 300_000


def test_a_request_made_during_a_refresh_is_not_lost() -> None:
    md = make()
    refresh(md, 0, [])
    md.request_refresh()
    md.begin_refresh(100)
    md.request_refresh()  # e.g. NOT_LEADER arrived while the request was out
    md.update(BROKERS, [], 110)
    assert md.refresh_due_in_ms(110) == 100  # after the backoff, not at max age


def test_idle_topics_are_forgotten_and_used_ones_kept() -> None:
    md = make(max_age_ms=300_000, max_idle_ms=5000)
    md.want("idle", 0)
    md.want("used", 0)
    refresh(md, 0, [("idle", 0, LED), ("used", 0, LED)])
    md.want("used", 4000)  # routed to, or a batch opened for it
    assert md.begin_refresh(4999) == ["idle", "used"]
    md.update(BROKERS, [("idle", 0, LED), ("used", 0, LED)], 4999)
    assert md.begin_refresh(5000) == ["used"]
    assert md.topic("idle") is None
    assert md.leader("idle", 0) == -1
    assert md.topic("used") is not None
    # The response to a request that still named it does not bring it back.
    md.update(BROKERS, [("idle", 0, LED), ("used", 0, LED)], 5000)
    assert md.topic("idle") is None
    assert md.begin_refresh(8999) == ["used"]
    assert md.begin_refresh(9000) == []  # 5000 ms after its last use
    md.want("idle", 9001)  # used again: a new topic, refreshed at once
    assert md.refresh_due_in_ms(9001) == 0
    assert md.begin_refresh(9001) == ["idle"]


def test_forgetting_changes_the_topics_dict_in_place() -> None:
    md = make()
    topics = md.topics  # FastSend holds this very dict
    md.want("t", 0)
    refresh(md, 0, [("t", 0, LED)])
    assert "t" in topics
    md.begin_refresh(5000)
    assert md.topics is topics
    assert "t" not in topics


def test_non_retriable_topic_errors_are_kept() -> None:
    md = make()
    md.want("secret", 0)
    refresh(md, 0, [("secret", 29, [])])
    info = md.topic("secret")
    assert info is not None
    assert isinstance(info.error, TopicAuthorizationFailedError)
    assert md.refresh_due_in_ms(1) == 1000 - 1


# -- Cluster: waits for a topic --------------------------------------------------------------


async def test_stop_waits_ends_every_wait_for_a_topic_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = Cluster(ProducerConfig(bootstrap_servers="127.0.0.1:9"))
    monkeypatch.setattr(cluster, "maybe_refresh", lambda: None)  # no broker answers
    waits = [asyncio.create_task(cluster.wait_for_topic(t, 10.0)) for t in ("a", "b")]
    await asyncio.sleep(0.05)
    assert not any(w.done() for w in waits)
    started = time.monotonic()
    cluster.stop_waits()
    for wait in waits:
        with pytest.raises(ProducerClosedError, match="closed while waiting"):
            await wait
    assert time.monotonic() - started < 0.05
    with pytest.raises(ProducerClosedError):  # and any wait after it
        await cluster.wait_for_topic("c", 10.0)
    await cluster.close()


async def test_a_wait_keeps_its_topic_from_being_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = Cluster(ProducerConfig(bootstrap_servers="127.0.0.1:9", retry_backoff_ms=1))
    monkeypatch.setattr(cluster, "maybe_refresh", lambda: None)
    wait = asyncio.create_task(cluster.wait_for_topic("t", 10.0))
    await asyncio.sleep(0.01)
    first = cluster.metadata.wanted["t"]
    await asyncio.sleep(0.05)
    assert cluster.metadata.wanted["t"] > first  # each look is a use
    cluster.stop_waits()
    with pytest.raises(ProducerClosedError):
        await wait
    await cluster.close()
