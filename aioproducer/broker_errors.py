"""One :class:`~aioproducer.errors.BrokerError` subclass per Kafka error code.

Generated-looking on purpose: one class per row of Kafka's error table (``Errors.java``),
named after the Kafka name, with the broker's description (shortened) as the docstring.
Import them from :mod:`aioproducer.errors`, which re-exports every name here. Code 35
(``UNSUPPORTED_VERSION``) is :class:`~aioproducer.errors.UnsupportedVersionError`, defined
there because the client raises it too.

Declaring ``class X(Base, code=..., name=...)`` registers X for ``BrokerError.for_code``.
Retriable codes derive from :class:`~aioproducer.errors.RetriableBrokerError`; SASL
failures also from :class:`~aioproducer.errors.AuthenticationError`; fencing from
:class:`~aioproducer.errors.FencedProducerError`; ``REQUEST_TIMED_OUT`` from ``TimeoutError``.
"""

from __future__ import annotations

from aioproducer.errors import (
    AuthenticationError,
    BrokerError,
    FencedProducerError,
    RetriableBrokerError,
)

__all__ = [
    "BrokerIdNotRegisteredError",
    "BrokerNotAvailableError",
    "ClusterAuthorizationFailedError",
    "ConcurrentTransactionsError",
    "CoordinatorLoadInProgressError",
    "CoordinatorNotAvailableError",
    "CorruptMessageError",
    "DelegationTokenAuthDisabledError",
    "DelegationTokenAuthorizationFailedError",
    "DelegationTokenExpiredError",
    "DelegationTokenNotFoundError",
    "DelegationTokenOwnerMismatchError",
    "DelegationTokenRequestNotAllowedError",
    "DuplicateBrokerRegistrationError",
    "DuplicateResourceError",
    "DuplicateSequenceNumberError",
    "DuplicateVoterError",
    "ElectionNotNeededError",
    "EligibleLeadersNotAvailableError",
    "FeatureUpdateFailedError",
    "FencedInstanceIdError",
    "FencedLeaderEpochError",
    "FencedMemberEpochError",
    "FencedStateEpochError",
    "FetchSessionIdNotFoundError",
    "FetchSessionTopicIdError",
    "GroupAuthorizationFailedError",
    "GroupIdNotFoundError",
    "GroupMaxSizeReachedError",
    "GroupSubscribedToTopicError",
    "IllegalGenerationError",
    "IllegalSaslStateError",
    "InconsistentClusterIdError",
    "InconsistentGroupProtocolError",
    "InconsistentTopicIdError",
    "InconsistentVoterSetError",
    "IneligibleReplicaError",
    "InvalidCommitOffsetSizeError",
    "InvalidConfigError",
    "InvalidFetchSessionEpochError",
    "InvalidFetchSizeError",
    "InvalidGroupIdError",
    "InvalidPartitionsError",
    "InvalidPrincipalTypeError",
    "InvalidProducerEpochError",
    "InvalidProducerIdMappingError",
    "InvalidRecordError",
    "InvalidRecordStateError",
    "InvalidRegistrationError",
    "InvalidRegularExpressionError",
    "InvalidReplicaAssignmentError",
    "InvalidReplicationFactorError",
    "InvalidRequestError",
    "InvalidRequiredAcksError",
    "InvalidSessionTimeoutError",
    "InvalidShareSessionEpochError",
    "InvalidTimestampError",
    "InvalidTopicError",
    "InvalidTransactionTimeoutError",
    "InvalidTxnStateError",
    "InvalidUpdateVersionError",
    "InvalidVoterKeyError",
    "KafkaStorageError",
    "LeaderNotAvailableError",
    "ListenerNotFoundError",
    "LogDirNotFoundError",
    "MemberIdRequiredError",
    "MessageTooLargeError",
    "MismatchedEndpointTypeError",
    "NetworkError",
    "NewLeaderElectedError",
    "NoReassignmentInProgressError",
    "NonEmptyGroupError",
    "NotControllerError",
    "NotCoordinatorError",
    "NotEnoughReplicasAfterAppendError",
    "NotEnoughReplicasError",
    "NotLeaderOrFollowerError",
    "OffsetMetadataTooLargeError",
    "OffsetMovedToTieredStorageError",
    "OffsetNotAvailableError",
    "OffsetOutOfRangeError",
    "OperationNotAttemptedError",
    "OutOfOrderSequenceNumberError",
    "PolicyViolationError",
    "PreferredLeaderNotAvailableError",
    "PrincipalDeserializationFailureError",
    "ProducerFencedError",
    "ReassignmentInProgressError",
    "RebalanceInProgressError",
    "RecordListTooLargeError",
    "ReplicaNotAvailableError",
    "RequestTimedOutError",
    "ResourceNotFoundError",
    "SaslAuthenticationFailedError",
    "SecurityDisabledError",
    "ShareSessionNotFoundError",
    "SnapshotNotFoundError",
    "StaleBrokerEpochError",
    "StaleControllerEpochError",
    "StaleMemberEpochError",
    "TelemetryTooLargeError",
    "ThrottlingQuotaExceededError",
    "TopicAlreadyExistsError",
    "TopicAuthorizationFailedError",
    "TopicDeletionDisabledError",
    "TransactionAbortableError",
    "TransactionCoordinatorFencedError",
    "TransactionalIdAuthorizationFailedError",
    "TransactionalIdNotFoundError",
    "UnacceptableCredentialError",
    "UnknownControllerIdError",
    "UnknownLeaderEpochError",
    "UnknownMemberIdError",
    "UnknownProducerIdError",
    "UnknownServerError",
    "UnknownSubscriptionIdError",
    "UnknownTopicIdError",
    "UnknownTopicOrPartitionError",
    "UnreleasedInstanceIdError",
    "UnstableOffsetCommitError",
    "UnsupportedAssignorError",
    "UnsupportedCompressionTypeError",
    "UnsupportedEndpointTypeError",
    "UnsupportedForMessageFormatError",
    "UnsupportedSaslMechanismError",
    "VoterNotFoundError",
]


class UnknownServerError(BrokerError, code=-1, name="UNKNOWN_SERVER_ERROR"):
    """The server experienced an unexpected error when processing the request."""


class OffsetOutOfRangeError(BrokerError, code=1, name="OFFSET_OUT_OF_RANGE"):
    """The requested offset is not within the range of offsets kept by the server."""


class CorruptMessageError(RetriableBrokerError, code=2, name="CORRUPT_MESSAGE"):
    """The message failed its CRC check, exceeds the valid size, or is otherwise corrupt."""


class UnknownTopicOrPartitionError(
    RetriableBrokerError, code=3, name="UNKNOWN_TOPIC_OR_PARTITION", invalid_metadata=True
):
    """This server does not host this topic-partition."""


class InvalidFetchSizeError(BrokerError, code=4, name="INVALID_FETCH_SIZE"):
    """The requested fetch size is invalid."""


class LeaderNotAvailableError(
    RetriableBrokerError, code=5, name="LEADER_NOT_AVAILABLE", invalid_metadata=True
):
    """There is no leader for this topic-partition: a leadership election is in progress."""


class NotLeaderOrFollowerError(
    RetriableBrokerError, code=6, name="NOT_LEADER_OR_FOLLOWER", invalid_metadata=True
):
    """This broker is not the leader (or a follower) for that topic-partition."""


class RequestTimedOutError(RetriableBrokerError, TimeoutError, code=7, name="REQUEST_TIMED_OUT"):
    """The request timed out."""


class BrokerNotAvailableError(BrokerError, code=8, name="BROKER_NOT_AVAILABLE"):
    """The broker is not available."""


class ReplicaNotAvailableError(
    RetriableBrokerError, code=9, name="REPLICA_NOT_AVAILABLE", invalid_metadata=True
):
    """The replica is not available for the requested topic-partition."""


class MessageTooLargeError(BrokerError, code=10, name="MESSAGE_TOO_LARGE"):
    """The request included a message larger than the broker's max message size."""


class StaleControllerEpochError(BrokerError, code=11, name="STALE_CONTROLLER_EPOCH"):
    """The controller moved to another broker."""


class OffsetMetadataTooLargeError(BrokerError, code=12, name="OFFSET_METADATA_TOO_LARGE"):
    """The metadata field of the offset request was too large."""


class NetworkError(RetriableBrokerError, code=13, name="NETWORK_EXCEPTION", invalid_metadata=True):
    """The server disconnected before a response was received."""


class CoordinatorLoadInProgressError(
    RetriableBrokerError, code=14, name="COORDINATOR_LOAD_IN_PROGRESS"
):
    """The coordinator is loading and hence can't process requests."""


class CoordinatorNotAvailableError(RetriableBrokerError, code=15, name="COORDINATOR_NOT_AVAILABLE"):
    """The coordinator is not available."""


class NotCoordinatorError(RetriableBrokerError, code=16, name="NOT_COORDINATOR"):
    """This is not the correct coordinator."""


class InvalidTopicError(BrokerError, code=17, name="INVALID_TOPIC_EXCEPTION"):
    """The request attempted to perform an operation on an invalid topic."""


class RecordListTooLargeError(BrokerError, code=18, name="RECORD_LIST_TOO_LARGE"):
    """The request included a batch larger than the broker's configured segment size."""


class NotEnoughReplicasError(RetriableBrokerError, code=19, name="NOT_ENOUGH_REPLICAS"):
    """Messages are rejected since there are fewer in-sync replicas than required."""


class NotEnoughReplicasAfterAppendError(
    RetriableBrokerError, code=20, name="NOT_ENOUGH_REPLICAS_AFTER_APPEND"
):
    """Messages are written to the log, but to fewer in-sync replicas than required."""


class InvalidRequiredAcksError(BrokerError, code=21, name="INVALID_REQUIRED_ACKS"):
    """Produce request specified an invalid value for required acks."""


class IllegalGenerationError(BrokerError, code=22, name="ILLEGAL_GENERATION"):
    """Specified group generation id is not valid."""


class InconsistentGroupProtocolError(BrokerError, code=23, name="INCONSISTENT_GROUP_PROTOCOL"):
    """The member's supported protocols are incompatible with those of existing members."""


class InvalidGroupIdError(BrokerError, code=24, name="INVALID_GROUP_ID"):
    """The configured groupId is invalid."""


class UnknownMemberIdError(BrokerError, code=25, name="UNKNOWN_MEMBER_ID"):
    """The coordinator is not aware of this member."""


class InvalidSessionTimeoutError(BrokerError, code=26, name="INVALID_SESSION_TIMEOUT"):
    """The session timeout is not within the range allowed by the broker."""


class RebalanceInProgressError(BrokerError, code=27, name="REBALANCE_IN_PROGRESS"):
    """The group is rebalancing, so a rejoin is needed."""


class InvalidCommitOffsetSizeError(BrokerError, code=28, name="INVALID_COMMIT_OFFSET_SIZE"):
    """The committing offset data size is not valid."""


class TopicAuthorizationFailedError(BrokerError, code=29, name="TOPIC_AUTHORIZATION_FAILED"):
    """Topic authorization failed."""


class GroupAuthorizationFailedError(BrokerError, code=30, name="GROUP_AUTHORIZATION_FAILED"):
    """Group authorization failed."""


class ClusterAuthorizationFailedError(BrokerError, code=31, name="CLUSTER_AUTHORIZATION_FAILED"):
    """Cluster authorization failed."""


class InvalidTimestampError(BrokerError, code=32, name="INVALID_TIMESTAMP"):
    """The timestamp of the message is out of acceptable range."""


class UnsupportedSaslMechanismError(
    AuthenticationError, BrokerError, code=33, name="UNSUPPORTED_SASL_MECHANISM"
):
    """The broker does not support the requested SASL mechanism."""


class IllegalSaslStateError(AuthenticationError, BrokerError, code=34, name="ILLEGAL_SASL_STATE"):
    """Request is not valid given the current SASL state."""


class TopicAlreadyExistsError(BrokerError, code=36, name="TOPIC_ALREADY_EXISTS"):
    """Topic with this name already exists."""


class InvalidPartitionsError(BrokerError, code=37, name="INVALID_PARTITIONS"):
    """Number of partitions is below 1."""


class InvalidReplicationFactorError(BrokerError, code=38, name="INVALID_REPLICATION_FACTOR"):
    """Replication factor is below 1 or larger than the number of available brokers."""


class InvalidReplicaAssignmentError(BrokerError, code=39, name="INVALID_REPLICA_ASSIGNMENT"):
    """Replica assignment is invalid."""


class InvalidConfigError(BrokerError, code=40, name="INVALID_CONFIG"):
    """Configuration is invalid."""


class NotControllerError(RetriableBrokerError, code=41, name="NOT_CONTROLLER"):
    """This is not the correct controller for this cluster."""


class InvalidRequestError(BrokerError, code=42, name="INVALID_REQUEST"):
    """This most likely occurs because of a request being malformed by the."""


class UnsupportedForMessageFormatError(BrokerError, code=43, name="UNSUPPORTED_FOR_MESSAGE_FORMAT"):
    """The message format version on the broker does not support the request."""


class PolicyViolationError(BrokerError, code=44, name="POLICY_VIOLATION"):
    """Request parameters do not satisfy the configured policy."""


class OutOfOrderSequenceNumberError(BrokerError, code=45, name="OUT_OF_ORDER_SEQUENCE_NUMBER"):
    """The broker received an out of order sequence number."""


class DuplicateSequenceNumberError(BrokerError, code=46, name="DUPLICATE_SEQUENCE_NUMBER"):
    """The broker received a duplicate sequence number."""


class InvalidProducerEpochError(BrokerError, code=47, name="INVALID_PRODUCER_EPOCH"):
    """Producer attempted to produce with an old epoch."""


class InvalidTxnStateError(BrokerError, code=48, name="INVALID_TXN_STATE"):
    """The producer attempted a transactional operation in an invalid state."""


class InvalidProducerIdMappingError(BrokerError, code=49, name="INVALID_PRODUCER_ID_MAPPING"):
    """The producer attempted to use a producer id which is not currently assigned to."""


class InvalidTransactionTimeoutError(BrokerError, code=50, name="INVALID_TRANSACTION_TIMEOUT"):
    """The transaction timeout is larger than the maximum value allowed by."""


class ConcurrentTransactionsError(RetriableBrokerError, code=51, name="CONCURRENT_TRANSACTIONS"):
    """The producer attempted to update a transaction."""


class TransactionCoordinatorFencedError(
    FencedProducerError, BrokerError, code=52, name="TRANSACTION_COORDINATOR_FENCED"
):
    """Indicates that the transaction coordinator sending a WriteTxnMarker."""


class TransactionalIdAuthorizationFailedError(
    BrokerError, code=53, name="TRANSACTIONAL_ID_AUTHORIZATION_FAILED"
):
    """Transactional Id authorization failed."""


class SecurityDisabledError(BrokerError, code=54, name="SECURITY_DISABLED"):
    """Security features are disabled."""


class OperationNotAttemptedError(BrokerError, code=55, name="OPERATION_NOT_ATTEMPTED"):
    """The broker did not attempt to execute this operation."""


class KafkaStorageError(
    RetriableBrokerError, code=56, name="KAFKA_STORAGE_ERROR", invalid_metadata=True
):
    """Disk error when trying to access log file on the disk."""


class LogDirNotFoundError(BrokerError, code=57, name="LOG_DIR_NOT_FOUND"):
    """The user-specified log directory is not found in the broker config."""


class SaslAuthenticationFailedError(
    AuthenticationError, BrokerError, code=58, name="SASL_AUTHENTICATION_FAILED"
):
    """SASL Authentication failed."""


class UnknownProducerIdError(BrokerError, code=59, name="UNKNOWN_PRODUCER_ID"):
    """The broker could not locate the producer metadata for this producer id."""


class ReassignmentInProgressError(BrokerError, code=60, name="REASSIGNMENT_IN_PROGRESS"):
    """A partition reassignment is in progress."""


class DelegationTokenAuthDisabledError(BrokerError, code=61, name="DELEGATION_TOKEN_AUTH_DISABLED"):
    """Delegation Token feature is not enabled."""


class DelegationTokenNotFoundError(BrokerError, code=62, name="DELEGATION_TOKEN_NOT_FOUND"):
    """Delegation Token is not found on server."""


class DelegationTokenOwnerMismatchError(
    BrokerError, code=63, name="DELEGATION_TOKEN_OWNER_MISMATCH"
):
    """Specified Principal is not valid Owner/Renewer."""


class DelegationTokenRequestNotAllowedError(
    BrokerError, code=64, name="DELEGATION_TOKEN_REQUEST_NOT_ALLOWED"
):
    """Delegation Token requests are not allowed on PLAINTEXT/1-way SSL."""


class DelegationTokenAuthorizationFailedError(
    BrokerError, code=65, name="DELEGATION_TOKEN_AUTHORIZATION_FAILED"
):
    """Delegation Token authorization failed."""


class DelegationTokenExpiredError(BrokerError, code=66, name="DELEGATION_TOKEN_EXPIRED"):
    """Delegation Token is expired."""


class InvalidPrincipalTypeError(BrokerError, code=67, name="INVALID_PRINCIPAL_TYPE"):
    """Supplied principalType is not supported."""


class NonEmptyGroupError(BrokerError, code=68, name="NON_EMPTY_GROUP"):
    """The group is not empty."""


class GroupIdNotFoundError(BrokerError, code=69, name="GROUP_ID_NOT_FOUND"):
    """The group id does not exist."""


class FetchSessionIdNotFoundError(RetriableBrokerError, code=70, name="FETCH_SESSION_ID_NOT_FOUND"):
    """The fetch session ID was not found."""


class InvalidFetchSessionEpochError(
    RetriableBrokerError, code=71, name="INVALID_FETCH_SESSION_EPOCH"
):
    """The fetch session epoch is invalid."""


class ListenerNotFoundError(
    RetriableBrokerError, code=72, name="LISTENER_NOT_FOUND", invalid_metadata=True
):
    """There is no listener on the leader broker that matches the listener on which."""


class TopicDeletionDisabledError(BrokerError, code=73, name="TOPIC_DELETION_DISABLED"):
    """Topic deletion is disabled."""


class FencedLeaderEpochError(
    RetriableBrokerError, code=74, name="FENCED_LEADER_EPOCH", invalid_metadata=True
):
    """The leader epoch in the request is older than the epoch on the broker."""


class UnknownLeaderEpochError(RetriableBrokerError, code=75, name="UNKNOWN_LEADER_EPOCH"):
    """The leader epoch in the request is newer than the epoch on the broker."""


class UnsupportedCompressionTypeError(BrokerError, code=76, name="UNSUPPORTED_COMPRESSION_TYPE"):
    """The requesting client does not support the compression type of given partition."""


class StaleBrokerEpochError(BrokerError, code=77, name="STALE_BROKER_EPOCH"):
    """Broker epoch has changed."""


class OffsetNotAvailableError(RetriableBrokerError, code=78, name="OFFSET_NOT_AVAILABLE"):
    """The leader high watermark has not caught up from a recent leader."""


class MemberIdRequiredError(BrokerError, code=79, name="MEMBER_ID_REQUIRED"):
    """The group member needs a valid member id before entering a consumer group."""


class PreferredLeaderNotAvailableError(
    RetriableBrokerError, code=80, name="PREFERRED_LEADER_NOT_AVAILABLE", invalid_metadata=True
):
    """The preferred leader was not available."""


class GroupMaxSizeReachedError(BrokerError, code=81, name="GROUP_MAX_SIZE_REACHED"):
    """The consumer group has reached its max size."""


class FencedInstanceIdError(BrokerError, code=82, name="FENCED_INSTANCE_ID"):
    """The broker rejected this static consumer since."""


class EligibleLeadersNotAvailableError(
    RetriableBrokerError, code=83, name="ELIGIBLE_LEADERS_NOT_AVAILABLE", invalid_metadata=True
):
    """Eligible topic partition leaders are not available."""


class ElectionNotNeededError(
    RetriableBrokerError, code=84, name="ELECTION_NOT_NEEDED", invalid_metadata=True
):
    """Leader election not needed for topic partition."""


class NoReassignmentInProgressError(BrokerError, code=85, name="NO_REASSIGNMENT_IN_PROGRESS"):
    """No partition reassignment is in progress."""


class GroupSubscribedToTopicError(BrokerError, code=86, name="GROUP_SUBSCRIBED_TO_TOPIC"):
    """Deleting offsets of a topic the consumer group is subscribed to is forbidden."""


class InvalidRecordError(BrokerError, code=87, name="INVALID_RECORD"):
    """This record has failed the validation on broker and hence will be rejected."""


class UnstableOffsetCommitError(RetriableBrokerError, code=88, name="UNSTABLE_OFFSET_COMMIT"):
    """There are unstable offsets that need to be cleared."""


class ThrottlingQuotaExceededError(RetriableBrokerError, code=89, name="THROTTLING_QUOTA_EXCEEDED"):
    """The throttling quota has been exceeded."""


class ProducerFencedError(FencedProducerError, BrokerError, code=90, name="PRODUCER_FENCED"):
    """There is a newer producer with the same transactionalId."""


class ResourceNotFoundError(BrokerError, code=91, name="RESOURCE_NOT_FOUND"):
    """A request illegally referred to a resource that does not exist."""


class DuplicateResourceError(BrokerError, code=92, name="DUPLICATE_RESOURCE"):
    """A request illegally referred to the same resource twice."""


class UnacceptableCredentialError(BrokerError, code=93, name="UNACCEPTABLE_CREDENTIAL"):
    """Requested credential would not meet criteria for acceptability."""


class InconsistentVoterSetError(BrokerError, code=94, name="INCONSISTENT_VOTER_SET"):
    """Indicates that the either the sender or recipient of a."""


class InvalidUpdateVersionError(BrokerError, code=95, name="INVALID_UPDATE_VERSION"):
    """The given update version was invalid."""


class FeatureUpdateFailedError(BrokerError, code=96, name="FEATURE_UPDATE_FAILED"):
    """Unable to update finalized features due to an unexpected server error."""


class PrincipalDeserializationFailureError(
    BrokerError, code=97, name="PRINCIPAL_DESERIALIZATION_FAILURE"
):
    """Request principal deserialization failed during forwarding."""


class SnapshotNotFoundError(BrokerError, code=98, name="SNAPSHOT_NOT_FOUND"):
    """Requested snapshot was not found."""


class UnknownTopicIdError(
    RetriableBrokerError, code=100, name="UNKNOWN_TOPIC_ID", invalid_metadata=True
):
    """This server does not host this topic ID."""


class DuplicateBrokerRegistrationError(BrokerError, code=101, name="DUPLICATE_BROKER_REGISTRATION"):
    """This broker ID is already in use."""


class BrokerIdNotRegisteredError(BrokerError, code=102, name="BROKER_ID_NOT_REGISTERED"):
    """The given broker ID was not registered."""


class InconsistentTopicIdError(
    RetriableBrokerError, code=103, name="INCONSISTENT_TOPIC_ID", invalid_metadata=True
):
    """The log's topic ID did not match the topic ID in the request."""


class InconsistentClusterIdError(BrokerError, code=104, name="INCONSISTENT_CLUSTER_ID"):
    """The clusterId in the request does not match that found on the server."""


class TransactionalIdNotFoundError(BrokerError, code=105, name="TRANSACTIONAL_ID_NOT_FOUND"):
    """The transactionalId could not be found."""


class FetchSessionTopicIdError(RetriableBrokerError, code=106, name="FETCH_SESSION_TOPIC_ID_ERROR"):
    """The fetch session encountered inconsistent topic ID usage."""


class IneligibleReplicaError(BrokerError, code=107, name="INELIGIBLE_REPLICA"):
    """The new ISR contains at least one ineligible replica."""


class NewLeaderElectedError(BrokerError, code=108, name="NEW_LEADER_ELECTED"):
    """AlterPartition updated the partition state but the leader has changed."""


class OffsetMovedToTieredStorageError(BrokerError, code=109, name="OFFSET_MOVED_TO_TIERED_STORAGE"):
    """The requested offset is moved to tiered storage."""


class FencedMemberEpochError(BrokerError, code=110, name="FENCED_MEMBER_EPOCH"):
    """The member epoch is fenced by the group coordinator."""


class UnreleasedInstanceIdError(BrokerError, code=111, name="UNRELEASED_INSTANCE_ID"):
    """The instance ID is still used by another member in the consumer group."""


class UnsupportedAssignorError(BrokerError, code=112, name="UNSUPPORTED_ASSIGNOR"):
    """The assignor or its version range is not supported by the consumer group."""


class StaleMemberEpochError(BrokerError, code=113, name="STALE_MEMBER_EPOCH"):
    """The member epoch is stale."""


class MismatchedEndpointTypeError(BrokerError, code=114, name="MISMATCHED_ENDPOINT_TYPE"):
    """The request was sent to an endpoint of the wrong type."""


class UnsupportedEndpointTypeError(BrokerError, code=115, name="UNSUPPORTED_ENDPOINT_TYPE"):
    """This endpoint type is not supported yet."""


class UnknownControllerIdError(BrokerError, code=116, name="UNKNOWN_CONTROLLER_ID"):
    """This controller ID is not known."""


class UnknownSubscriptionIdError(BrokerError, code=117, name="UNKNOWN_SUBSCRIPTION_ID"):
    """A push telemetry request had an invalid or outdated subscription id."""


class TelemetryTooLargeError(BrokerError, code=118, name="TELEMETRY_TOO_LARGE"):
    """A push telemetry request was larger than the broker accepts."""


class InvalidRegistrationError(BrokerError, code=119, name="INVALID_REGISTRATION"):
    """The controller has considered the broker registration to be invalid."""


class TransactionAbortableError(BrokerError, code=120, name="TRANSACTION_ABORTABLE"):
    """The server encountered an error with the transaction."""


class InvalidRecordStateError(BrokerError, code=121, name="INVALID_RECORD_STATE"):
    """The record state is invalid."""


class ShareSessionNotFoundError(RetriableBrokerError, code=122, name="SHARE_SESSION_NOT_FOUND"):
    """The share session was not found."""


class InvalidShareSessionEpochError(
    RetriableBrokerError, code=123, name="INVALID_SHARE_SESSION_EPOCH"
):
    """The share session epoch is invalid."""


class FencedStateEpochError(BrokerError, code=124, name="FENCED_STATE_EPOCH"):
    """The share-group state epoch did not match the share coordinator's."""


class InvalidVoterKeyError(BrokerError, code=125, name="INVALID_VOTER_KEY"):
    """The voter key doesn't match the receiving replica's key."""


class DuplicateVoterError(BrokerError, code=126, name="DUPLICATE_VOTER"):
    """The voter is already part of the set of voters."""


class VoterNotFoundError(BrokerError, code=127, name="VOTER_NOT_FOUND"):
    """The voter is not part of the set of voters."""


class InvalidRegularExpressionError(BrokerError, code=128, name="INVALID_REGULAR_EXPRESSION"):
    """The regular expression is not valid."""
