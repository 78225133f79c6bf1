"""GSSAPI's client state machine (RFC 4752) over a scripted security context: the tokens it
sends, the security-layer message's exact bytes, and refusals. The real exchange with a KDC
and a broker is tests/integration/test_gssapi.py (``make gssapi``)."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

import pytest

from aioproducer._kerberos import GssapiCredentials, GssapiMechanism
from aioproducer.errors import AuthenticationError


@dataclass
class Wrapped:
    message: bytes


@dataclass
class ScriptedContext:
    """A context that completes after ``rounds`` more steps; wrap/unwrap tag the bytes."""

    rounds: int
    initiator_name: str = "client@EXAMPLE.TEST"
    steps: list[bytes | None] = field(default_factory=list)
    wraps: list[tuple[bytes, bool]] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.rounds == 0

    def step(self, token: bytes | None = None) -> bytes | None:
        self.steps.append(token)
        self.rounds -= 1
        return None if self.complete else b"ctx-" + (token or b"")

    def wrap(self, message: bytes, encrypt: bool) -> Wrapped:
        self.wraps.append((message, encrypt))
        return Wrapped(b"W(" + message + b")")

    def unwrap(self, message: bytes) -> Wrapped:
        assert message.startswith(b"W(")
        assert message.endswith(b")")
        return Wrapped(message[2:-1])


def test_mutual_authentication_then_the_security_layer() -> None:
    context = ScriptedContext(rounds=1)
    mechanism = GssapiMechanism(context, b"ap-req", "kafka@broker")
    assert mechanism.start() == b"ap-req"
    assert mechanism.step(b"ap-rep") == b""  # established: an empty token, as Java sends
    assert context.steps == [b"ap-rep"]
    # the broker offers "no security layer" (and a maximum size); the answer takes it with
    # size 0 and the client's principal as authorization identity, signed, not encrypted
    reply = mechanism.step(b"W(\x01\x00\x10\x00)")
    assert reply == b"W(\x01\x00\x00\x00client@EXAMPLE.TEST)"
    assert context.wraps == [(b"\x01\x00\x00\x00client@EXAMPLE.TEST", False)]
    assert mechanism.step(b"") is None
    assert "kafka@broker" in repr(mechanism)


def test_without_mutual_authentication_the_layer_comes_first() -> None:
    context = ScriptedContext(rounds=0)
    mechanism = GssapiMechanism(context, b"ap-req", "kafka@broker")
    assert mechanism.step(b"W(\x07\xff\xff\xff)") == b"W(\x01\x00\x00\x00client@EXAMPLE.TEST)"
    assert context.steps == []
    assert mechanism.step(b"") is None


@pytest.mark.parametrize(
    ("offer", "match"),
    [
        (b"W(\x06\x00\x10\x00)", "requires a security layer"),
        (b"W(\x01\x00)", "has 2 bytes, not 4"),
        (b"W()", "has 0 bytes, not 4"),
    ],
)
def test_security_layer_refusals(offer: bytes, match: str) -> None:
    mechanism = GssapiMechanism(ScriptedContext(rounds=0), b"", "kafka@broker")
    with pytest.raises(AuthenticationError, match=match) as info:
        mechanism.step(offer)
    assert "kafka@broker" in str(info.value)


@pytest.mark.skipif(importlib.util.find_spec("gssapi") is None, reason="gssapi not installed")
def test_gss_errors_become_authentication_errors() -> None:
    # through importlib, as aioproducer._kerberos: mypy passes where gssapi is not installed
    gss_error = importlib.import_module("gssapi.exceptions").GSSError

    class Failing(ScriptedContext):
        def step(self, token: bytes | None = None) -> bytes | None:
            raise gss_error(0xD0000, 0)

    mechanism = GssapiMechanism(Failing(rounds=1), b"", "kafka@broker")
    with pytest.raises(AuthenticationError, match="GSSAPI \\(kafka@broker\\)"):
        mechanism.step(b"garbage")


def test_credentials_describe_the_service_and_have_no_user() -> None:
    credentials = GssapiCredentials("kafka-prod", "broker.example")
    assert credentials.mechanism == "GSSAPI"
    assert credentials.username is None
    assert "kafka-prod" in credentials.describe()
