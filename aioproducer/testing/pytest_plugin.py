"""pytest fixtures giving tests a real Kafka cluster.

Where the cluster comes from, in this order:

1. ``KAFKA_BOOTSTRAP_SERVERS`` is set: that cluster (topics are created through it);
2. a Docker engine answers: testcontainers' Kafka (the pinned release only; the ``testing``
   extra: with an engine configured and the extra missing, the fixture fails saying so;
   ``AIOPRODUCER_NO_DOCKER=1`` skips this step);
3. otherwise: a local broker started from Maven-resolved jars (:mod:`.cluster`).

``AIOPRODUCER_KAFKA_VERSION=3.5.2`` names the release of the session's cluster: the local
clusters start it, and a ``KAFKA_BOOTSTRAP_SERVERS`` cluster is taken to run it. Unset, it is
the pinned :data:`~aioproducer.testing.versions.KAFKA_VERSION`. A test marked
``@pytest.mark.kafka_since("2.1", reason="zstd")`` is skipped on an older release.

Loading the plugin imports pytest and nothing optional or POSIX-only: what a fixture needs
is imported when a test asks for it.

Fixtures: ``kafka_cluster`` (session), ``kafka_bootstrap`` (its bootstrap string),
``kafka_version`` (its release), ``new_topic`` (factory of fresh, uniquely named topics),
``kafka_cluster3`` (a local three-node cluster with failover control),
``kafka_cluster_factory`` (local clusters with custom broker settings, cached per settings for
the session) and ``kafka_secure_cluster`` (a local broker with TLS and SASL listeners, see
:mod:`.security`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from aioproducer.testing._extra import missing_extra
from aioproducer.testing.versions import KAFKA_VERSION, session_kafka_version, version_tuple

if TYPE_CHECKING:
    from aioproducer.testing.cluster import LocalKafkaCluster
    from aioproducer.testing.security import SecureSetup

__all__ = [
    "ExternalCluster",
    "KafkaClusterHandle",
    "TopicFactory",
    "kafka_bootstrap",
    "kafka_cluster",
    "kafka_cluster3",
    "kafka_cluster_factory",
    "kafka_secure_cluster",
    "kafka_version",
    "new_topic",
    "pytest_configure",
    "pytest_runtest_setup",
]


class KafkaClusterHandle(Protocol):
    """What every cluster source offers to tests."""

    @property
    def bootstrap_servers(self) -> str: ...

    def create_topic(
        self,
        name: str | None = None,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> str: ...


class TopicFactory(Protocol):
    def __call__(
        self,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> str: ...


class ExternalCluster:
    """A cluster somebody else runs (``KAFKA_BOOTSTRAP_SERVERS`` or a container)."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def create_topic(
        self,
        name: str | None = None,
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> str:
        from aioproducer.testing.admin import create_fresh_topic  # noqa: PLC0415

        first = self._bootstrap.split(",")[0].strip()
        return create_fresh_topic(first, name, partitions, replication_factor, config)


def _docker_engine_here() -> bool:
    """True when a Docker engine is configured here (``DOCKER_HOST`` or the default socket)."""
    return bool(os.environ.get("DOCKER_HOST")) or os.path.exists("/var/run/docker.sock")


def _docker_answers() -> bool:
    """True when the Docker engine answers a ping (a socket alone is not enough)."""
    import docker  # type: ignore[import-untyped]  # noqa: PLC0415 - testcontainers needs it

    try:
        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        client.ping()
    except Exception:
        return False
    finally:
        client.close()
    return True


def _use_docker() -> bool:
    """True when a Docker engine answers and ``AIOPRODUCER_NO_DOCKER`` is not set. That path
    needs the ``testing`` extra: with an engine configured and testcontainers missing, this
    says so (HarnessError) rather than quietly take another path."""
    if os.environ.get("AIOPRODUCER_NO_DOCKER") or not _docker_engine_here():
        return False
    try:
        import testcontainers.kafka  # noqa: F401, PLC0415
    except ImportError as exc:
        raise missing_extra(
            exc,
            "Kafka in Docker (a Docker engine is configured here; AIOPRODUCER_NO_DOCKER=1 "
            "starts Kafka from its jars with Java and Maven instead)",
        ) from exc
    return _docker_answers()


def _container_cluster() -> Iterator[KafkaClusterHandle]:
    from testcontainers.kafka import KafkaContainer  # noqa: PLC0415

    with KafkaContainer(f"apache/kafka:{KAFKA_VERSION}").with_kraft() as container:
        yield ExternalCluster(container.get_bootstrap_server())


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``kafka_since`` marker."""
    config.addinivalue_line(
        "markers",
        "kafka_since(version, reason): skip unless the session's Kafka is that release or newer",
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test marked ``kafka_since`` on an older release than it needs."""
    running = session_kafka_version()
    for mark in item.iter_markers("kafka_since"):
        needed = str(mark.args[0])
        if version_tuple(running) < version_tuple(needed):
            why = mark.kwargs.get("reason", "")
            pytest.skip(f"needs Kafka {needed}+{f' ({why})' if why else ''}; this is {running}")


@pytest.fixture(scope="session")
def kafka_version() -> str:
    """The Apache Kafka release of ``kafka_cluster`` (see the module docstring)."""
    return session_kafka_version()


@pytest.fixture(scope="session")
def kafka_cluster(kafka_version: str) -> Iterator[KafkaClusterHandle]:
    """A Kafka cluster for the whole session (see the module docstring for its source)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield ExternalCluster(external)
    elif kafka_version == KAFKA_VERSION and _use_docker():
        yield from _container_cluster()
    else:
        from aioproducer.testing.cluster import LocalKafkaCluster  # noqa: PLC0415

        with LocalKafkaCluster(brokers=1, version=kafka_version) as cluster:
            yield cluster


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_cluster: KafkaClusterHandle) -> str:
    return kafka_cluster.bootstrap_servers


@pytest.fixture
def new_topic(kafka_cluster: KafkaClusterHandle) -> TopicFactory:
    """Create fresh topics with unique names on ``kafka_cluster``."""

    def create(
        partitions: int = 1,
        replication_factor: int = 1,
        config: Mapping[str, str] | None = None,
    ) -> str:
        return kafka_cluster.create_topic(None, partitions, replication_factor, config)

    return create


@pytest.fixture(scope="session")
def kafka_cluster_factory(kafka_version: str) -> Iterator[Callable[..., LocalKafkaCluster]]:
    """Start local clusters (of ``kafka_version``) with custom broker settings; one per
    distinct set of settings and ``format_args`` (for ``kafka-storage format``, such as
    ``("--feature", "transaction.version=1")``)."""
    from aioproducer.testing.cluster import LocalKafkaCluster  # noqa: PLC0415

    started: dict[tuple[int, tuple[str, ...], tuple[tuple[str, str], ...]], LocalKafkaCluster] = {}

    def start(
        brokers: int = 1, *, format_args: Sequence[str] = (), **broker_config: str
    ) -> LocalKafkaCluster:
        key = (brokers, tuple(format_args), tuple(sorted(broker_config.items())))
        if key not in started:
            cluster = LocalKafkaCluster(
                brokers,
                broker_config=broker_config,
                version=kafka_version,
                format_args=format_args,
            )
            started[key] = cluster.start()
        return started[key]

    try:
        yield start
    finally:
        for cluster in started.values():
            cluster.stop()


@pytest.fixture(scope="session")
def _kafka_cluster3_session(
    kafka_cluster_factory: Callable[..., LocalKafkaCluster],
) -> LocalKafkaCluster:
    return kafka_cluster_factory(3)


@pytest.fixture
def kafka_cluster3(_kafka_cluster3_session: LocalKafkaCluster) -> LocalKafkaCluster:
    """A local three-node cluster whose brokers tests may kill and restart.

    Always started here, even with ``KAFKA_BOOTSTRAP_SERVERS`` set: killing brokers needs
    brokers this run owns. Each test gets it whole: a node an earlier test left stopped is
    started again, and every node answers before the test begins.
    """
    cluster = _kafka_cluster3_session
    for node in cluster.nodes:
        if not node.running():
            cluster.restart(node.node_id)
    cluster.wait_ready()
    return cluster


@pytest.fixture(scope="session")
def kafka_secure_cluster() -> Iterator[SecureSetup]:
    """A local broker with SSL, MTLS, BADHOST, SASL_SSL, SASL_PLAINTEXT and REAUTH listeners,
    enforcing ACLs.

    Always started here (certificates and users are made for it), even with
    ``KAFKA_BOOTSTRAP_SERVERS`` set.
    """
    from aioproducer.testing.security import secure_cluster, secure_setup  # noqa: PLC0415

    workdir = Path(tempfile.mkdtemp(prefix="aioproducer-kafka-secure-"))
    try:
        with secure_cluster(workdir) as cluster:
            yield secure_setup(cluster)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
