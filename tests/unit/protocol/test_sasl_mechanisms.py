"""The sans-IO SASL mechanisms: RFC 7677's SCRAM-SHA-256 exchange byte for byte, PLAIN, and
every way a server's message can be wrong."""

from __future__ import annotations

import pytest

from aioproducer._protocol.sasl import PlainMechanism, ScramMechanism, mechanism_for
from aioproducer.errors import AuthenticationError, ConfigurationError

# RFC 7677 section 3: user "user", password "pencil".
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def rfc_client() -> ScramMechanism:
    return ScramMechanism("SCRAM-SHA-256", "user", "pencil", nonce=lambda: "rOprNGfwEbeRWgbNEkqO")


def test_rfc7677_vector() -> None:
    scram = rfc_client()
    assert scram.start() == CLIENT_FIRST
    assert scram.step(SERVER_FIRST) == CLIENT_FINAL
    assert scram.step(SERVER_FINAL) is None
    with pytest.raises(AuthenticationError, match="already complete"):
        scram.step(SERVER_FINAL)


def test_a_wrong_server_signature_is_refused() -> None:
    scram = rfc_client()
    scram.step(SERVER_FIRST)
    with pytest.raises(AuthenticationError, match="signature is wrong"):
        scram.step(b"v=" + b"A" * 44)


@pytest.mark.parametrize(
    ("server_first", "message"),
    [
        (b"r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"),
        (b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "nonce"),
        (b"r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1", "iteration"),
        (b"r=rOprNGfwEbeRWgbNEkqOxx,i=4096", "salt"),
        (b"r=rOprNGfwEbeRWgbNEkqOxx,s=!!,i=4096", "base64"),
        (b"e=unknown-user", "refused: unknown-user"),
        (b"\xff", "UTF-8"),
    ],
)
def test_bad_server_first(server_first: bytes, message: str) -> None:
    with pytest.raises(AuthenticationError, match=message) as info:
        rfc_client().step(server_first)
    assert "pencil" not in str(info.value)


def test_server_final_error() -> None:
    scram = rfc_client()
    scram.step(SERVER_FIRST)
    with pytest.raises(AuthenticationError, match="invalid-proof"):
        scram.step(b"e=invalid-proof")


def test_names_are_escaped_and_nonces_fresh() -> None:
    first = ScramMechanism("SCRAM-SHA-512", "a=b,c", "pw").start()
    assert first.startswith(b"n,,n=a=3Db=2Cc,r=")
    assert first != ScramMechanism("SCRAM-SHA-512", "a=b,c", "pw").start()


def test_plain() -> None:
    plain = mechanism_for("PLAIN", "alice", "secret")
    assert isinstance(plain, PlainMechanism)
    assert plain.start() == b"\0alice\0secret"
    assert plain.step(b"") is None


def test_secrets_are_not_in_reprs() -> None:
    for mechanism in (mechanism_for("PLAIN", "u", "hunter2"), rfc_client()):
        assert "hunter2" not in repr(mechanism)
        assert "pencil" not in repr(mechanism)


def test_unknown_scram() -> None:
    with pytest.raises(ConfigurationError):
        ScramMechanism("SCRAM-SHA-1", "u", "p")
