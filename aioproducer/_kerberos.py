"""GSSAPI (Kerberos) authentication: RFC 4752 over SaslAuthenticate, as Kafka's Java client
does it, through the optional ``gssapi`` package (``pip install 'aioproducer[gssapi]'``).

``gssapi`` is imported only when ``sasl_mechanism="GSSAPI"`` is configured. Credentials come
from the Kerberos environment, as for Java's and aiokafka's clients: a ticket cache
(``kinit``; ``KRB5CCNAME``) or a client keytab (``KRB5_CLIENT_KTNAME``), with ``KRB5_CONFIG``
naming the krb5.conf. The service principal is the host-based ``<service>@<host>``
(``sasl_kerberos_service_name``, default ``kafka``), ``<host>`` being the broker's host name
as the bootstrap string or the metadata give it, or ``sasl_kerberos_domain_name``.

The first step of a context may ask the KDC for a service ticket (blocking network I/O), so it
runs in a worker thread; the later steps are local computations. Every use of python-gssapi
is in this module, through :func:`load_gssapi` (importlib, so that type checks pass where the
optional package is not installed) and behind the :class:`_Context` protocol.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from typing import Any, Final, Protocol

from aioproducer.errors import AuthenticationError, ConfigurationError

__all__ = ["GssapiCredentials", "GssapiMechanism", "load_gssapi"]

#: RFC 4752 §3.3: the security-layer bit for "no security layer" (Kafka offers only this).
NO_SECURITY_LAYER: Final = 0x01
_INSTALL: Final = "pip install 'aioproducer[gssapi]'"


class _Message(Protocol):
    """gssapi's WrapResult or UnwrapResult, as used here."""

    @property
    def message(self) -> bytes: ...


class _Context(Protocol):
    """The part of ``gssapi.SecurityContext`` used here."""

    @property
    def complete(self) -> bool: ...

    @property
    def initiator_name(self) -> object: ...

    def step(self, token: bytes | None = None) -> bytes | None: ...

    def wrap(self, message: bytes, encrypt: bool) -> _Message: ...

    def unwrap(self, message: bytes) -> _Message: ...


def load_gssapi() -> Any:
    """The ``gssapi`` module; ConfigurationError saying how to install it when missing."""
    try:
        return importlib.import_module("gssapi")
    except ImportError as exc:  # absent, or present without its libgssapi_krb5
        raise ConfigurationError(
            f"sasl_mechanism=GSSAPI needs the gssapi package ({_INSTALL}; it builds against "
            f"the system's Kerberos, e.g. Debian's libkrb5-dev): {exc}"
        ) from None


def _gss_message(exc: Exception) -> str:
    """A GSSError's text (its major and minor messages), else the exception's."""
    gen = getattr(exc, "gen_message", None)
    text = gen() if callable(gen) else str(exc)
    return " ".join(str(text).split()) or type(exc).__name__


class GssapiMechanism:
    """The client side of RFC 4752: context tokens until the context is established, then
    the security-layer message: the server's 4 bytes unwrapped, answered (wrapped, without
    encryption) with "no security layer", a maximum size of 0 and the client's principal as
    the authorization identity, as Java's ``GssKrb5Client`` sends it."""

    name = "GSSAPI"

    def __init__(self, context: _Context, first_token: bytes, target: str) -> None:
        self._context = context
        self._first = first_token
        self._target = target
        self._layer_sent = False

    def __repr__(self) -> str:
        return f"<GssapiMechanism {self._target}>"

    def start(self) -> bytes:
        return self._first

    def step(self, challenge: bytes) -> bytes | None:
        if self._layer_sent:
            return None
        try:
            if not self._context.complete:
                return self._context.step(challenge) or b""
            return self._security_layer(challenge)
        except AuthenticationError:
            raise
        except load_gssapi().exceptions.GSSError as exc:
            raise AuthenticationError(f"GSSAPI ({self._target}): {_gss_message(exc)}") from None

    def _security_layer(self, challenge: bytes) -> bytes:
        offer = bytes(self._context.unwrap(challenge).message)
        if len(offer) != 4:
            raise AuthenticationError(
                f"GSSAPI ({self._target}): the broker's security-layer message has "
                f"{len(offer)} bytes, not 4"
            )
        if not offer[0] & NO_SECURITY_LAYER:
            raise AuthenticationError(
                f"GSSAPI ({self._target}): the broker requires a security layer "
                f"(offer {offer[0]:#04x}), which Kafka clients do not implement"
            )
        authzid = str(self._context.initiator_name).encode()
        reply = bytes((NO_SECURITY_LAYER, 0, 0, 0)) + authzid
        self._layer_sent = True
        return bytes(self._context.wrap(reply, False).message)


def _initiate(service: str, host: str) -> tuple[_Context, bytes]:
    """A context for ``service@host`` and its first token (may ask the KDC: blocking)."""
    gssapi = load_gssapi()
    name = gssapi.Name(f"{service}@{host}", name_type=gssapi.NameType.hostbased_service)
    context: _Context = gssapi.SecurityContext(
        name=name, usage="initiate", mech=gssapi.MechType.kerberos
    )
    return context, context.step() or b""


@dataclass(frozen=True, slots=True)
class GssapiCredentials:
    """Kerberos authentication from the environment's credentials (see the module doc)."""

    service_name: str = "kafka"
    domain_name: str | None = None
    mechanism: str = "GSSAPI"
    username = None  # the principal is the environment's, known only to the KDC exchange

    def describe(self) -> str:
        return f"GSSAPI (Kerberos) authentication to service {self.service_name!r}"

    async def exchange(self, host: str = "") -> GssapiMechanism:
        """A new security context for the broker at ``host`` (or ``domain_name``)."""
        target = f"{self.service_name}@{self.domain_name or host}"
        try:
            context, first = await asyncio.to_thread(
                _initiate, self.service_name, self.domain_name or host
            )
        except load_gssapi().exceptions.GSSError as exc:
            raise AuthenticationError(
                f"could not start a Kerberos context for {target}: {_gss_message(exc)} "
                "(credentials come from kinit's ticket cache, KRB5CCNAME, or a keytab in "
                "KRB5_CLIENT_KTNAME; KRB5_CONFIG names the krb5.conf)"
            ) from None
        return GssapiMechanism(context, first, target)
