"""Version negotiation against the session's broker, whichever Kafka release it runs.

``make compat`` runs these (with the core integration tests) against every release in
``COMPAT_VERSIONS``; on its own the session broker is the pinned release (or the one
``AIOPRODUCER_KAFKA_VERSION`` names). The table holds what each release's broker offers, as
its ApiVersions response says; the producer must pick the highest version both sides share.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from aioproducer import Producer
from aioproducer._connection import BrokerConnection
from aioproducer._protocol.api import Request, Response
from aioproducer._protocol.messages.api_versions import ApiVersionsRequest
from aioproducer._protocol.messages.init_producer_id import InitProducerIdRequest
from aioproducer._protocol.messages.metadata import MetadataRequest
from aioproducer._protocol.messages.produce import ProduceRequest
from aioproducer.errors import UnsupportedCompressionTypeError
from aioproducer.testing.pytest_plugin import TopicFactory
from aioproducer.testing.readback import consume_all
from aioproducer.testing.versions import version_tuple

pytestmark = pytest.mark.integration

#: The highest Produce, ApiVersions, Metadata and InitProducerId versions each release's
#: broker offers (its ApiVersions response). A release missing here takes the row of the
#: newest release before it.
COLUMNS: tuple[type[Request], ...] = (
    ProduceRequest,
    ApiVersionsRequest,
    MetadataRequest,
    InitProducerIdRequest,
)
BROKER_MAX: dict[str, tuple[int, ...]] = {
    "2.0": (6, 2, 6, 1),
    "2.3": (7, 2, 8, 1),
    "2.8": (9, 3, 11, 4),
    "3.3": (9, 3, 12, 4),
    "3.7": (10, 3, 12, 4),
    "3.9": (11, 4, 12, 5),
    "4.0": (12, 4, 13, 5),
    "4.1": (13, 4, 13, 5),
    "4.4": (13, 5, 13, 5),
}


def offered(release: str) -> dict[type[Request], int]:
    """The row of :data:`BROKER_MAX` that applies to ``release``."""
    rows = [r for r in BROKER_MAX if version_tuple(r) <= version_tuple(release)]
    if not rows:
        pytest.skip(f"no recorded versions for Kafka {release}")
    return dict(zip(COLUMNS, BROKER_MAX[max(rows, key=version_tuple)], strict=True))


class RecordingConnection(BrokerConnection):
    """A connection that notes the version of every request it sends."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.sent: list[tuple[type[Request], int]] = []

    def send(self, request: Request, version: int | None = None) -> asyncio.Future[Response] | None:
        self.sent.append((type(request), version if version is not None else -1))
        return super().send(request, version)


async def connect(bootstrap: str) -> RecordingConnection:
    host, _, port = bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    conn = RecordingConnection(host, int(port))
    await conn.connect(10)
    return conn


@pytest.mark.parametrize(
    "request_type", [ProduceRequest, MetadataRequest, InitProducerIdRequest, ApiVersionsRequest]
)
async def test_the_highest_shared_version_is_used(
    kafka_bootstrap: str, kafka_version: str, request_type: type[Request]
) -> None:
    """Produce 13 on 4.1+, 12 on 4.0, 11 on 3.9, 10 on 3.7, 9 on 2.8-3.5, 7 on 2.3, 6 on
    2.0; likewise for the others."""
    broker_max = offered(kafka_version)[request_type]
    conn = await connect(kafka_bootstrap)
    try:
        span = conn._versions[request_type.API_KEY]  # white box: what the broker offered
        assert span[1] == broker_max, f"Kafka {kafka_version} offers {span}"
        assert conn.version_for(request_type) == min(broker_max, request_type.MAX_VERSION)
    finally:
        conn.close()


async def test_the_producer_sends_at_the_negotiated_produce_version(
    kafka_bootstrap: str,
    kafka_version: str,
    new_topic: TopicFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the producer really sends: v13 (topics by id, from Metadata v10+) on Kafka 4.1+,
    the broker's newest before; records of two topics in one request land where they
    belong, read back by another client."""
    expected = min(offered(kafka_version)[ProduceRequest], ProduceRequest.MAX_VERSION)
    sent: list[tuple[int, ProduceRequest]] = []
    original = BrokerConnection.send

    def recording(
        self: BrokerConnection, request: Request, version: int | None = None
    ) -> asyncio.Future[Response] | None:
        if isinstance(request, ProduceRequest):
            sent.append(
                (version if version is not None else self.version_for(ProduceRequest), request)
            )
        return original(self, request, version)

    monkeypatch.setattr(BrokerConnection, "send", recording)
    topics = [new_topic(), new_topic()]
    async with Producer(bootstrap_servers=kafka_bootstrap, linger_ms=50) as producer:
        futures = [await producer.send(t, t.encode()) for t in topics]
        await asyncio.gather(*futures)
    assert {version for version, _ in sent} == {expected}
    if expected >= 13:
        assert all(len(r.topic_ids) == len(r.topic_data) for _, r in sent)
    for topic in topics:
        assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [topic.encode()]


async def test_api_versions_falls_back_to_what_the_broker_answers(
    kafka_bootstrap: str, kafka_version: str
) -> None:
    """ApiVersions goes out at the newest version; a broker without it answers
    UNSUPPORTED_VERSION in v0, and the request goes again at the broker's newest, which
    the answer names from Kafka 2.4 on (KIP-511); before that, at v0, as Java does. Kafka
    before 2.4 has no v3, before 3.9 no v4."""
    broker_max = offered(kafka_version)[ApiVersionsRequest]
    conn = await connect(kafka_bootstrap)
    conn.close()
    sent = [version for kind, version in conn.sent if kind is ApiVersionsRequest]
    newest = ApiVersionsRequest.MAX_VERSION
    retry = broker_max if version_tuple(kafka_version) >= (2, 4) else 0
    assert sent == ([newest] if broker_max >= newest else [newest, retry])
    assert conn.version_for(ApiVersionsRequest) == min(broker_max, newest)


@pytest.mark.kafka_since("2.1", reason="zstd needs Produce v7")
async def test_zstd_from_kafka_2_1(kafka_bootstrap: str, new_topic: TopicFactory) -> None:
    topic = new_topic()
    async with Producer(bootstrap_servers=kafka_bootstrap, compression_type="zstd") as producer:
        await producer.send_and_wait(topic, b"v" * 1000)
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"v" * 1000]


async def test_zstd_before_kafka_2_1_fails_at_once(
    kafka_bootstrap: str, kafka_version: str, new_topic: TopicFactory
) -> None:
    """Kafka 2.0 answers zstd with UNKNOWN_SERVER_ERROR for every record; the producer
    refuses first, with a typed error, and sends nothing."""
    if version_tuple(kafka_version) >= (2, 1):
        pytest.skip(f"Kafka {kafka_version} accepts zstd")
    topic = new_topic()
    started = time.monotonic()
    async with Producer(bootstrap_servers=kafka_bootstrap, compression_type="zstd") as producer:
        futures = [await producer.send(topic, b"%d" % i) for i in range(10)]
        results = await asyncio.gather(*futures, return_exceptions=True)
    assert all(isinstance(r, UnsupportedCompressionTypeError) for r in results), results
    assert "up to v6" in str(results[0])
    assert time.monotonic() - started < 10
    async with Producer(bootstrap_servers=kafka_bootstrap, compression_type="gzip") as producer:
        await producer.send_and_wait(topic, b"gzip")
    assert [r.value for r in consume_all(kafka_bootstrap, topic)] == [b"gzip"]
