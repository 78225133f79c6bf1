"""OAUTHBEARER against the harness's broker (Kafka's unsecured validator, unsigned JWTs made
here), over plain TCP and TLS, each provider shape; a bad token fails start() at once and is
never shown. Read back with confluent-kafka."""

from __future__ import annotations

import logging

import pytest
from test_tls import deliver, refused

from aioproducer import OAuthToken
from aioproducer.errors import SaslAuthenticationFailedError
from aioproducer.testing.security import SecureSetup, unsecured_jwt

pytestmark = pytest.mark.integration


async def test_async_provider_over_tls(kafka_secure_cluster: SecureSetup) -> None:
    calls = 0

    async def provider() -> OAuthToken:
        nonlocal calls
        calls += 1
        return OAuthToken.with_lifetime(unsecured_jwt("alice", 600), 600, {"traceId": "t1"})

    await deliver(
        kafka_secure_cluster,
        "SASL_SSL",
        security_protocol="SASL_SSL",
        ssl_cafile=str(kafka_secure_cluster.certificates.ca_file),
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=provider,
    )
    assert calls == 1  # the bootstrap and the broker connection share the token


async def test_sync_provider_returning_a_pair(kafka_secure_cluster: SecureSetup) -> None:
    def provider() -> tuple[str, int]:
        token = unsecured_jwt("alice", 600)
        return token, OAuthToken.with_lifetime(token, 600).expires_at_ms

    await deliver(
        kafka_secure_cluster,
        "SASL_PLAINTEXT",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=provider,
    )


async def test_aiokafka_shaped_provider(kafka_secure_cluster: SecureSetup) -> None:
    class Provider:  # aiokafka's AbstractTokenProvider
        async def token(self) -> str:
            return unsecured_jwt("alice", 600)

    await deliver(
        kafka_secure_cluster,
        "SASL_PLAINTEXT",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=Provider(),
    )


@pytest.mark.parametrize("claims", [{"lifetime_s": -60}, {"lifetime_s": 600, "sub": ""}])
async def test_a_bad_token_fails_start_fast(
    kafka_secure_cluster: SecureSetup, claims: dict[str, object], caplog: pytest.LogCaptureFixture
) -> None:
    """An expired token, or one without a subject: refused by the broker, not retried."""
    caplog.set_level(logging.DEBUG, logger="aioproducer")
    lifetime = claims.pop("lifetime_s")
    assert isinstance(lifetime, int)
    token = unsecured_jwt("alice", lifetime, **claims)
    error = await refused(
        kafka_secure_cluster,
        "SASL_PLAINTEXT",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="OAUTHBEARER",
        # the token claims to be valid for longer than it is: the broker decides
        sasl_oauth_token_provider=lambda: OAuthToken.with_lifetime(token, 600),
    )
    assert isinstance(error, SaslAuthenticationFailedError)
    assert "OAUTHBEARER" in str(error)
    assert kafka_secure_cluster.bootstrap("SASL_PLAINTEXT") in str(error)
    assert token not in str(error)
    assert token not in repr(error)
    assert token not in caplog.text
