"""A small blocking admin client for the test harness, built on aioproducer's protocol layer.

It speaks to one broker over a plain socket: broker list, partition leaders and ISRs, topic
creation. Tests use it to set up topics and to drive failover; it is not part of the producer.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Self, TypeVar

from aioproducer._protocol.api import Request, negotiate
from aioproducer._protocol.client import ClientConnection
from aioproducer._protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from aioproducer._protocol.messages.create_topics import (
    CreatableTopic,
    CreateTopicsRequest,
    CreateTopicsResponse,
)
from aioproducer._protocol.messages.describe_producers import (
    DescribeProducersRequest,
    DescribeProducersResponse,
)
from aioproducer._protocol.messages.find_coordinator import (
    CoordinatorType,
    FindCoordinatorRequest,
    FindCoordinatorResponse,
)
from aioproducer._protocol.messages.metadata import MetadataRequest, MetadataResponse
from aioproducer.errors import broker_error

__all__ = ["AdminClient", "PartitionState", "create_fresh_topic"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PartitionState:
    """Leader, replicas and in-sync replicas of one partition."""

    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


class AdminClient:
    """Blocking requests to the broker at ``address`` (``host:port``)."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        host, _, port = address.rpartition(":")
        self._sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._core = ClientConnection("aioproducer-testing")
        self._versions: dict[int, tuple[int, int]] = {}
        try:
            response = self._call(ApiVersionsRequest(), 0, ApiVersionsResponse)
            self._versions = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
        except BaseException:
            self._sock.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def _call(self, request: Request, version: int | None, expect: type[T]) -> T:
        if version is None:
            low, high = self._versions[request.API_KEY]
            version = negotiate(type(request), low, high)
        _, data = self._core.send(request, version)
        self._sock.sendall(data)
        while True:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            for _, response in self._core.receive_data(chunk):
                assert isinstance(response, expect)
                return response

    def _metadata(self, topics: list[str] | None) -> MetadataResponse:
        request = MetadataRequest(
            topics=None if topics is None else tuple(topics), allow_auto_topic_creation=False
        )
        return self._call(request, None, MetadataResponse)

    def brokers(self) -> list[int]:
        """Node ids of the registered brokers."""
        return [b.node_id for b in self._metadata([]).brokers]

    def partition_state(self, topic: str, partition: int) -> PartitionState:
        for t in self._metadata([topic]).topics:
            for p in t.partitions:
                if p.partition_index == partition:
                    return PartitionState(p.leader_id, p.replica_nodes, p.isr_nodes)
        return PartitionState(-1, (), ())

    def active_producers(self, topic: str, partition: int) -> list[tuple[int, int, int]]:
        """``(producer id, epoch, last sequence)`` of each producer the partition remembers.

        Ask the partition's leader (this client's broker must lead it).
        """
        request = DescribeProducersRequest({topic: [partition]})
        response = self._call(request, None, DescribeProducersResponse)
        for result in response.partitions:
            if result.error_code != 0:
                raise broker_error(result.error_code, result.error_message)
            return [
                (p.producer_id, p.producer_epoch, p.last_sequence) for p in result.active_producers
            ]
        return []

    def transaction_coordinator(self, transactional_id: str) -> int:
        """Node id of the broker coordinating ``transactional_id`` (FindCoordinator)."""
        request = FindCoordinatorRequest([transactional_id], CoordinatorType.TRANSACTION)
        response = self._call(request, None, FindCoordinatorResponse)
        found = response.coordinators[0]
        if found.error_code != 0:
            raise broker_error(found.error_code, found.error_message)
        return found.node_id

    def finalized_features(self) -> dict[str, int]:
        """The cluster's finalized feature levels (``transaction.version``, ...), from an
        ApiVersions request of v3+ (empty from a broker without features)."""
        response = self._call(ApiVersionsRequest(), None, ApiVersionsResponse)
        return {f.name: f.max_version_level for f in response.finalized_features}

    def create_topic(
        self, name: str, partitions: int, replication_factor: int, config: Mapping[str, str]
    ) -> None:
        """Create ``name``; an existing topic is an error."""
        topic = CreatableTopic(name, partitions, replication_factor, (), tuple(config.items()))
        response = self._call(
            CreateTopicsRequest([topic], timeout_ms=30_000), None, CreateTopicsResponse
        )
        for result in response.topics:
            if result.error_code != 0:
                raise broker_error(result.error_code, result.error_message or f"creating {name}")

    def wait_for_leaders(self, name: str, partitions: int, timeout: float = 30.0) -> None:
        """Wait until every partition of ``name`` has a leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t in self._metadata([name]).topics:
                leaders = [p.leader_id for p in t.partitions if p.error_code == 0]
                if t.error_code == 0 and len(leaders) == partitions and min(leaders) >= 0:
                    return
            time.sleep(0.05)
        raise TimeoutError(f"topic {name} has no leader for every partition after {timeout}s")


def create_fresh_topic(
    address: str,
    name: str | None = None,
    partitions: int = 1,
    replication_factor: int = 1,
    config: Mapping[str, str] | None = None,
) -> str:
    """Create a topic (a unique name when ``name`` is None) and wait for its leaders."""
    name = name or f"t-{uuid.uuid4().hex[:12]}"
    with AdminClient(address) as admin:
        admin.create_topic(name, partitions, replication_factor, config or {})
        admin.wait_for_leaders(name, partitions)
    return name
