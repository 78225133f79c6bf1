"""The broker's side of the APIs a producer uses: decode requests, encode responses.

The transaction APIs' are in :mod:`._fake_txn`.

The message modules hold the client's directions (encode a request, decode a response);
these are the other two, written from Kafka's message schemas, for the fake broker::

    header, request = read_request(frame)          # a frame without its size prefix
    data = frame_response(header, response)        # size prefix, header, body

Each decoder returns the message module's own request dataclass and each encoder takes its
normalized response dataclass, so ``decode_response(encode(r, v), v) == r`` for whatever a
version can carry (the unit tests hold them to that for every version).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

from aioproducer._protocol.api import ApiKey, Request, is_flexible
from aioproducer._protocol.headers import (
    RequestHeader,
    read_request_header,
    request_header_version,
    response_header_version,
    write_response_header,
)
from aioproducer._protocol.messages.api_versions import (
    ApiVersionsRequest,
    ApiVersionsResponse,
    FinalizedFeature,
    SupportedFeature,
)
from aioproducer._protocol.messages.get_telemetry_subscriptions import (
    GetTelemetrySubscriptionsRequest,
    GetTelemetrySubscriptionsResponse,
)
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.metadata import MetadataRequest, MetadataResponse
from aioproducer._protocol.messages.produce import (
    TOPIC_IDS_FROM,
    PartitionData,
    ProducePartitionResponse,
    ProduceRequest,
    ProduceResponse,
    TopicData,
)
from aioproducer._protocol.messages.push_telemetry import (
    PushTelemetryRequest,
    PushTelemetryResponse,
)
from aioproducer._protocol.primitives import (
    INT16,
    INT32,
    Reader,
    write_array_length,
    write_bool,
    write_int8,
    write_int16,
    write_int32,
    write_int32_array,
    write_int64,
    write_nullable_string,
    write_string,
    write_tagged_fields,
    write_unsigned_varint,
    write_uuid,
)
from aioproducer.errors import ProtocolError
from aioproducer.testing._fake_txn import TXN_DECODERS, TXN_SERVED, encode_txn_response

__all__ = ["SERVED", "encode_response", "frame_response", "read_request"]

SERVED: Final[dict[int, type[Request]]] = {
    ApiKey.API_VERSIONS: ApiVersionsRequest,
    ApiKey.METADATA: MetadataRequest,
    ApiKey.INIT_PRODUCER_ID: InitProducerIdRequest,
    ApiKey.PRODUCE: ProduceRequest,
    **TXN_SERVED,
    ApiKey.GET_TELEMETRY_SUBSCRIPTIONS: GetTelemetrySubscriptionsRequest,
    ApiKey.PUSH_TELEMETRY: PushTelemetryRequest,
}
"""The APIs the fake broker answers, by key."""


# ------------------------------------------------------------------------------ requests


def read_request(frame: bytes | bytearray | memoryview) -> tuple[RequestHeader, Request]:
    """Decode a request frame (without its size prefix); ProtocolError if malformed."""
    if len(frame) < 4:
        raise ProtocolError("request shorter than its header")
    api_key = INT16.unpack_from(frame, 0)[0]
    version = INT16.unpack_from(frame, 2)[0]
    request_type = SERVED.get(api_key)
    if request_type is None:
        raise ProtocolError(f"the fake broker does not serve API key {api_key}")
    if not request_type.MIN_VERSION <= version <= request_type.MAX_VERSION:
        raise ProtocolError(f"{request_type.__name__} version {version} is not implemented")
    flexible = is_flexible(request_type, version)
    r = Reader(frame)
    header = read_request_header(r, request_header_version(flexible))
    return header, _DECODERS[api_key](r, version, flexible)


def _api_versions_request(r: Reader, version: int, flexible: bool) -> ApiVersionsRequest:
    if version < 3:
        return ApiVersionsRequest()
    request = ApiVersionsRequest(r.string(True), r.string(True))
    r.skip_tagged_fields()
    return request


def _metadata_request(r: Reader, version: int, flexible: bool) -> MetadataRequest:
    n = r.nullable_array_length(flexible)
    topics: tuple[str, ...] | None = None
    if n is not None:
        names = []
        for _ in range(n):
            if version >= 10:
                r.uuid()  # topic ids: the producer asks by name only
            names.append(r.nullable_string(flexible) or "")
            if flexible:
                r.skip_tagged_fields()
        topics = tuple(names)
    if version == 0 and not topics:
        topics = None  # v0: an empty array means every topic
    auto_create = r.boolean() if version >= 4 else True
    cluster_ops = r.boolean() if 8 <= version <= 10 else False
    topic_ops = r.boolean() if version >= 8 else False
    if flexible:
        r.skip_tagged_fields()
    return MetadataRequest(topics, auto_create, cluster_ops, topic_ops)


def _init_producer_id_request(r: Reader, version: int, flexible: bool) -> InitProducerIdRequest:
    transactional_id = r.nullable_string(flexible)
    timeout = r.int32()
    producer_id, epoch = (r.int64(), r.int16()) if version >= 3 else (-1, -1)
    if flexible:
        r.skip_tagged_fields()
    return InitProducerIdRequest(transactional_id, timeout, producer_id, epoch)


def _produce_request(r: Reader, version: int, flexible: bool) -> ProduceRequest:
    transactional_id = r.nullable_string(flexible)
    acks = r.int16()
    timeout = r.int32()
    topics: list[TopicData] = []
    ids: list[uuid.UUID] = []
    for _ in range(r.array_length(flexible)):
        if version >= TOPIC_IDS_FROM:
            ids.append(r.uuid())
            name = ""
        else:
            name = r.string(flexible)
        partitions: list[PartitionData] = []
        for _ in range(r.array_length(flexible)):
            partitions.append((r.int32(), r.nullable_bytes(flexible)))
            if flexible:
                r.skip_tagged_fields()
        if flexible:
            r.skip_tagged_fields()
        topics.append((name, partitions))
    if flexible:
        r.skip_tagged_fields()
    return ProduceRequest(acks, timeout, topics, transactional_id, tuple(ids))


def _get_telemetry_subscriptions_request(
    r: Reader, version: int, flexible: bool
) -> GetTelemetrySubscriptionsRequest:
    request = GetTelemetrySubscriptionsRequest(r.uuid())
    r.skip_tagged_fields()
    return request


def _push_telemetry_request(r: Reader, version: int, flexible: bool) -> PushTelemetryRequest:
    request = PushTelemetryRequest(r.uuid(), r.int32(), r.boolean(), r.int8(), r.bytes(True))
    r.skip_tagged_fields()
    return request


_DECODERS: Final[dict[int, Callable[[Reader, int, bool], Any]]] = {
    ApiKey.API_VERSIONS: _api_versions_request,
    ApiKey.METADATA: _metadata_request,
    ApiKey.INIT_PRODUCER_ID: _init_producer_id_request,
    ApiKey.PRODUCE: _produce_request,
    **TXN_DECODERS,
    ApiKey.GET_TELEMETRY_SUBSCRIPTIONS: _get_telemetry_subscriptions_request,
    ApiKey.PUSH_TELEMETRY: _push_telemetry_request,
}


# ----------------------------------------------------------------------------- responses


def frame_response(header: RequestHeader, response: object) -> bytes:
    """The whole response frame answering ``header``'s request: size, header, body."""
    api_key, version = header.api_key, header.api_version
    flexible = is_flexible(SERVED[api_key], version)
    if api_key == ApiKey.API_VERSIONS and isinstance(response, ApiVersionsResponse):
        version = response.decoded_version  # an UNSUPPORTED_VERSION answer is a v0 body
    buf = bytearray(4)
    write_response_header(buf, header.correlation_id, response_header_version(api_key, flexible))
    buf += encode_response(api_key, version, response)
    INT32.pack_into(buf, 0, len(buf) - 4)
    return bytes(buf)


def encode_response(api_key: int, version: int, response: object) -> bytes:
    """The body of ``response`` (the normalized dataclass of ``api_key``) at ``version``."""
    buf = bytearray()
    flexible = is_flexible(SERVED[api_key], version)
    if isinstance(response, ApiVersionsResponse) and api_key == ApiKey.API_VERSIONS:
        _api_versions_response(buf, response, version, flexible)
    elif isinstance(response, MetadataResponse) and api_key == ApiKey.METADATA:
        _metadata_response(buf, response, version, flexible)
    elif isinstance(response, InitProducerIdResponse) and api_key == ApiKey.INIT_PRODUCER_ID:
        write_int32(buf, response.throttle_time_ms)
        write_int16(buf, response.error_code)
        write_int64(buf, response.producer_id)
        write_int16(buf, response.producer_epoch)
        if flexible:
            buf.append(0)
    elif isinstance(response, ProduceResponse) and api_key == ApiKey.PRODUCE:
        _produce_response(buf, response, version, flexible)
    elif api_key in TXN_SERVED and encode_txn_response(buf, response, version, flexible):
        pass
    elif isinstance(response, GetTelemetrySubscriptionsResponse):
        write_int32(buf, response.throttle_time_ms)
        write_int16(buf, response.error_code)
        write_uuid(buf, response.client_instance_id)
        write_int32(buf, response.subscription_id)
        write_array_length(buf, len(response.accepted_compression_types), True)
        for codec in response.accepted_compression_types:
            write_int8(buf, codec)
        write_int32(buf, response.push_interval_ms)
        write_int32(buf, response.telemetry_max_bytes)
        write_bool(buf, response.delta_temporality)
        write_array_length(buf, len(response.requested_metrics), True)
        for prefix in response.requested_metrics:
            write_string(buf, prefix, True)
        buf.append(0)
    elif isinstance(response, PushTelemetryResponse):
        write_int32(buf, response.throttle_time_ms)
        write_int16(buf, response.error_code)
        buf.append(0)
    else:
        raise TypeError(f"{type(response).__name__} is no response to API key {api_key}")
    return bytes(buf)


def _tags(*fields: tuple[int, bytes | None]) -> dict[int, bytes]:
    return {tag: value for tag, value in fields if value is not None}


def _api_versions_response(
    buf: bytearray, response: ApiVersionsResponse, version: int, flexible: bool
) -> None:
    write_int16(buf, response.error_code)
    write_array_length(buf, len(response.api_keys), flexible)
    for entry in response.api_keys:
        write_int16(buf, entry.api_key)
        write_int16(buf, entry.min_version)
        write_int16(buf, entry.max_version)
        if flexible:
            buf.append(0)
    if version >= 1:
        write_int32(buf, response.throttle_time_ms)
    if not flexible:
        return

    def features(items: tuple[SupportedFeature, ...] | tuple[FinalizedFeature, ...]) -> bytes:
        out = bytearray()
        write_array_length(out, len(items), True)
        for item in items:
            write_string(out, item.name, True)
            if isinstance(item, SupportedFeature):
                write_int16(out, item.min_version)
                write_int16(out, item.max_version)
            else:
                write_int16(out, item.max_version_level)
                write_int16(out, item.min_version_level)
            out.append(0)
        return bytes(out)

    epoch = response.finalized_features_epoch
    write_tagged_fields(
        buf,
        _tags(
            (0, features(response.supported_features) if response.supported_features else None),
            (1, None if epoch == -1 else epoch.to_bytes(8, "big", signed=True)),
            (2, features(response.finalized_features) if response.finalized_features else None),
            (3, b"\x01" if response.zk_migration_ready else None),
        ),
    )


def _metadata_response(
    buf: bytearray, response: MetadataResponse, version: int, flexible: bool
) -> None:
    if version >= 3:
        write_int32(buf, response.throttle_time_ms)
    write_array_length(buf, len(response.brokers), flexible)
    for broker in response.brokers:
        write_int32(buf, broker.node_id)
        write_string(buf, broker.host, flexible)
        write_int32(buf, broker.port)
        if version >= 1:
            write_nullable_string(buf, broker.rack, flexible)
        if flexible:
            buf.append(0)
    if version >= 2:
        write_nullable_string(buf, response.cluster_id, flexible)
    if version >= 1:
        write_int32(buf, response.controller_id)
    write_array_length(buf, len(response.topics), flexible)
    for topic in response.topics:
        write_int16(buf, topic.error_code)
        if version >= 12:
            write_nullable_string(buf, topic.name, flexible)
        else:
            write_string(buf, topic.name or "", flexible)
        if version >= 10:
            write_uuid(buf, topic.topic_id)
        if version >= 1:
            write_bool(buf, topic.is_internal)
        write_array_length(buf, len(topic.partitions), flexible)
        for p in topic.partitions:
            write_int16(buf, p.error_code)
            write_int32(buf, p.partition_index)
            write_int32(buf, p.leader_id)
            if version >= 7:
                write_int32(buf, p.leader_epoch)
            write_int32_array(buf, p.replica_nodes, flexible)
            write_int32_array(buf, p.isr_nodes, flexible)
            if version >= 5:
                write_int32_array(buf, p.offline_replicas, flexible)
            if flexible:
                buf.append(0)
        if version >= 8:
            write_int32(buf, topic.topic_authorized_operations)
        if flexible:
            buf.append(0)
    if 8 <= version <= 10:
        write_int32(buf, response.cluster_authorized_operations)
    if flexible:
        buf.append(0)


def _produce_partition(
    buf: bytearray, p: ProducePartitionResponse, version: int, flexible: bool
) -> None:
    write_int32(buf, p.index)
    write_int16(buf, p.error_code)
    write_int64(buf, p.base_offset)
    write_int64(buf, p.log_append_time_ms)
    if version >= 5:
        write_int64(buf, p.log_start_offset)
    if version >= 8:
        write_array_length(buf, len(p.record_errors), flexible)
        for error in p.record_errors:
            write_int32(buf, error.batch_index)
            write_nullable_string(buf, error.message, flexible)
            if flexible:
                buf.append(0)
        write_nullable_string(buf, p.error_message, flexible)
    if flexible:
        leader = None
        if version >= 10 and p.current_leader is not None:
            raw = bytearray()
            write_int32(raw, p.current_leader.leader_id)
            write_int32(raw, p.current_leader.leader_epoch)
            raw.append(0)
            leader = bytes(raw)
        write_tagged_fields(buf, _tags((0, leader)))


def _produce_response(
    buf: bytearray, response: ProduceResponse, version: int, flexible: bool
) -> None:
    write_array_length(buf, len(response.topics), flexible)
    for topic in response.topics:
        if version >= TOPIC_IDS_FROM:
            write_uuid(buf, topic.topic_id)
        else:
            write_string(buf, topic.name, flexible)
        write_array_length(buf, len(topic.partitions), flexible)
        for p in topic.partitions:
            _produce_partition(buf, p, version, flexible)
        if flexible:
            buf.append(0)
    write_int32(buf, response.throttle_time_ms)
    if not flexible:
        return
    endpoints = None
    if version >= 10 and response.node_endpoints:
        raw = bytearray()
        write_unsigned_varint(raw, len(response.node_endpoints) + 1)
        for node in response.node_endpoints:
            write_int32(raw, node.node_id)
            write_string(raw, node.host, True)
            write_int32(raw, node.port)
            write_nullable_string(raw, node.rack, True)
            raw.append(0)
        endpoints = bytes(raw)
    write_tagged_fields(buf, _tags((0, endpoints)))
