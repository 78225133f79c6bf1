"""Fuzzing: random and mutated frames may only ever raise ProtocolError, and never hang."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest
from kafka_python_counterpart import AnyResponse, response_bytes

from aioproducer._protocol.client import ClientConnection
from aioproducer._protocol.framing import frame
from aioproducer._protocol.messages.api_versions import (
    ApiVersionRange,
    ApiVersionsRequest,
    ApiVersionsResponse,
    FinalizedFeature,
    SupportedFeature,
)
from aioproducer._protocol.messages.create_topics import (
    CreatableTopicResult,
    CreateTopicsRequest,
    CreateTopicsResponse,
    TopicConfigEntry,
)
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.metadata import (
    MetadataBroker,
    MetadataPartition,
    MetadataRequest,
    MetadataResponse,
    MetadataTopic,
)
from aioproducer._protocol.messages.produce import (
    LeaderIdAndEpoch,
    NodeEndpoint,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
    ProduceTopicResponse,
    RecordError,
)
from aioproducer.errors import ProtocolError

TOPIC_ID = uuid.UUID(int=0x1234_5678_9ABC_DEF0_1122_3344_5566_7788)
SAMPLES: list[tuple[Any, AnyResponse]] = [
    (
        ApiVersionsRequest,
        ApiVersionsResponse(
            0,
            (ApiVersionRange(0, 3, 11), ApiVersionRange(3, 0, 12)),
            5,
            (SupportedFeature("metadata.version", 1, 20),),
            7,
            (FinalizedFeature("kraft.version", 1, 0),),
            True,
        ),
    ),
    (
        MetadataRequest,
        MetadataResponse(
            (MetadataBroker(1, "broker-1", 9092, "rack-a"), MetadataBroker(2, "b2", 9093)),
            (
                MetadataTopic(
                    0,
                    "orders",
                    (MetadataPartition(0, 0, 1, 4, (1, 2), (1, 2), (2,)),),
                    TOPIC_ID,
                    False,
                    8,
                ),
            ),
            3,
            "cluster",
            1,
            0,
        ),
    ),
    (
        ProduceRequest,
        ProduceResponse(
            (
                ProduceTopicResponse(
                    "orders",
                    (
                        ProducePartitionResponse(
                            0, 6, 100, -1, 3, (RecordError(1, "bad"),), "m", LeaderIdAndEpoch(2, 5)
                        ),
                    ),
                ),
            ),
            0,
            (NodeEndpoint(2, "b2", 9093, None),),
        ),
    ),
    (InitProducerIdRequest, InitProducerIdResponse(0, 4000, 3, 1)),
    (
        CreateTopicsRequest,
        CreateTopicsResponse(
            (
                CreatableTopicResult(
                    "t",
                    0,
                    "msg",
                    TOPIC_ID,
                    2,
                    3,
                    1,
                    (TopicConfigEntry("cleanup.policy", "delete", False, 5, False),),
                ),
            ),
            1,
        ),
    ),
]


REQUESTS: dict[Any, Any] = {
    ApiVersionsRequest: ApiVersionsRequest(),
    MetadataRequest: MetadataRequest(("orders",)),
    ProduceRequest: ProduceRequest(1, 1000, []),
    InitProducerIdRequest: InitProducerIdRequest(),
    CreateTopicsRequest: CreateTopicsRequest([]),
}


def _seeds() -> list[tuple[Any, int, bytes]]:
    return [
        (cls, version, response_bytes(response, version))
        for cls, response in SAMPLES
        for version in range(cls.MIN_VERSION, cls.MAX_VERSION + 1)
    ]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip a bit
            i = pos % len(buf)
            buf[i] ^= 1 << rng.randrange(8)
        elif op == 1 and buf:  # interesting byte
            buf[pos % len(buf)] = rng.choice((0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF))
        elif op == 2:  # insert random bytes
            buf[pos:pos] = rng.randbytes(rng.randint(1, 8))
        elif op == 3:  # delete a run
            del buf[pos : pos + rng.randint(1, 8)]
        elif op == 4:  # truncate
            del buf[pos:]
        else:  # overwrite with a large length-like value
            buf[pos : pos + 4] = rng.choice((b"\x7f\xff\xff\xff", b"\xff\xff\xff\xff", b"\xff"))
    return bytes(buf)


@pytest.mark.slow
def test_fuzzed_bodies_and_streams_only_raise_protocol_error() -> None:
    rng = random.Random(20240601)
    seeds = _seeds()
    frames = 0
    decoded = 0
    while frames < 100_000:
        cls, version, body = rng.choice(seeds)
        data = rng.randbytes(rng.randint(0, 64)) if rng.random() < 0.1 else _mutate(rng, body)
        frames += 1
        try:
            cls.decode_response(memoryview(data), version)
            decoded += 1
        except ProtocolError:
            pass
        if frames % 10 == 0:  # the same bytes as a frame through a connection, split randomly
            conn = ClientConnection("fuzz", max_response_size=1 << 16)
            conn.send(REQUESTS[cls], version)
            wire = frame(b"\x00\x00\x00\x00" + (b"\x00" if _flexible(cls, version) else b"") + data)
            if rng.random() < 0.3:
                wire = _mutate(rng, wire)
            try:
                cut = rng.randrange(len(wire) + 1)
                conn.receive_data(wire[:cut])
                conn.receive_data(wire[cut:])
            except ProtocolError:
                pass
    assert decoded > 100  # the mutations leave some frames valid


def _flexible(cls: Any, version: int) -> bool:
    return bool(version >= cls.FLEXIBLE_FROM and cls is not ApiVersionsRequest)


@pytest.mark.slow
def test_random_streams_into_a_connection_only_raise_protocol_error() -> None:
    rng = random.Random(7)
    for _ in range(2_000):
        conn = ClientConnection("fuzz", max_response_size=4096)
        for _ in range(3):
            conn.send(MetadataRequest(("t",)), rng.randint(0, 12))
        try:
            for _ in range(5):
                conn.receive_data(rng.randbytes(rng.randint(0, 300)))
        except ProtocolError:
            pass
