"""The harness itself: a real broker answers, and an independent client can use it."""

from __future__ import annotations

import os
import uuid

import pytest
from confluent_kafka import Consumer, Producer

from aioproducer.testing import LocalKafkaCluster
from aioproducer.testing.pytest_plugin import KafkaClusterHandle, TopicFactory

pytestmark = pytest.mark.integration


def test_confluent_round_trip(kafka_cluster: KafkaClusterHandle, new_topic: TopicFactory) -> None:
    """confluent-kafka produces and consumes through the harness's broker."""
    topic = new_topic(partitions=3)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(100):
        producer.produce(topic, value=f"v{i}".encode(), key=f"k{i}".encode())
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_cluster.bootstrap_servers,
            "group.id": f"g-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen: list[bytes] = []
    for _ in range(300):
        msg = consumer.poll(0.2)
        value = msg.value() if msg is not None and msg.error() is None else None
        if value is not None:
            seen.append(value)
        if len(seen) == 100:
            break
    consumer.close()
    assert sorted(seen) == sorted(f"v{i}".encode() for i in range(100))


def test_topics_are_fresh(new_topic: TopicFactory) -> None:
    assert new_topic() != new_topic()


@pytest.mark.cluster
@pytest.mark.slow
def test_failover_control(kafka_cluster3: LocalKafkaCluster) -> None:
    """Kill a partition's leader: a new one is elected; the old one rejoins the ISR."""
    topic = kafka_cluster3.create_topic(
        partitions=1, replication_factor=3, config={"min.insync.replicas": "2"}
    )
    old = kafka_cluster3.leader_for(topic, 0)
    pid = kafka_cluster3.node(old).pid
    assert pid is not None
    kafka_cluster3.kill(old)
    assert not os.path.exists(f"/proc/{pid}") or _is_zombie(pid)
    new = kafka_cluster3.wait_for_new_leader(topic, 0, old)
    assert new != old
    kafka_cluster3.restart(old)
    kafka_cluster3.wait_in_sync(topic, 0, old)
    assert old in kafka_cluster3.partition_state(topic, 0).isr


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] == "Z"
    except OSError:
        return True
