"""GSSAPI (Kerberos) against a real MIT KDC and a real broker: a throwaway realm
(aioproducer.testing.kerberos), a broker whose GSSAPI listener authenticates with it, records
produced by a client keytab and read back by confluent-kafka on the PLAINTEXT listener; a
wrong service name, a wrong host or no credentials fail start() at once.

Run with ``make gssapi`` (installs the KDC and the gssapi package when missing, and sets
``AIOPRODUCER_GSSAPI_TESTS=1``); skipped otherwise, and when either is absent.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_reauthentication import reauthentications, send_for

from aioproducer import Producer
from aioproducer.errors import AuthenticationError
from aioproducer.testing.cluster import LocalKafkaCluster
from aioproducer.testing.kerberos import (
    REAUTH_MS,
    KerberosRealm,
    kerberos_cluster,
    kerberos_tools,
    localhost_bootstrap,
)
from aioproducer.testing.readback import consume_all, count_records

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        os.environ.get("AIOPRODUCER_GSSAPI_TESTS") != "1",
        reason="not part of `make test`: run `make gssapi` (AIOPRODUCER_GSSAPI_TESTS=1)",
    ),
    pytest.mark.skipif(
        kerberos_tools() is None,
        reason="no MIT KDC (krb5kdc, kdb5_util, kadmin.local): run `make gssapi`",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("gssapi") is None,
        reason="the gssapi package is not installed: run `make gssapi`",
    ),
]

FAST = 10.0  # seconds within which a refused start() must fail
GSSAPI = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "GSSAPI"}


def _setenv(values: dict[str, str | None]) -> dict[str, str | None]:
    """Set (or, for None, remove) environment variables; return the values they had."""
    old = {name: os.environ.get(name) for name in values}
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return old


@pytest.fixture(scope="module")
def realm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KerberosRealm]:
    """The realm, its KDC running, and this process's Kerberos environment pointing at it."""
    with KerberosRealm(tmp_path_factory.mktemp("krb5")) as started:
        old = _setenv({**started.client_env(), "KRB5_KTNAME": None})
        try:
            yield started
        finally:
            _setenv(old)


@pytest.fixture(scope="module")
def cluster(
    realm: KerberosRealm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalKafkaCluster]:
    with kerberos_cluster(tmp_path_factory.mktemp("kafka"), realm) as started:
        yield started


async def _deliver(cluster: LocalKafkaCluster, bootstrap: str, **options: object) -> None:
    topic = cluster.create_topic()
    async with Producer(bootstrap_servers=bootstrap, **GSSAPI, **options) as producer:  # type: ignore[arg-type]
        for i in range(3):
            await producer.send(topic, f"v{i}".encode())
        await producer.flush()
    records = consume_all(cluster.bootstrap_servers, topic)
    assert [r.value for r in records] == [b"v0", b"v1", b"v2"]


async def _refused(bootstrap: str, **options: object) -> AuthenticationError:
    began = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        async with Producer(bootstrap_servers=bootstrap, **GSSAPI, **options):  # type: ignore[arg-type]
            pass
    assert time.monotonic() - began < FAST
    assert "GSSAPI" in str(info.value)
    assert bootstrap in str(info.value)
    return info.value


async def test_produce_with_a_client_keytab(cluster: LocalKafkaCluster) -> None:
    """The broker's host name from the bootstrap string and the metadata: ``localhost``."""
    await _deliver(cluster, localhost_bootstrap(cluster))


async def test_domain_name_overrides_the_host(cluster: LocalKafkaCluster) -> None:
    """Bootstrapped by address, the principal's host comes from sasl_kerberos_domain_name."""
    address = localhost_bootstrap(cluster).replace("localhost", "127.0.0.1")
    await _deliver(cluster, address, sasl_kerberos_domain_name="localhost")


async def test_java_property_names(cluster: LocalKafkaCluster) -> None:
    topic = cluster.create_topic()
    options = {
        "bootstrap.servers": localhost_bootstrap(cluster),
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "GSSAPI",
        "sasl.kerberos.service.name": "kafka",
    }
    async with Producer(options) as producer:
        await producer.send_and_wait(topic, b"java")
    assert [r.value for r in consume_all(cluster.bootstrap_servers, topic)] == [b"java"]


async def test_sessions_reauthenticate_with_a_new_context(
    cluster: LocalKafkaCluster, caplog: pytest.LogCaptureFixture
) -> None:
    """KIP-368 over GSSAPI: each renewal is a whole new Kerberos context; nothing is lost."""
    caplog.set_level(logging.DEBUG, logger="aioproducer.connection")
    topic = cluster.create_topic(partitions=2)
    async with Producer(bootstrap_servers=localhost_bootstrap(cluster), **GSSAPI) as producer:  # type: ignore[arg-type]
        sent = await send_for(producer, topic, REAUTH_MS / 1000 + 1.5)
    assert f"session lifetime {REAUTH_MS} ms" in caplog.text
    assert reauthentications(caplog) >= 1
    assert count_records(cluster.bootstrap_servers, topic) == sent


async def test_wrong_service_name_fails_fast(cluster: LocalKafkaCluster) -> None:
    error = await _refused(localhost_bootstrap(cluster), sasl_kerberos_service_name="nosuch")
    assert "nosuch@localhost" in str(error)
    assert "not found in Kerberos database" in str(error)


async def test_host_without_a_principal_fails_fast(cluster: LocalKafkaCluster) -> None:
    address = localhost_bootstrap(cluster).replace("localhost", "127.0.0.1")
    error = await _refused(address)
    assert "kafka@127.0.0.1" in str(error)


async def test_no_credentials_fail_fast(cluster: LocalKafkaCluster, tmp_path: Path) -> None:
    old = _setenv(
        {
            "KRB5_CLIENT_KTNAME": str(tmp_path / "missing.keytab"),
            "KRB5CCNAME": f"FILE:{tmp_path / 'empty.ccache'}",
        }
    )
    try:
        error = await _refused(localhost_bootstrap(cluster))
    finally:
        _setenv(old)
    assert "KRB5_CLIENT_KTNAME" in str(error)  # says where credentials come from
