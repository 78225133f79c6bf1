"""The error root, the classes the protocol layer raises, and the broker errors' bases.

This is the protocol layer's own error base (as h11's ``_util.py`` is h11's): the sans-IO
code under :mod:`aioproducer._protocol` raises these and imports nothing above its layer
(docs/architecture.md). As in h11, they split by whose fault it was: the peer's
(:class:`ProtocolError`: bytes that break the protocol; :class:`AuthenticationError`: a SASL
exchange the broker refused or broke) or this side's (:class:`ConfigurationError`: a bad
setting or argument; :class:`IllegalStateError`: a call the object's state does not allow).

:mod:`aioproducer._broker_errors` (generated from Kafka's error table) subclasses these, and
:mod:`aioproducer.errors` re-exports both, adding the producer's own: import every error from
there. The classes that used to be defined there keep ``aioproducer.errors`` as their
``__module__``, so tracebacks and pickles name them as before.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ProducerError(Exception):
    """Root of every error aioproducer raises."""


class ProtocolError(ProducerError):
    """Bytes from the peer could not be decoded, or broke the Kafka protocol."""


class ConfigurationError(ProducerError, ValueError):
    """A configuration value, or a combination of values, is invalid."""

    __module__ = "aioproducer.errors"


class IllegalStateError(ProducerError, RuntimeError):
    """An operation was called in a state that does not allow it (e.g. commit with no txn)."""

    __module__ = "aioproducer.errors"


class AuthenticationError(ProducerError):
    """SASL or SSL authentication with a broker failed; retrying will not help."""


class FencedProducerError(ProducerError):
    """Another producer instance with the same transactional id (or a newer epoch) took over.

    Fatal for this producer: close it and create a new one.
    """


class BrokerError(ProducerError):
    """An error code returned by a broker. Subclasses exist per Kafka error code.

    ``str()`` names the code and its Kafka name, then the broker's own message if it sent
    one, else the standard description. ``broker_message`` keeps the broker's text (or None).
    """

    code: int = -1
    kafka_name: str = "UNKNOWN"
    retriable: bool = False
    invalid_metadata: bool = False

    # Filled as aioproducer._broker_errors is imported, which aioproducer.errors does (and
    # the package imports aioproducer.errors, so any import of aioproducer completes it).
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
        # The standard description is the docstring's first paragraph, on one line.
        text = message or " ".join((self.__doc__ or "").split("\n\n", 1)[0].split())
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
