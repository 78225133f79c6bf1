"""The one exception hierarchy of aioproducer.

Everything raised by the library derives from :class:`ProducerError`. Builtin bases are
added where they help callers: configuration mistakes are also ``ValueError``, timeouts are
also ``TimeoutError``.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "ConfigurationError",
    "KafkaTimeoutError",
    "ProducerClosedError",
    "ProducerError",
    "ProtocolError",
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


class BrokerError(ProducerError):
    """An error code returned by a broker. Subclasses exist per Kafka error code."""

    code: int = -1
    retriable: bool = False
    invalid_metadata: bool = False
