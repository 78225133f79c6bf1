"""Re-authentication (KIP-368) against the harness's REAUTH listener, whose sessions last
REAUTH_MS (3 s): a producer sending without pause for longer re-authenticates its connection
several times, loses nothing (read back with confluent-kafka) and fails nothing in flight;
OAUTHBEARER re-authenticates with a fresh token before the old one expires."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from aioproducer import OAuthToken, Producer, RecordMetadata
from aioproducer.testing.readback import count_records
from aioproducer.testing.security import REAUTH_MS, SecureSetup, unsecured_jwt

pytestmark = pytest.mark.integration


async def send_for(producer: Producer, topic: str, seconds: float) -> int:
    """Send records without pause for ``seconds``; every one must be delivered."""
    futures: list[asyncio.Future[RecordMetadata]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        futures.append(await producer.send(topic, f"r{len(futures)}".encode()))
        if len(futures) % 20 == 0:
            await asyncio.sleep(0.002)
    await asyncio.gather(*futures)
    return len(futures)


def reauthentications(caplog: pytest.LogCaptureFixture) -> int:
    assert "re-authentication failed" not in caplog.text
    return caplog.text.count("re-authenticated")


async def test_scram_sessions_are_renewed_without_loss(
    kafka_secure_cluster: SecureSetup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aioproducer.connection")
    setup = kafka_secure_cluster
    topic = setup.cluster.create_topic(partitions=3)
    async with Producer(
        bootstrap_servers=setup.bootstrap("REAUTH"),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="alice",
        sasl_password=setup.users["alice"],
    ) as producer:
        sent = await send_for(producer, topic, 11.0)
    assert f"session lifetime {REAUTH_MS} ms" in caplog.text
    assert reauthentications(caplog) >= 3  # 11 s of 3 s sessions, renewed at 85-95%
    assert count_records(setup.plaintext, topic) == sent


async def test_oauthbearer_reauthenticates_with_a_fresh_token(
    kafka_secure_cluster: SecureSetup, caplog: pytest.LogCaptureFixture
) -> None:
    """Tokens live 8 s and are replaced after 80% of that (6.4 s): the broker's session is
    min(token's time left, 3 s), so the re-authentications after the first token's expiry
    pass only with a new token. (Kafka refuses re-authentications less than 1 s apart, so
    no session may be that short: tokens in use keep at least 20% of 8 s.)"""
    caplog.set_level(logging.DEBUG, logger="aioproducer.connection")
    setup = kafka_secure_cluster
    topic = setup.cluster.create_topic()
    tokens = 0

    async def provider() -> OAuthToken:
        nonlocal tokens
        tokens += 1
        expires_s = int(time.time()) + 8  # the JWT's exp is in whole seconds
        return OAuthToken(unsecured_jwt("alice", exp=expires_s), expires_s * 1000)

    async with Producer(
        bootstrap_servers=setup.bootstrap("REAUTH"),
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=provider,
    ) as producer:
        sent = await send_for(producer, topic, 9.0)
    assert reauthentications(caplog) >= 2
    assert tokens >= 2
    assert count_records(setup.plaintext, topic) == sent
