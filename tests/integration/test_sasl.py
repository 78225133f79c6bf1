"""SASL against the harness's secured broker: PLAIN and both SCRAMs over plain TCP and TLS,
read back with confluent-kafka; wrong credentials fail start() at once, naming the mechanism
and the broker and never the password."""

from __future__ import annotations

import pytest
from test_tls import deliver, refused

from aioproducer import Producer
from aioproducer.errors import SaslAuthenticationFailedError
from aioproducer.testing.security import SecureSetup

pytestmark = pytest.mark.integration

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_sasl_plaintext(kafka_secure_cluster: SecureSetup, mechanism: str) -> None:
    await deliver(
        kafka_secure_cluster,
        "SASL_PLAINTEXT",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_username="alice",
        sasl_password=kafka_secure_cluster.users["alice"],
    )


@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_sasl_ssl(kafka_secure_cluster: SecureSetup, mechanism: str) -> None:
    """The aiokafka spellings of the user name and password work too."""
    await deliver(
        kafka_secure_cluster,
        "SASL_SSL",
        security_protocol="SASL_SSL",
        ssl_cafile=str(kafka_secure_cluster.certificates.ca_file),
        sasl_mechanism=mechanism,
        sasl_plain_username="bob",
        sasl_plain_password=kafka_secure_cluster.users["bob"],
    )


@pytest.mark.parametrize(
    ("mechanism", "module"),
    [
        ("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule"),
        ("SCRAM-SHA-512", "org.apache.kafka.common.security.scram.ScramLoginModule"),
    ],
)
async def test_java_jaas_config(
    kafka_secure_cluster: SecureSetup, mechanism: str, module: str
) -> None:
    password = kafka_secure_cluster.users["alice"]
    await deliver(
        kafka_secure_cluster,
        "SASL_SSL",
        **{
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": mechanism,
            "sasl.jaas.config": f'{module} required username="alice" password="{password}";',
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(kafka_secure_cluster.certificates.ca_file),
        },
    )


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("user", ["alice", "mallory"])
async def test_wrong_credentials_fail_fast(
    kafka_secure_cluster: SecureSetup, mechanism: str, user: str
) -> None:
    listener = kafka_secure_cluster.bootstrap("SASL_PLAINTEXT")
    error = await refused(
        kafka_secure_cluster,
        "SASL_PLAINTEXT",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism=mechanism,
        sasl_username=user,
        sasl_password="hunter2-wrong",
    )
    assert isinstance(error, SaslAuthenticationFailedError)
    assert mechanism in str(error)
    assert listener in str(error)
    assert "hunter2" not in str(error)
    assert "hunter2" not in repr(error)


def test_secrets_are_not_shown(kafka_secure_cluster: SecureSetup) -> None:
    producer = Producer(
        bootstrap_servers=kafka_secure_cluster.bootstrap("SASL_PLAINTEXT"),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="alice",
        sasl_password="hunter2",
    )
    for text in (repr(producer), str(producer), repr(producer.config), str(producer.config)):
        assert "hunter2" not in text
    assert producer.config.sasl is not None
    assert "hunter2" not in repr(producer.config.sasl)
