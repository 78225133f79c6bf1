"""TEMPORARY admin via confluent_kafka, replaced by one on aioproducer.protocol."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self

from confluent_kafka.admin import AdminClient as _CA
from confluent_kafka.admin import NewTopic


@dataclass(frozen=True)
class PartitionState:
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


class AdminClient:
    def __init__(self, address: str) -> None:
        self._a = _CA({"bootstrap.servers": address, "socket.timeout.ms": 3000})

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *a: object) -> None:
        pass

    def brokers(self) -> list[int]:
        try:
            md = self._a.list_topics(timeout=3)
        except Exception as e:
            raise OSError(str(e))
        return list(md.brokers)

    def partition_state(self, topic: str, partition: int) -> PartitionState:
        p = self._a.list_topics(topic, timeout=5).topics[topic].partitions[partition]
        return PartitionState(p.leader, tuple(p.replicas), tuple(p.isrs))

    def create_topic(self, name: str, partitions: int, rf: int, config: Mapping[str, str]) -> None:
        f = self._a.create_topics([NewTopic(name, partitions, rf, config=dict(config))])
        f[name].result(30)

    def wait_for_leaders(self, name: str, partitions: int) -> None:
        for _ in range(100):
            t = self._a.list_topics(name, timeout=5).topics[name]
            if len(t.partitions) == partitions and all(
                p.leader >= 0 for p in t.partitions.values()
            ):
                return
            time.sleep(0.1)
