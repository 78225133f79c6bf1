"""The one exception hierarchy of aioproducer.

Everything raised by the library derives from :class:`ProducerError`. Builtin bases are
added where they help callers: configuration mistakes are also ``ValueError``, timeouts are
also ``TimeoutError``, connection failures are also ``ConnectionError``.

Error codes returned by brokers become :class:`BrokerError` subclasses, one per Kafka error
code, defined in :mod:`aioproducer.broker_errors` and re-exported here (import them from
this module). Those the Java client retries also derive from :class:`RetriableBrokerError`.
Look one up with :meth:`BrokerError.for_code` or build one with :func:`broker_error`.

Foreign exceptions (``OSError``, ``asyncio.TimeoutError``, ...) are converted at I/O
boundaries with :func:`map_exceptions`, always chained with ``raise ... from``.
"""

# ruff: noqa: F405  (the per-code names in __all__ come from the star import below)

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from aioproducer.broker_errors import *  # noqa: F403

__all__ = [
    "CONNECT_EXCEPTIONS",
    "IO_EXCEPTIONS",
    "AuthenticationError",
    "BatchBuildError",
    "BrokerError",
    "BrokerIdNotRegisteredError",
    "BrokerNotAvailableError",
    "BrokerUnavailableError",
    "BufferFullError",
    "ClusterAuthorizationFailedError",
    "ConcurrentTransactionsError",
    "ConfigurationError",
    "ConnectionLostError",
    "CoordinatorLoadInProgressError",
    "CoordinatorNotAvailableError",
    "CorruptMessageError",
    "DelegationTokenAuthDisabledError",
    "DelegationTokenAuthorizationFailedError",
    "DelegationTokenExpiredError",
    "DelegationTokenNotFoundError",
    "DelegationTokenOwnerMismatchError",
    "DelegationTokenRequestNotAllowedError",
    "DeliveryTimeoutError",
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
    "FencedProducerError",
    "FencedStateEpochError",
    "FetchSessionIdNotFoundError",
    "FetchSessionTopicIdError",
    "GroupAuthorizationFailedError",
    "GroupIdNotFoundError",
    "GroupMaxSizeReachedError",
    "GroupSubscribedToTopicError",
    "IllegalGenerationError",
    "IllegalSaslStateError",
    "IllegalStateError",
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
    "InvalidTopicNameError",
    "InvalidTransactionTimeoutError",
    "InvalidTxnStateError",
    "InvalidUpdateVersionError",
    "InvalidVoterKeyError",
    "KafkaStorageError",
    "KafkaTimeoutError",
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
    "ProducerClosedError",
    "ProducerError",
    "ProducerFencedError",
    "ProtocolError",
    "ReassignmentInProgressError",
    "RebalanceInProgressError",
    "RecordListTooLargeError",
    "RecordTooLargeError",
    "ReplicaNotAvailableError",
    "RequestTimedOutError",
    "ResourceNotFoundError",
    "RetriableBrokerError",
    "SaslAuthenticationFailedError",
    "SecurityDisabledError",
    "SerializationError",
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
    "UnknownBrokerError",
    "UnknownControllerIdError",
    "UnknownLeaderEpochError",
    "UnknownMemberIdError",
    "UnknownProducerIdError",
    "UnknownServerError",
    "UnknownSubscriptionIdError",
    "UnknownTopicError",
    "UnknownTopicIdError",
    "UnknownTopicOrPartitionError",
    "UnreleasedInstanceIdError",
    "UnstableOffsetCommitError",
    "UnsupportedAssignorError",
    "UnsupportedCompressionTypeError",
    "UnsupportedEndpointTypeError",
    "UnsupportedForMessageFormatError",
    "UnsupportedSaslMechanismError",
    "UnsupportedVersionError",
    "VoterNotFoundError",
    "broker_error",
    "map_exceptions",
]


class ProducerError(Exception):
    """Root of every error aioproducer raises."""


class ConfigurationError(ProducerError, ValueError):
    """A configuration value, or a combination of values, is invalid."""


class ProtocolError(ProducerError):
    """Bytes from the peer could not be decoded, or broke the Kafka protocol."""


class KafkaTimeoutError(ProducerError, TimeoutError):
    """An operation did not finish before its deadline."""


class ProducerClosedError(ProducerError):
    """The producer is not started, or has been closed."""


# -- errors raised by the producer itself --------------------------------------------------


class RecordTooLargeError(ProducerError, ValueError):
    """A record is larger than ``max_request_size`` or ``buffer_memory``; raised by send()."""


class SerializationError(ProducerError, TypeError):
    """A key, value or header is not bytes (or None) after serialization."""


class InvalidTopicNameError(ProducerError, ValueError):
    """A topic name is empty, too long, or uses characters Kafka does not allow."""


class BatchBuildError(ProducerError):
    """A record batch could not be built (encoded or compressed); only its records fail.

    The error the builder or the codec raised is the ``__cause__``.
    """


class UnknownTopicError(KafkaTimeoutError):
    """The topic was still missing from cluster metadata after ``max_block_ms``."""


class DeliveryTimeoutError(KafkaTimeoutError):
    """A batch expired after ``delivery_timeout_ms``; the last error is the ``__cause__``."""

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.__cause__ = cause


class BufferFullError(KafkaTimeoutError):
    """``buffer_memory`` stayed exhausted for longer than ``max_block_ms``."""


class BrokerUnavailableError(ProducerError, ConnectionError):
    """A broker could not be connected to; the message names its ``host:port``."""


class ConnectionLostError(ProducerError, ConnectionError):
    """An established broker connection closed or failed; in-flight requests are lost."""


class AuthenticationError(ProducerError):
    """SASL or SSL authentication with a broker failed; retrying will not help."""


class FencedProducerError(ProducerError):
    """Another producer instance with the same transactional id (or a newer epoch) took over.

    Fatal for this producer: close it and create a new one.
    """


class IllegalStateError(ProducerError, RuntimeError):
    """An operation was called in a state that does not allow it (e.g. commit with no txn)."""


# -- errors returned by brokers ------------------------------------------------------------


class BrokerError(ProducerError):
    """An error code returned by a broker. Subclasses exist per Kafka error code.

    ``str()`` names the code and its Kafka name, then the broker's own message if it sent
    one, else the standard description. ``broker_message`` keeps the broker's text (or None).
    """

    code: int = -1
    kafka_name: str = "UNKNOWN"
    retriable: bool = False
    invalid_metadata: bool = False

    _by_code: ClassVar[dict[int, type[BrokerError]]] = {}

    def __init_subclass__(
        cls,
        *,
        code: int | None = None,
        name: str | None = None,
        invalid_metadata: bool = False,
        **kwargs: Any,
    ) -> None:
        """Register a subclass declared as ``class X(BrokerError, code=6, name="...")``."""
        super().__init_subclass__(**kwargs)
        if code is None:
            return
        if code == 0 or code in BrokerError._by_code or name is None:
            msg = f"invalid or duplicate error code {code} on {cls.__name__}"
            raise TypeError(msg)
        cls.code = code
        cls.kafka_name = name
        cls.invalid_metadata = invalid_metadata
        BrokerError._by_code[code] = cls

    def __init__(self, message: str | None = None) -> None:
        self.broker_message = message
        text = message or (self.__doc__ or "").split("\n", 1)[0]
        super().__init__(f"[Error {self.code}] {self.kafka_name}: {text}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.broker_message,), self.__dict__)

    @classmethod
    def for_code(cls, code: int) -> type[BrokerError]:
        """The class for a Kafka error code; :class:`UnknownBrokerError` if not known.

        Raises ``ValueError`` for code 0, which means success, not an error.
        """
        if code == 0:
            msg = "error code 0 (NONE) is success, not an error"
            raise ValueError(msg)
        _load_broker_errors()
        return BrokerError._by_code.get(code, UnknownBrokerError)


class RetriableBrokerError(BrokerError):
    """A broker error the Java client retries (until ``delivery_timeout_ms``)."""

    retriable = True


class UnknownBrokerError(BrokerError):
    """An error code this version of aioproducer does not know; ``code`` holds it."""

    def __init__(self, message: str | None = None, code: int = -1) -> None:
        self.code = code
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.broker_message, self.code), self.__dict__)


class UnsupportedVersionError(ProtocolError, BrokerError, code=35, name="UNSUPPORTED_VERSION"):
    """No API version is supported by both sides (raised locally, or as broker code 35)."""


def broker_error(code: int, message: str | None = None) -> BrokerError:
    """The exception for a non-zero error code, with the broker's message if it sent one."""
    cls = BrokerError.for_code(code)
    if cls is UnknownBrokerError:
        return UnknownBrokerError(message, code)
    return cls(message)


def _load_broker_errors() -> Any:
    # Deferred so that aioproducer.broker_errors (which imports this module) can be
    # imported first, e.g. when unpickling, without a circular import.
    return importlib.import_module("aioproducer.broker_errors")


if not TYPE_CHECKING:  # hidden from mypy, which sees the names via the import above

    def __getattr__(name: str) -> type[BrokerError]:
        """Resolve the per-code classes re-exported from :mod:`aioproducer.broker_errors`."""
        module = _load_broker_errors()
        if name in module.__all__:
            cls: type[BrokerError] = getattr(module, name)
            return cls
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)

    def __dir__() -> list[str]:
        return sorted({*globals(), *_load_broker_errors().__all__})


# -- converting foreign exceptions at I/O boundaries -----------------------------------------

ExceptionMapping = Mapping[type[BaseException], type[ProducerError]]

#: While connecting: any failure means the broker is unavailable.
CONNECT_EXCEPTIONS: ExceptionMapping = {
    OSError: BrokerUnavailableError,  # includes TimeoutError, ConnectionError, ssl.SSLError
    EOFError: BrokerUnavailableError,
}
#: On an established connection: timeouts stay timeouts, the rest means the connection is gone.
IO_EXCEPTIONS: ExceptionMapping = {
    TimeoutError: KafkaTimeoutError,  # asyncio.TimeoutError is TimeoutError since 3.11
    OSError: ConnectionLostError,
    EOFError: ConnectionLostError,  # asyncio.IncompleteReadError
}


@contextmanager
def map_exceptions(mapping: ExceptionMapping = IO_EXCEPTIONS, where: str = "") -> Iterator[None]:
    """Convert foreign exceptions raised in the block to ours, chained with ``from``.

    The first matching entry of ``mapping`` wins, so list subclasses first. ``where``
    (e.g. ``"broker1:9092"``) prefixes the message. aioproducer's own errors, unmapped
    exceptions and ``BaseException`` s such as ``CancelledError`` pass through unchanged.
    """
    try:
        yield
    except ProducerError:
        raise
    except Exception as exc:
        for foreign, ours in mapping.items():
            if isinstance(exc, foreign):
                detail = str(exc) or type(exc).__name__
                raise ours(f"{where}: {detail}" if where else detail) from exc
        raise
