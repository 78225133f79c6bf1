"""OAUTHBEARER without a broker: the RFC 7628 client message, the token type, the cache over
the provider (refresh before expiry, one call for concurrent authentications, every provider
shape) and the settings."""

from __future__ import annotations

import asyncio
import time

import pytest

from aioproducer import OAuthToken, ProducerConfig
from aioproducer._oauth import REFRESH_FACTOR, OAuthCredentials
from aioproducer._protocol.sasl import OAuthBearerMechanism
from aioproducer.errors import AuthenticationError, ConfigurationError

SECRET = "eyJhbGciOiJub25lIn0.c2VjcmV0LXRva2Vu."  # what must never be shown


def test_client_first_message() -> None:
    """RFC 7628 §3.1: gs2 header, \\x01-separated key=value pairs, ending in \\x01\\x01."""
    assert OAuthBearerMechanism("abc").start() == b"n,,\x01auth=Bearer abc\x01\x01"
    with_extensions = OAuthBearerMechanism("abc", {"traceId": "123", "logicalCluster": "lkc-1"})
    assert with_extensions.start() == (
        b"n,,\x01auth=Bearer abc\x01traceId=123\x01logicalCluster=lkc-1\x01\x01"
    )


def test_accepted_and_refused() -> None:
    accepted = OAuthBearerMechanism("abc")
    assert accepted.step(b"") is None
    refused = OAuthBearerMechanism("abc")
    # RFC 7628 §3.2.2: the server's error challenge is answered with a lone \x01
    assert refused.step(b'{"status":"invalid_token"}') == b"\x01"
    with pytest.raises(AuthenticationError, match="second error challenge"):
        refused.step(b'{"status":"invalid_token"}')


@pytest.mark.parametrize(
    ("token", "expires", "extensions", "message"),
    [
        ("has space", 1, {}, "not a bearer token"),
        ("", 1, {}, "not a bearer token"),
        (b"bytes", 1, {}, "not a bearer token"),
        ("ok", 1.5, {}, "must be an int"),
        ("ok", True, {}, "must be an int"),
        ("ok", 1, {"auth": "x"}, "extension name"),
        ("ok", 1, {"bad-name": "x"}, "extension name"),
        ("ok", 1, {"ok": "\x01"}, "bad characters"),
    ],
)
def test_bad_tokens(token: object, expires: object, extensions: object, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        OAuthToken(token, expires, extensions)  # type: ignore[arg-type]


def test_secrets_are_not_shown() -> None:
    token = OAuthToken.with_lifetime(SECRET, 60, {"ext": "v"})
    assert SECRET not in repr(token)
    assert SECRET not in repr(OAuthBearerMechanism(SECRET))
    config = ProducerConfig(
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        sasl_oauth_token_provider=lambda: token,
    )
    assert SECRET not in repr(config)
    assert SECRET not in repr(config.sasl)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 1_000_000.0
        monkeypatch.setattr("aioproducer._oauth.time.time", lambda: self.now)


async def test_tokens_are_cached_and_refreshed_before_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    issued: list[str] = []

    def provider() -> tuple[str, int]:  # sync, returning a pair
        issued.append(f"t{len(issued)}")
        return issued[-1], int((clock.now + 100) * 1000)

    credentials = OAuthCredentials(provider)
    first = (await credentials.exchange()).start()
    clock.now += 100 * REFRESH_FACTOR - 1
    assert (await credentials.exchange()).start() == first  # still fresh
    clock.now += 2  # past the refresh point, not yet expired
    assert b"Bearer t1" in (await credentials.exchange()).start()
    assert issued == ["t0", "t1"]


async def test_concurrent_authentications_share_one_call() -> None:
    calls = 0
    release = asyncio.Event()

    async def provider() -> OAuthToken:  # async
        nonlocal calls
        calls += 1
        await release.wait()
        return OAuthToken.with_lifetime("shared", 60)

    credentials = OAuthCredentials(provider)
    waits = [asyncio.ensure_future(credentials.exchange()) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    mechanisms = await asyncio.gather(*waits)
    assert calls == 1
    assert {m.start() for m in mechanisms} == {b"n,,\x01auth=Bearer shared\x01\x01"}


async def test_aiokafka_shaped_provider() -> None:
    """An AbstractTokenProvider: async token() and extensions(); no expiry known, so it is
    asked for each authentication."""

    class Provider:
        calls = 0

        async def token(self) -> str:
            self.calls += 1
            return "abc"

        def extensions(self) -> dict[str, str]:
            return {"traceId": "1"}

    provider = Provider()
    credentials = OAuthCredentials(provider)
    for _ in range(2):
        message = (await credentials.exchange()).start()
        assert message == b"n,,\x01auth=Bearer abc\x01traceId=1\x01\x01"
    assert provider.calls == 2


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (OAuthToken("old", int(time.time() * 1000) - 1), "already expired"),
        ("just-a-string", "expected an OAuthToken"),
        (("a", "b", "c"), "expected an OAuthToken"),
        (("bad token", 10**15), "not a bearer token"),
    ],
)
async def test_bad_provider_results(result: object, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message):
        await OAuthCredentials(lambda: result).exchange()


async def test_a_raising_provider_is_an_authentication_error() -> None:
    def provider() -> OAuthToken:
        raise OSError("identity provider unreachable")

    credentials = OAuthCredentials(provider)
    with pytest.raises(AuthenticationError, match="OSError: identity provider unreachable") as info:
        await credentials.exchange()
    assert isinstance(info.value.__cause__, OSError)
    # not cached: the next authentication asks again
    with pytest.raises(AuthenticationError):
        await credentials.exchange()


def test_settings() -> None:
    def provider() -> OAuthToken:
        return OAuthToken.with_lifetime("x", 60)

    config = ProducerConfig(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="oauthbearer",
        sasl_oauth_token_provider=provider,
    )
    assert config.sasl_mechanism == "OAUTHBEARER"
    assert isinstance(config.sasl, OAuthCredentials)
    with pytest.raises(ConfigurationError, match="needs sasl_oauth_token_provider"):
        ProducerConfig(security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER")
    with pytest.raises(ConfigurationError, match="would be ignored"):
        ProducerConfig(
            security_protocol="SASL_SSL",
            sasl_mechanism="PLAIN",
            sasl_username="u",
            sasl_password="p",
            sasl_oauth_token_provider=provider,
        )
    with pytest.raises(ConfigurationError, match="would be ignored"):
        ProducerConfig(sasl_oauth_token_provider=provider)
    with pytest.raises(ConfigurationError, match="sasl_password would be ignored") as info:
        ProducerConfig(
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_password="hunter2",
            sasl_oauth_token_provider=provider,
        )
    assert "hunter2" not in str(info.value)
    with pytest.raises(ConfigurationError, match="must be a callable"):
        ProducerConfig(
            security_protocol="SASL_SSL",
            sasl_mechanism="OAUTHBEARER",
            sasl_oauth_token_provider="a-token",  # type: ignore[arg-type]
        )
