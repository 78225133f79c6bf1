"""kafka-python 3.x as an independent counterpart for aioproducer's codecs.

kafka-python generates its codecs from Kafka's JSON schemas; aioproducer's are hand-written.
These helpers translate aioproducer's dataclasses into kafka-python objects so the tests can
compare request bytes and feed kafka-python-encoded responses to aioproducer's decoders.
"""

from __future__ import annotations

import warnings
from typing import Any

# kafka-python 3.x loads its JSON schemas with a deprecated importlib.resources call.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka.protocol.admin.topics import CreateTopicsRequest as KCreateTopicsRequest
    from kafka.protocol.admin.topics import CreateTopicsResponse as KCreateTopicsResponse
    from kafka.protocol.api_header import ResponseHeader as KResponseHeader
    from kafka.protocol.metadata.api_versions import ApiVersionsRequest as KApiVersionsRequest
    from kafka.protocol.metadata.api_versions import ApiVersionsResponse as KApiVersionsResponse
    from kafka.protocol.metadata.metadata import MetadataRequest as KMetadataRequest
    from kafka.protocol.metadata.metadata import MetadataResponse as KMetadataResponse
    from kafka.protocol.producer.produce import ProduceRequest as KProduceRequest
    from kafka.protocol.producer.produce import ProduceResponse as KProduceResponse
    from kafka.protocol.producer.transaction import InitProducerIdRequest as KInitProducerIdRequest
    from kafka.protocol.producer.transaction import (
        InitProducerIdResponse as KInitProducerIdResponse,
    )

from aioproducer._protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from aioproducer._protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from aioproducer._protocol.messages.init_producer_id import (
    InitProducerIdRequest,
    InitProducerIdResponse,
)
from aioproducer._protocol.messages.metadata import MetadataRequest, MetadataResponse
from aioproducer._protocol.messages.produce import ProduceRequest, ProduceResponse
from aioproducer._protocol.primitives import ZERO_UUID

AnyRequest = (
    ApiVersionsRequest
    | MetadataRequest
    | ProduceRequest
    | InitProducerIdRequest
    | CreateTopicsRequest
)
AnyResponse = (
    ApiVersionsResponse
    | MetadataResponse
    | ProduceResponse
    | InitProducerIdResponse
    | CreateTopicsResponse
)


def request_bytes(request: AnyRequest, version: int) -> bytes:
    """The body kafka-python writes for the same request."""
    return bytes(request_object(request, version).encode(version=version))


def request_object(request: AnyRequest, version: int) -> Any:
    """The kafka-python object for one of aioproducer's requests."""
    if isinstance(request, ApiVersionsRequest):
        return KApiVersionsRequest(
            client_software_name=request.client_software_name,
            client_software_version=request.client_software_version,
        )
    if isinstance(request, MetadataRequest):
        topics = request.topics
        if version == 0 and topics is None:
            topics = ()
        return KMetadataRequest(
            topics=None
            if topics is None
            else [
                KMetadataRequest.MetadataRequestTopic(topic_id=ZERO_UUID, name=t) for t in topics
            ],
            allow_auto_topic_creation=request.allow_auto_topic_creation,
            include_cluster_authorized_operations=request.include_cluster_authorized_operations,
            include_topic_authorized_operations=request.include_topic_authorized_operations,
        )
    if isinstance(request, ProduceRequest):
        t = KProduceRequest.TopicProduceData
        return KProduceRequest(
            transactional_id=request.transactional_id,
            acks=request.acks,
            timeout_ms=request.timeout_ms,
            topic_data=[
                t(
                    **({"topic_id": request.topic_ids[n]} if version >= 13 else {"name": name}),
                    partition_data=[
                        t.PartitionProduceData(index=i, records=None if r is None else bytes(r))
                        for i, r in parts
                    ],
                )
                for n, (name, parts) in enumerate(request.topic_data)
            ],
        )
    if isinstance(request, InitProducerIdRequest):
        return KInitProducerIdRequest(
            transactional_id=request.transactional_id,
            transaction_timeout_ms=request.transaction_timeout_ms,
            producer_id=request.producer_id,
            producer_epoch=request.producer_epoch,
        )
    c = KCreateTopicsRequest.CreatableTopic
    return KCreateTopicsRequest(
        topics=[
            c(
                name=topic.name,
                num_partitions=topic.num_partitions,
                replication_factor=topic.replication_factor,
                assignments=[
                    c.CreatableReplicaAssignment(partition_index=i, broker_ids=list(ids))
                    for i, ids in topic.assignments
                ],
                configs=[c.CreatableTopicConfig(name=n, value=v) for n, v in topic.configs],
            )
            for topic in request.topics
        ],
        timeout_ms=request.timeout_ms,
        validate_only=request.validate_only,
    )


def response_bytes(response: AnyResponse, version: int) -> bytes:
    """The body kafka-python writes for the same response (no header)."""
    return bytes(response_object(response, version).encode(version=version))


def framed_response(response: AnyResponse, version: int, correlation_id: int) -> bytes:
    """Size prefix, response header and body, header and body written by kafka-python."""
    obj = response_object(response, version)
    # ApiVersions responses always use header v0; kafka-python knows that too.
    flexible = obj.flexible_version_q(version) and not isinstance(response, ApiVersionsResponse)
    header = bytes(KResponseHeader(correlation_id=correlation_id).encode(flexible=flexible))
    payload = header + bytes(obj.encode(version=version))
    return len(payload).to_bytes(4, "big") + payload


def framed_request(request: AnyRequest, version: int, correlation_id: int, client_id: str) -> bytes:
    """Size prefix, request header and body, all written by kafka-python."""
    obj = request_object(request, version)
    obj.API_VERSION = version
    obj.with_header(correlation_id=correlation_id, client_id=client_id)
    return bytes(obj.encode(version=version, header=True, framed=True))


def _bits(value: int) -> set[int]:
    """kafka-python models authorized-operations int32 fields as sets of bit numbers."""
    return {i for i in range(32) if (value & 0xFFFFFFFF) >> i & 1}


def response_object(response: AnyResponse, version: int) -> Any:
    """The kafka-python object for one of aioproducer's normalized responses."""
    if isinstance(response, ApiVersionsResponse):
        k = KApiVersionsResponse
        return k(
            error_code=response.error_code,
            api_keys=[
                k.ApiVersion(
                    api_key=a.api_key, min_version=a.min_version, max_version=a.max_version
                )
                for a in response.api_keys
            ],
            throttle_time_ms=response.throttle_time_ms,
            supported_features=[
                k.SupportedFeatureKey(
                    name=f.name, min_version=f.min_version, max_version=f.max_version
                )
                for f in response.supported_features
            ],
            finalized_features_epoch=response.finalized_features_epoch,
            finalized_features=[
                k.FinalizedFeatureKey(
                    name=f.name,
                    max_version_level=f.max_version_level,
                    min_version_level=f.min_version_level,
                )
                for f in response.finalized_features
            ],
            zk_migration_ready=response.zk_migration_ready,
        )
    if isinstance(response, MetadataResponse):
        m = KMetadataResponse
        extra = {}
        if 8 <= version <= 10:  # kafka-python refuses the field outside the versions it exists in
            extra["authorized_operations"] = _bits(response.cluster_authorized_operations)
        return m(
            **extra,
            throttle_time_ms=response.throttle_time_ms,
            brokers=[
                m.MetadataResponseBroker(node_id=b.node_id, host=b.host, port=b.port, rack=b.rack)
                for b in response.brokers
            ],
            cluster_id=response.cluster_id,
            controller_id=response.controller_id,
            topics=[
                m.MetadataResponseTopic(
                    error_code=t.error_code,
                    name=t.name,
                    topic_id=t.topic_id,
                    is_internal=t.is_internal,
                    partitions=[
                        m.MetadataResponseTopic.MetadataResponsePartition(
                            error_code=p.error_code,
                            partition_index=p.partition_index,
                            leader_id=p.leader_id,
                            leader_epoch=p.leader_epoch,
                            replica_nodes=list(p.replica_nodes),
                            isr_nodes=list(p.isr_nodes),
                            offline_replicas=list(p.offline_replicas),
                        )
                        for p in t.partitions
                    ],
                    authorized_operations=_bits(t.topic_authorized_operations),
                )
                for t in response.topics
            ],
        )
    if isinstance(response, ProduceResponse):
        r = KProduceResponse
        p = r.TopicProduceResponse.PartitionProduceResponse
        return r(
            responses=[
                r.TopicProduceResponse(
                    **({"topic_id": t.topic_id} if version >= 13 else {"name": t.name}),
                    partition_responses=[
                        p(
                            index=x.index,
                            error_code=x.error_code,
                            base_offset=x.base_offset,
                            log_append_time_ms=x.log_append_time_ms,
                            log_start_offset=x.log_start_offset,
                            record_errors=[
                                p.BatchIndexAndErrorMessage(
                                    batch_index=e.batch_index, batch_index_error_message=e.message
                                )
                                for e in x.record_errors
                            ],
                            error_message=x.error_message,
                            current_leader=None
                            if x.current_leader is None
                            else p.LeaderIdAndEpoch(
                                leader_id=x.current_leader.leader_id,
                                leader_epoch=x.current_leader.leader_epoch,
                            ),
                        )
                        for x in t.partitions
                    ],
                )
                for t in response.topics
            ],
            throttle_time_ms=response.throttle_time_ms,
            node_endpoints=[
                r.NodeEndpoint(node_id=n.node_id, host=n.host, port=n.port, rack=n.rack)
                for n in response.node_endpoints
            ],
        )
    if isinstance(response, InitProducerIdResponse):
        return KInitProducerIdResponse(
            throttle_time_ms=response.throttle_time_ms,
            error_code=response.error_code,
            producer_id=response.producer_id,
            producer_epoch=response.producer_epoch,
        )
    c = KCreateTopicsResponse
    return c(
        throttle_time_ms=response.throttle_time_ms,
        topics=[
            c.CreatableTopicResult(
                name=t.name,
                topic_id=t.topic_id,
                error_code=t.error_code,
                error_message=t.error_message,
                topic_config_error_code=t.topic_config_error_code,
                num_partitions=t.num_partitions,
                replication_factor=t.replication_factor,
                configs=None
                if t.configs is None
                else [
                    c.CreatableTopicResult.CreatableTopicConfigs(
                        name=e.name,
                        value=e.value,
                        read_only=e.read_only,
                        config_source=e.config_source,
                        is_sensitive=e.is_sensitive,
                    )
                    for e in t.configs
                ],
            )
            for t in response.topics
        ],
    )
