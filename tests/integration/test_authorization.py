"""ACLs on the harness's secured broker (StandardAuthorizer): a topic the user may not write
fails only its own records, at once; a user who may not write idempotently is told so by
start(). Records to the topics allowed are read back with confluent-kafka."""

from __future__ import annotations

import time
import uuid

import pytest
from test_tls import FAST

from aioproducer import Producer
from aioproducer.errors import (
    ClusterAuthorizationFailedError,
    TopicAuthorizationFailedError,
    TransactionalIdAuthorizationFailedError,
)
from aioproducer.testing.readback import consume_all
from aioproducer.testing.security import SecureSetup

pytestmark = pytest.mark.integration


def as_user(setup: SecureSetup, user: str, **options: object) -> Producer:
    return Producer(
        {
            "bootstrap_servers": setup.bootstrap("SASL_PLAINTEXT"),
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-256",
            "sasl_username": user,
            "sasl_password": setup.users[user],
            **options,
        }
    )


@pytest.mark.parametrize("idempotence", [True, False])
async def test_topic_authorization_fails_only_that_topic(
    kafka_secure_cluster: SecureSetup, idempotence: bool
) -> None:
    setup = kafka_secure_cluster
    allowed, read_only, hidden = (setup.cluster.create_topic() for _ in range(3))
    setup.grant("carol", "WRITE", "topic", allowed)
    setup.grant("carol", "DESCRIBE", "topic", read_only)  # seen in metadata, not writable
    began = time.monotonic()
    async with as_user(setup, "carol", enable_idempotence=idempotence, linger_ms=0) as producer:
        before = [await producer.send(allowed, b"before") for _ in range(3)]
        refused = await producer.send(read_only, b"refused")  # Produce's per-partition error
        with pytest.raises(TopicAuthorizationFailedError, match=hidden):
            await producer.send(hidden, b"hidden")  # Metadata's per-topic error
        after = [await producer.send(allowed, b"after") for _ in range(3)]
        with pytest.raises(TopicAuthorizationFailedError, match=read_only):
            await refused
        for future in before + after:
            await future
    assert time.monotonic() - began < FAST  # not retried until delivery_timeout_ms
    values = [r.value for r in consume_all(setup.plaintext, allowed)]
    assert values == [b"before"] * 3 + [b"after"] * 3
    assert consume_all(setup.plaintext, read_only) == []


async def test_no_idempotent_write_fails_start(kafka_secure_cluster: SecureSetup) -> None:
    """Without IdempotentWrite (nor, since Kafka 3.0, Write on any topic) InitProducerId is
    refused: start() says what to grant, or to turn idempotence off."""
    setup = kafka_secure_cluster
    began = time.monotonic()
    with pytest.raises(ClusterAuthorizationFailedError) as info:
        async with as_user(setup, "dave"):
            pass
    assert time.monotonic() - began < FAST
    message = str(info.value)
    assert "IdempotentWrite" in message
    assert "enable_idempotence=False" in message
    assert "'dave'" in message
    assert setup.users["dave"] not in message

    topic = setup.cluster.create_topic()
    setup.grant("dave", "IDEMPOTENT_WRITE", "cluster")
    setup.grant("dave", "WRITE", "topic", topic)
    async with as_user(setup, "dave") as producer:
        await (await producer.send(topic, b"granted"))
    assert [r.value for r in consume_all(setup.plaintext, topic)] == [b"granted"]


async def test_transactions_need_write_on_the_transactional_id(
    kafka_secure_cluster: SecureSetup,
) -> None:
    """Without Write on its transactional id start() fails (InitProducerId is refused, a
    fatal error); granted it, transactions commit, and in version 2 the producer may ask
    DescribeTransactions about its id (Describe, which Write implies) whether the previous
    transaction's markers are written."""
    setup = kafka_secure_cluster
    topic, transactional_id = setup.cluster.create_topic(), f"carol-{uuid.uuid4().hex[:8]}"
    setup.grant("carol", "WRITE", "topic", topic)
    began = time.monotonic()
    with pytest.raises(TransactionalIdAuthorizationFailedError):
        async with as_user(setup, "carol", transactional_id=transactional_id):
            pass
    assert time.monotonic() - began < FAST
    setup.grant("carol", "WRITE", "transactional_id", transactional_id)
    async with as_user(setup, "carol", transactional_id=transactional_id) as producer:
        txn = producer._txn
        assert txn is not None
        probes = 0
        await_markers = txn._await_markers

        async def counted() -> None:
            nonlocal probes
            probes += 1
            await await_markers()

        txn._await_markers = counted  # type: ignore[method-assign]
        for round_ in range(3):
            async with producer.transaction():
                await producer.send(topic, b"%d" % round_)
        assert txn._probe_markers  # never refused
        assert probes == (2 if txn.version == 2 else 0)
    values = [
        r.value for r in consume_all(setup.plaintext, topic, isolation_level="read_committed")
    ]
    assert values == [b"0", b"1", b"2"]
