"""The secured broker of the harness: an independent client (confluent-kafka) uses each
listener, and the wrong credentials are refused."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from aioproducer.testing.readback import consume_all
from aioproducer.testing.security import KEY_PASSWORD, SecureSetup

pytestmark = pytest.mark.integration


def _client_settings(setup: SecureSetup, listener: str) -> dict[str, str]:
    certs = setup.certificates
    tls = {"ssl.ca.location": str(certs.ca_file)}
    sasl = {"sasl.username": "alice", "sasl.password": setup.users["alice"]}
    return {
        "SSL": {"security.protocol": "SSL", **tls},
        "MTLS": {
            "security.protocol": "SSL",
            **tls,
            "ssl.certificate.location": str(certs.client_cert),
            "ssl.key.location": str(certs.client_key_encrypted),
            "ssl.key.password": KEY_PASSWORD,
        },
        "SASL_SSL": {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", **tls}
        | sasl,
        "SASL_PLAINTEXT": {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"} | sasl,
    }[listener]


def _produce(bootstrap: str, settings: dict[str, str], topic: str, value: bytes) -> object:
    """Produce one record; its delivery error (None when delivered)."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": "5000", **settings})
    errors: list[object] = []
    producer.produce(topic, value, on_delivery=lambda err, _msg: errors.append(err))
    assert producer.flush(20) == 0
    return errors[0]


@pytest.mark.parametrize("listener", ["SSL", "MTLS", "SASL_SSL", "SASL_PLAINTEXT"])
def test_each_listener_serves(kafka_secure_cluster: SecureSetup, listener: str) -> None:
    setup = kafka_secure_cluster
    topic = setup.cluster.create_topic()
    error = _produce(setup.bootstrap(listener), _client_settings(setup, listener), topic, b"hi")
    assert error is None
    assert [r.value for r in consume_all(setup.plaintext, topic)] == [b"hi"]


def test_wrong_password_is_refused(kafka_secure_cluster: SecureSetup) -> None:
    setup = kafka_secure_cluster
    settings = _client_settings(setup, "SASL_PLAINTEXT") | {"sasl.password": "wrong"}
    topic = setup.cluster.create_topic()
    assert _produce(setup.bootstrap("SASL_PLAINTEXT"), settings, topic, b"x") is not None


def test_oauthbearer_with_an_unsecured_token(kafka_secure_cluster: SecureSetup) -> None:
    """librdkafka's own unsigned JWT passes the broker's unsecured validator."""
    setup = kafka_secure_cluster
    settings = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "enable.sasl.oauthbearer.unsecure.jwt": "true",
        "sasl.oauthbearer.config": "principal=alice",
    }
    topic = setup.cluster.create_topic()
    assert _produce(setup.bootstrap("SASL_PLAINTEXT"), settings, topic, b"token") is None
    assert [r.value for r in consume_all(setup.plaintext, topic)] == [b"token"]


def test_acls_are_enforced(kafka_secure_cluster: SecureSetup) -> None:
    """A restricted user writes only where an ACL lets it."""
    setup = kafka_secure_cluster
    settings = _client_settings(setup, "SASL_PLAINTEXT") | {
        "sasl.username": "carol",
        "sasl.password": setup.users["carol"],
    }
    allowed, denied = setup.cluster.create_topic(), setup.cluster.create_topic()
    setup.grant("carol", "WRITE", "topic", allowed)
    assert _produce(setup.bootstrap("SASL_PLAINTEXT"), settings, allowed, b"ok") is None
    assert _produce(setup.bootstrap("SASL_PLAINTEXT"), settings, denied, b"no") is not None
