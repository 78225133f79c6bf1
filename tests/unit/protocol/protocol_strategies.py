"""Hypothesis strategies for aioproducer's messages, limited to what a version can carry."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import strategies as st

from aioproducer._protocol.messages.api_versions import (
    ApiVersionRange,
    ApiVersionsRequest,
    ApiVersionsResponse,
    FinalizedFeature,
    SupportedFeature,
)
from aioproducer._protocol.messages.create_topics import (
    CreatableTopic,
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
    AUTHORIZED_OPERATIONS_UNSET,
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
from aioproducer._protocol.primitives import ZERO_UUID

T = TypeVar("T")

int8 = st.integers(-(2**7), 2**7 - 1)
int16 = st.integers(-(2**15), 2**15 - 1)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
text = st.text(max_size=12)
nullable_text = st.none() | text
uuids = st.builds(uuid.UUID, int=st.integers(0, 2**128 - 1))
int32s = st.lists(int32, max_size=5).map(tuple)


def _small_tuple(
    elements: st.SearchStrategy[T], max_size: int = 3
) -> st.SearchStrategy[tuple[T, ...]]:
    return st.lists(elements, max_size=max_size).map(tuple)


# ------------------------------------------------------------------------------ requests


def api_versions_requests(version: int) -> st.SearchStrategy[ApiVersionsRequest]:
    return st.builds(ApiVersionsRequest, text, text)


def metadata_requests(version: int) -> st.SearchStrategy[MetadataRequest]:
    topics = _small_tuple(text, 4)
    if version == 0:
        topics = topics.filter(bool)
    return st.builds(
        MetadataRequest,
        st.none() | topics,
        st.booleans() if version >= 4 else st.just(True),
        st.booleans() if 8 <= version <= 10 else st.just(False),
        st.booleans() if version >= 8 else st.just(False),
    )


def produce_requests(version: int) -> st.SearchStrategy[ProduceRequest]:
    partitions = _small_tuple(st.tuples(int32, st.none() | st.binary(max_size=40)))
    topics = _small_tuple(st.tuples(text, partitions))
    if version < 13:
        return st.builds(ProduceRequest, int16, int32, topics, nullable_text)
    ids = st.builds(uuid.UUID, int=st.integers(1, 2**128 - 1))  # v13 refuses the zero id
    return topics.flatmap(
        lambda t: st.builds(
            ProduceRequest,
            int16,
            int32,
            st.just(t),
            nullable_text,
            st.lists(ids, min_size=len(t), max_size=len(t)).map(tuple),
        )
    )


def init_producer_id_requests(version: int) -> st.SearchStrategy[InitProducerIdRequest]:
    if version < 3:
        return st.builds(InitProducerIdRequest, nullable_text, int32)
    return st.builds(InitProducerIdRequest, nullable_text, int32, int64, int16)


def create_topics_requests(version: int) -> st.SearchStrategy[CreateTopicsRequest]:
    topic = st.builds(
        CreatableTopic,
        text,
        int32,
        int16,
        _small_tuple(st.tuples(int32, int32s)),
        _small_tuple(st.tuples(text, nullable_text)),
    )
    return st.builds(
        CreateTopicsRequest,
        _small_tuple(topic),
        int32,
        st.booleans() if version >= 1 else st.just(False),
    )


# ----------------------------------------------------------------------------- responses


def api_versions_responses(version: int) -> st.SearchStrategy[ApiVersionsResponse]:
    keys = _small_tuple(st.builds(ApiVersionRange, int16, int16, int16), 6)
    if version < 3:
        return st.builds(
            ApiVersionsResponse,
            int16.filter(lambda c: c != 35),
            keys,
            int32 if version >= 1 else st.just(0),
            decoded_version=st.just(version),
        )
    return st.builds(
        ApiVersionsResponse,
        int16.filter(lambda c: c != 35),
        keys,
        int32,
        _small_tuple(st.builds(SupportedFeature, text, int16, int16)),
        int64,
        _small_tuple(st.builds(FinalizedFeature, text, int16, int16)),
        st.booleans(),
        st.just(version),
    )


def metadata_responses(version: int) -> st.SearchStrategy[MetadataResponse]:
    partition = st.builds(
        MetadataPartition,
        int16,
        int32,
        int32,
        int32 if version >= 7 else st.just(-1),
        int32s,
        int32s,
        int32s if version >= 5 else st.just(()),
    )
    topic = st.builds(
        MetadataTopic,
        int16,
        nullable_text if version >= 12 else text,
        _small_tuple(partition),
        uuids if version >= 10 else st.just(ZERO_UUID),
        st.booleans() if version >= 1 else st.just(False),
        int32 if version >= 8 else st.just(AUTHORIZED_OPERATIONS_UNSET),
    )
    broker = st.builds(
        MetadataBroker, int32, text, int32, nullable_text if version >= 1 else st.none()
    )
    return st.builds(
        MetadataResponse,
        _small_tuple(broker),
        _small_tuple(topic),
        int32 if version >= 3 else st.just(0),
        nullable_text if version >= 2 else st.none(),
        int32 if version >= 1 else st.just(-1),
        int32 if 8 <= version <= 10 else st.just(AUTHORIZED_OPERATIONS_UNSET),
    )


def produce_responses(version: int) -> st.SearchStrategy[ProduceResponse]:
    partition = st.builds(
        ProducePartitionResponse,
        int32,
        int16,
        int64,
        int64,
        int64 if version >= 5 else st.just(-1),
        _small_tuple(st.builds(RecordError, int32, nullable_text)) if version >= 8 else st.just(()),
        nullable_text if version >= 8 else st.none(),
        st.none() | st.builds(LeaderIdAndEpoch, int32, int32) if version >= 10 else st.none(),
    )
    endpoints = _small_tuple(st.builds(NodeEndpoint, int32, text, int32, nullable_text))
    return st.builds(
        ProduceResponse,
        _small_tuple(
            st.builds(ProduceTopicResponse, st.just(""), _small_tuple(partition), uuids)
            if version >= 13
            else st.builds(ProduceTopicResponse, text, _small_tuple(partition))
        ),
        int32,
        endpoints if version >= 10 else st.just(()),
    )


def init_producer_id_responses(version: int) -> st.SearchStrategy[InitProducerIdResponse]:
    return st.builds(InitProducerIdResponse, int16, int64, int16, int32)


def create_topics_responses(version: int) -> st.SearchStrategy[CreateTopicsResponse]:
    config = st.builds(TopicConfigEntry, text, nullable_text, st.booleans(), int8, st.booleans())
    if version >= 5:
        result = st.builds(
            CreatableTopicResult,
            text,
            int16,
            nullable_text,
            uuids if version >= 7 else st.just(ZERO_UUID),
            int16,
            int32,
            int16,
            st.none() | _small_tuple(config),
        )
    else:
        result = st.builds(
            CreatableTopicResult,
            text,
            int16,
            nullable_text if version >= 1 else st.none(),
        )
    return st.builds(
        CreateTopicsResponse, _small_tuple(result), int32 if version >= 2 else st.just(0)
    )


# ------------------------------------------------------------------------- the API table

Strategy = Callable[[int], st.SearchStrategy[Any]]

APIS: list[tuple[Any, Strategy, Strategy]] = [
    (ApiVersionsRequest, api_versions_requests, api_versions_responses),
    (MetadataRequest, metadata_requests, metadata_responses),
    (ProduceRequest, produce_requests, produce_responses),
    (InitProducerIdRequest, init_producer_id_requests, init_producer_id_responses),
    (CreateTopicsRequest, create_topics_requests, create_topics_responses),
]
"""(request class, request strategy, response strategy) per API."""


def version_cases(apis: list[tuple[Any, Strategy, Strategy]]) -> list[Any]:
    """``pytest.param(cls, req, resp, version)`` for every version of every API."""
    return [
        pytest.param(cls, req, resp, v, id=f"{cls.__name__}-v{v}")
        for cls, req, resp in apis
        for v in range(cls.MIN_VERSION, cls.MAX_VERSION + 1)
    ]
