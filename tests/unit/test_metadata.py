"""ClusterMetadata as a plain object: leaders, topic errors and the refresh policy."""

from __future__ import annotations

from aioproducer.errors import TopicAuthorizationFailedError
from aioproducer.metadata import BrokerAddress, ClusterMetadata

BROKERS = [BrokerAddress(1, "127.0.0.1", 9092), BrokerAddress(2, "127.0.0.1", 9093)]


def make() -> ClusterMetadata:
    return ClusterMetadata([("127.0.0.1", 9092)], max_age_ms=1000)


def test_leaders_and_available_partitions() -> None:
    md = make()
    md.update(BROKERS, [("t", 0, [(0, 0, 1), (1, 0, 2), (2, 5, -1)])], now_ms=100)
    assert [md.leader("t", p) for p in range(3)] == [1, 2, -1]
    info = md.topic("t")
    assert info is not None
    assert info.num_partitions == 3
    assert info.available == [0, 1]
    assert md.leader("t", 7) == -1
    assert md.leader("unknown", 0) == -1


def test_a_leader_missing_from_the_broker_list_counts_as_none() -> None:
    md = make()
    md.update(BROKERS, [("t", 0, [(0, 0, 3)])], now_ms=0)
    assert md.leader("t", 0) == -1


def test_refresh_policy() -> None:
    md = make()
    assert md.refresh_due_in_ms(0) == 0  # never refreshed
    md.update(BROKERS, [], now_ms=100)
    assert md.refresh_due_in_ms(600) == 500
    assert md.refresh_due_in_ms(1200) == 0  # metadata_max_age_ms passed
    md.request_refresh()
    assert md.refresh_due_in_ms(150) == 0
    md.update(BROKERS, [], now_ms=150)
    md.want("new-topic")  # unknown topic: refresh at once
    assert md.refresh_due_in_ms(151) == 0
    assert md.topics_to_request() == ["new-topic"]


def test_incomplete_metadata_asks_for_another_refresh() -> None:
    md = make()
    md.update(BROKERS, [("t", 0, [(0, 0, 1), (1, 5, -1)])], now_ms=0)
    assert md.refresh_due_in_ms(1) == 0  # a partition without a leader
    md.update(BROKERS, [("t", 3, [])], now_ms=10)  # UNKNOWN_TOPIC_OR_PARTITION: retriable
    assert md.topic("t") is None
    assert md.refresh_due_in_ms(11) == 0


def test_non_retriable_topic_errors_are_kept() -> None:
    md = make()
    md.update(BROKERS, [("secret", 29, [])], now_ms=0)
    info = md.topic("secret")
    assert info is not None
    assert isinstance(info.error, TopicAuthorizationFailedError)
    assert md.refresh_due_in_ms(1) == 1000 - 1
