"""SASL mechanisms as sans-IO state machines: PLAIN (RFC 4616), SCRAM (RFC 5802/7677) and
OAUTHBEARER (RFC 7628).

A mechanism gives the client's first token with :meth:`~SaslMechanism.start`; each token the
broker answers with goes to :meth:`~SaslMechanism.step`, which returns the next client token,
or None once the exchange is complete and (for SCRAM) the server's signature checked. The
tokens travel in SaslAuthenticate requests; nothing here does I/O. Passwords and derived keys
appear in no repr and no error message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from aioproducer._errors_base import AuthenticationError, ConfigurationError

__all__ = [
    "MECHANISMS",
    "OAuthBearerMechanism",
    "PlainMechanism",
    "SaslCredentials",
    "SaslMechanism",
    "ScramMechanism",
    "mechanism_for",
]

#: Kafka's minimum SCRAM iteration count; a server asking fewer is refused (RFC 7677 §4).
MIN_ITERATIONS: Final = 4096


class SaslMechanism(Protocol):
    """One authentication exchange, client side."""

    name: str

    def start(self) -> bytes:
        """The client's first token."""
        ...

    def step(self, challenge: bytes) -> bytes | None:
        """The next client token for the server's ``challenge``; None when done."""
        ...


class PlainMechanism:
    """PLAIN: one token, ``\\0user\\0password``; the broker's empty answer ends it."""

    name = "PLAIN"

    def __init__(self, username: str, password: str) -> None:
        self._username = username
        self._password = password

    def __repr__(self) -> str:
        return f"<PlainMechanism user={self._username!r}>"

    def start(self) -> bytes:
        return f"\0{self._username}\0{self._password}".encode()

    def step(self, challenge: bytes) -> bytes | None:
        return None


def _escape(name: str) -> str:
    """A SCRAM ``saslname``: ``=`` and ``,`` escaped (RFC 5802 §5.1)."""
    return name.replace("=", "=3D").replace(",", "=2C")


def _attributes(message: bytes) -> dict[str, str]:
    try:
        text = message.decode()
    except UnicodeDecodeError:
        raise AuthenticationError("SCRAM: the server's message is not UTF-8") from None
    parts = [part.partition("=") for part in text.split(",")]
    return {key: value for key, sep, value in parts if sep and len(key) == 1}


class ScramMechanism:
    """SCRAM-SHA-256 or SCRAM-SHA-512, without channel binding (``n,,``)."""

    def __init__(
        self,
        name: str,
        username: str,
        password: str,
        *,
        nonce: Callable[[], str] = lambda: secrets.token_urlsafe(24),
    ) -> None:
        digests = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
        if name not in digests:
            raise ConfigurationError(f"unknown SCRAM mechanism {name!r}")
        self.name = name
        self._digest = digests[name]
        self._username = username
        self._password = password
        self._nonce = nonce()
        self._first_bare = f"n={_escape(username)},r={self._nonce}"
        self._server_signature: bytes | None = None
        self._done = False

    def __repr__(self) -> str:
        return f"<ScramMechanism {self.name} user={self._username!r}>"

    def start(self) -> bytes:
        return f"n,,{self._first_bare}".encode()

    def step(self, challenge: bytes) -> bytes | None:
        if self._done:
            raise AuthenticationError(f"{self.name}: the exchange is already complete")
        if self._server_signature is None:
            return self._client_final(challenge)
        self._verify(challenge)
        self._done = True
        return None

    def _hmac(self, key: bytes, message: bytes) -> bytes:
        return hmac.digest(key, message, self._digest)

    def _client_final(self, server_first: bytes) -> bytes:
        attrs = _attributes(server_first)
        if "e" in attrs:
            raise AuthenticationError(f"{self.name}: the server refused: {attrs['e']}")
        nonce, salt, iterations = attrs.get("r", ""), attrs.get("s"), attrs.get("i", "")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise AuthenticationError(f"{self.name}: the server's nonce does not extend ours")
        if salt is None or not iterations.isdigit() or int(iterations) < MIN_ITERATIONS:
            raise AuthenticationError(f"{self.name}: bad salt or iteration count from the server")
        try:
            salt_bytes = base64.b64decode(salt, validate=True)
        except ValueError:
            raise AuthenticationError(f"{self.name}: the server's salt is not base64") from None
        salted = hashlib.pbkdf2_hmac(
            self._digest, self._password.encode(), salt_bytes, int(iterations)
        )
        client_key = self._hmac(salted, b"Client Key")
        stored_key = hashlib.new(self._digest, client_key).digest()
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self._first_bare},{server_first.decode()},{without_proof}".encode()
        signature = self._hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        server_key = self._hmac(salted, b"Server Key")
        self._server_signature = self._hmac(server_key, auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def _verify(self, server_final: bytes) -> None:
        attrs = _attributes(server_final)
        if "e" in attrs:
            raise AuthenticationError(f"{self.name}: the server refused: {attrs['e']}")
        try:
            signature = base64.b64decode(attrs.get("v", ""), validate=True)
        except ValueError:
            signature = b""
        assert self._server_signature is not None
        if not hmac.compare_digest(signature, self._server_signature):
            raise AuthenticationError(
                f"{self.name}: the server's signature is wrong: it does not know the password "
                "(an impostor?)"
            )


class OAuthBearerMechanism:
    """OAUTHBEARER: the client's first message carries the token (and SASL extensions); an
    empty answer accepts it. A refusal comes as a JSON error challenge, answered with a lone
    ``\x01`` (RFC 7628 §3.2.3) so that the broker ends the exchange with its error."""

    name = "OAUTHBEARER"

    def __init__(self, token: str, extensions: Mapping[str, str] | None = None) -> None:
        self._token = token
        self._extensions = dict(extensions or {})
        self._refused = False

    def __repr__(self) -> str:
        return f"<OAuthBearerMechanism extensions={sorted(self._extensions)}>"

    def start(self) -> bytes:
        extensions = "".join(f"{k}={v}\x01" for k, v in self._extensions.items())
        return f"n,,\x01auth=Bearer {self._token}\x01{extensions}\x01".encode()

    def step(self, challenge: bytes) -> bytes | None:
        if not challenge:
            return None
        if self._refused:
            raise AuthenticationError("OAUTHBEARER: the server sent a second error challenge")
        self._refused = True
        return b"\x01"


#: The mechanisms implemented, by their SASL names (OAUTHBEARER takes a token provider;
#: GSSAPI, in aioproducer._kerberos, the optional gssapi package and the Kerberos environment).
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")


def mechanism_for(name: str, username: str, password: str) -> SaslMechanism:
    """A fresh exchange of mechanism ``name``: PLAIN or one of the SCRAMs."""
    if name == "PLAIN":
        return PlainMechanism(username, password)
    return ScramMechanism(name, username, password)


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    """What every connection authenticates with; the password is left out of the repr."""

    mechanism: str
    username: str
    password: str = field(repr=False)

    def describe(self) -> str:
        return f"{self.mechanism} authentication of user {self.username!r}"

    async def exchange(self, host: str = "") -> SaslMechanism:
        """A fresh exchange (a new nonce each time); the broker's ``host`` does not matter."""
        return mechanism_for(self.mechanism, self.username, self.password)
