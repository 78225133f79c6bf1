"""TLS against the harness's secured broker: each way of configuring it delivers (read back
with confluent-kafka on the PLAINTEXT listener), and each refusal is fast and says why."""

from __future__ import annotations

import ssl
import time

import pytest

from aioproducer import Producer
from aioproducer.errors import AuthenticationError, SSLVerificationError
from aioproducer.testing.readback import consume_all
from aioproducer.testing.security import KEY_PASSWORD, SecureSetup

pytestmark = pytest.mark.integration

#: Far below max_block_ms (60 s): a refusal must not be retried until it runs out.
FAST = 10.0


async def deliver(setup: SecureSetup, listener: str, **options: object) -> None:
    """Produce three records through ``listener`` and read them back."""
    topic = setup.cluster.create_topic()
    options["bootstrap_servers"] = setup.bootstrap(listener)
    async with Producer(options) as producer:
        for i in range(3):
            await producer.send(topic, f"v{i}".encode())
        await producer.flush()
    assert [r.value for r in consume_all(setup.plaintext, topic)] == [b"v0", b"v1", b"v2"]


async def refused(setup: SecureSetup, listener: str, **options: object) -> AuthenticationError:
    """start() through ``listener`` fails with an AuthenticationError, within FAST seconds."""
    began = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        async with Producer({"bootstrap_servers": setup.bootstrap(listener), **options}):
            pass
    assert time.monotonic() - began < FAST
    return info.value


async def test_ssl_with_a_ca_file(kafka_secure_cluster: SecureSetup) -> None:
    ca = str(kafka_secure_cluster.certificates.ca_file)
    await deliver(kafka_secure_cluster, "SSL", security_protocol="SSL", ssl_cafile=ca)


async def test_ssl_with_the_users_context(kafka_secure_cluster: SecureSetup) -> None:
    context = ssl.create_default_context(cafile=kafka_secure_cluster.certificates.ca_file)
    await deliver(kafka_secure_cluster, "SSL", security_protocol="SSL", ssl_context=context)


async def test_mutual_tls_with_an_encrypted_key(kafka_secure_cluster: SecureSetup) -> None:
    certs = kafka_secure_cluster.certificates
    await deliver(
        kafka_secure_cluster,
        "MTLS",
        security_protocol="SSL",
        ssl_cafile=str(certs.ca_file),
        ssl_certfile=str(certs.client_cert),
        ssl_keyfile=str(certs.client_key_encrypted),
        ssl_password=KEY_PASSWORD,
    )


async def test_mutual_tls_with_java_names(kafka_secure_cluster: SecureSetup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A Java properties dict: PEM truststore, PEM keystore (key and chain in one file)."""
    certs = kafka_secure_cluster.certificates
    keystore = tmp_path / "keystore.pem"
    keystore.write_text(certs.client_key_encrypted.read_text() + certs.client_cert.read_text())
    await deliver(
        kafka_secure_cluster,
        "MTLS",
        **{
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certs.ca_file),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(keystore),
            "ssl.key.password": KEY_PASSWORD,
            "ssl.endpoint.identification.algorithm": "https",
        },
    )


async def test_missing_client_certificate_is_refused(kafka_secure_cluster: SecureSetup) -> None:
    ca = str(kafka_secure_cluster.certificates.ca_file)
    error = await refused(kafka_secure_cluster, "MTLS", security_protocol="SSL", ssl_cafile=ca)
    assert "client certificate" in str(error)


async def test_untrusted_certificate_is_refused(kafka_secure_cluster: SecureSetup) -> None:
    """The system's CAs do not know the test CA."""
    error = await refused(kafka_secure_cluster, "SSL", security_protocol="SSL")
    assert isinstance(error, SSLVerificationError)
    assert "failed verification" in str(error)
    assert (
        "local issuer" in str(error) or "self-signed" in str(error) or "self signed" in str(error)
    )


async def test_hostname_mismatch_is_refused(kafka_secure_cluster: SecureSetup) -> None:
    ca = str(kafka_secure_cluster.certificates.ca_file)
    error = await refused(kafka_secure_cluster, "BADHOST", security_protocol="SSL", ssl_cafile=ca)
    assert isinstance(error, SSLVerificationError)
    assert "127.0.0.1" in str(error)
    assert "mismatch" in str(error).lower()


async def test_hostname_check_can_be_turned_off(kafka_secure_cluster: SecureSetup) -> None:
    ca = str(kafka_secure_cluster.certificates.ca_file)
    await deliver(
        kafka_secure_cluster,
        "BADHOST",
        security_protocol="SSL",
        ssl_cafile=ca,
        ssl_check_hostname=False,
    )
