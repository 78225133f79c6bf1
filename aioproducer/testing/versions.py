"""The one place where the Apache Kafka versions used by the test harness are pinned."""

from __future__ import annotations

import os

__all__ = [
    "COMPAT_VERSIONS",
    "KAFKA_VERSION",
    "VERSION_ENV",
    "scala_binary",
    "session_kafka_version",
    "uses_zookeeper",
    "version_tuple",
    "zookeeper_override",
]

#: Apache Kafka release whose jars are resolved from Maven Central.
KAFKA_VERSION = "4.4.0"

#: The releases ``make compat`` runs the core integration tests against, oldest first: the
#: newest patch of each on Maven Central. 2.x brokers run in ZooKeeper mode, 3.3+ in KRaft.
COMPAT_VERSIONS = (
    "2.0.1",
    "2.3.1",
    "2.8.2",
    "3.3.2",
    "3.5.2",
    "3.7.2",
    "3.9.2",
    "4.0.2",
    "4.1.2",
    KAFKA_VERSION,
)

#: Names the release of the session's broker (``kafka_cluster``): started locally, or the
#: one ``KAFKA_BOOTSTRAP_SERVERS`` points at; unset, :data:`KAFKA_VERSION`.
VERSION_ENV = "AIOPRODUCER_KAFKA_VERSION"

#: The ZooKeeper that replaces an older one bundled with Kafka: ZooKeeper clients before
#: 3.5.8 cannot connect on Java 14+ (ZOOKEEPER-3779); Kafka 2.8 ships this one.
_ZOOKEEPER = "3.5.9"


def version_tuple(version: str) -> tuple[int, ...]:
    """``"3.9.2"`` -> ``(3, 9, 2)``; ValueError when it is not dotted numbers."""
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise ValueError(f"not a Kafka version: {version!r}") from None


def session_kafka_version() -> str:
    """The release the session's broker runs: ``$AIOPRODUCER_KAFKA_VERSION`` or the pin."""
    version = os.environ.get(VERSION_ENV) or KAFKA_VERSION
    version_tuple(version)
    return version


def uses_zookeeper(version: str) -> bool:
    """True for releases the harness runs in ZooKeeper mode (KRaft is production-ready
    from 3.3; 4.0 has no ZooKeeper mode)."""
    return version_tuple(version) < (3, 3)


def scala_binary(version: str) -> str:
    """The Scala binary version of the ``kafka_2.x`` artifact (2.13 exists from 2.4)."""
    return "2.12" if version_tuple(version) < (2, 4) else "2.13"


def zookeeper_override(version: str) -> str | None:
    """The ZooKeeper to resolve instead of the one Kafka ``version`` names (None: its own)."""
    return _ZOOKEEPER if version_tuple(version) < (2, 8) else None
