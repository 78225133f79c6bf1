"""One TCP connection to one broker, pipelining requests by correlation id.

:class:`BrokerConnection` is an :class:`asyncio.Protocol`: bytes arrive through
``data_received`` and go straight into the sans-IO ``ClientConnection``, which hands back
completed responses in order; each resolves the future its request was given.
Writes honour ``pause_writing``/``resume_writing``. A request that waits longer than
``request_timeout_ms`` closes the connection (as the Java client does), failing everything in
flight with :class:`~aioproducer.errors.RequestTimeoutError`.

When SASL authentication ends with a session lifetime (KIP-368), the connection
re-authenticates at 85-95% of it, as Java does: it stops taking requests (``writable`` is
False), waits for the responses in flight, runs SaslHandshake and SaslAuthenticate again
(with a fresh OAUTHBEARER token when the old one is due for refresh), then takes requests
again; nothing in flight fails.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import ssl
from collections import deque
from typing import Final, Protocol, cast

from aioproducer._clientlog import ClientLog
from aioproducer._protocol.api import Request, Response, negotiate
from aioproducer._protocol.client import ClientConnection
from aioproducer._protocol.error_codes import UNSUPPORTED_VERSION
from aioproducer._protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from aioproducer._protocol.messages.sasl_authenticate import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
)
from aioproducer._protocol.messages.sasl_handshake import (
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)
from aioproducer._protocol.sasl import SaslMechanism
from aioproducer._security import tls_failure
from aioproducer._version import __version__
from aioproducer.errors import (
    AuthenticationError,
    BrokerUnavailableError,
    ConnectionLostError,
    KafkaTimeoutError,
    ProducerError,
    ProtocolError,
    UnsupportedVersionError,
    broker_error,
)
from aioproducer.metrics._registry import NodeStats

__all__ = ["BrokerConnection", "Credentials", "RequestTimeoutError"]

log = logging.getLogger("aioproducer.connection")


#: Re-authenticate between these shares of the session lifetime (Java: 0.85 + 0.10 jitter).
REAUTH_WINDOW: Final = (0.85, 0.95)


class RequestTimeoutError(KafkaTimeoutError, ConnectionLostError):
    """A broker did not answer within ``request_timeout_ms``; the connection was closed."""


class Credentials(Protocol):
    """What a connection authenticates with (SaslCredentials, OAuthCredentials,
    GssapiCredentials)."""

    @property
    def mechanism(self) -> str: ...

    def describe(self) -> str:
        """``"<MECHANISM> authentication of user ..."``, for error messages."""
        ...

    async def exchange(self, host: str = "") -> SaslMechanism:
        """A fresh exchange with the broker at ``host`` (its name matters to GSSAPI)."""
        ...


class BrokerConnection(asyncio.Protocol):
    """A pipelined connection to the broker at ``host:port``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        node_id: int = -1,
        client_id: str | None = None,
        request_timeout_ms: int = 30_000,
        tls: ssl.SSLContext | None = None,
        sasl: Credentials | None = None,
    ) -> None:
        self.host = host
        self._tls = tls
        self._sasl = sasl
        self.port = port
        self.node_id = node_id
        self._core = ClientConnection(client_id)
        self._log = ClientLog(log, client_id if client_id is not None else "-")
        self._request_timeout = request_timeout_ms / 1000
        self._transport: asyncio.Transport | None = None
        self._pending: deque[tuple[int, asyncio.Future[Response], float]] = deque()
        self._versions: dict[int, tuple[int, int]] = {}
        self.finalized_features: dict[str, int] = {}
        """The cluster's finalized feature levels from ApiVersions v3+ (e.g.
        ``transaction.version``); empty from older brokers."""
        self.finalized_features_epoch = -1
        self._closed_exc: ProducerError | None = None
        self._close_reason = ""
        self._closed_by_owner = False  # close() without an error: shutdown, idle
        self._write_ready: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.last_used = 0.0
        """Loop time of the last request or response (for connections_max_idle_ms)."""
        self.throttled_until_ms = 0
        """Monotonic ms before which the broker asked for no more requests (KIP-219)."""
        self.stats: NodeStats | None = None
        """Counts the requests and bytes of this connection (set by its cluster)."""
        self.reauthentications = 0
        """How many times this connection re-authenticated (KIP-368)."""
        self._reauth_timer: asyncio.TimerHandle | None = None
        self._reauth: asyncio.Task[None] | None = None  # while re-authenticating
        self._drained: asyncio.Future[None] | None = None  # resolved when nothing is in flight

    def __repr__(self) -> str:
        return f"<BrokerConnection node={self.node_id} {self.host}:{self.port}>"

    # -- opening ------------------------------------------------------------------------
    async def connect(self, timeout: float) -> None:
        """Open the socket (and TLS), negotiate API versions and authenticate (SASL),
        within ``timeout`` seconds.

        A certificate that fails verification, a handshake the broker refuses or wrong
        credentials raise an :class:`~aioproducer.errors.AuthenticationError` (retrying
        would not help).
        """
        self._loop = asyncio.get_running_loop()
        self._write_ready = asyncio.Event()
        self._write_ready.set()
        hostname = None if self._tls is None else self.host
        try:
            async with asyncio.timeout(timeout):
                await self._loop.create_connection(
                    lambda: self, self.host, self.port, ssl=self._tls, server_hostname=hostname
                )
                await self._negotiate_versions()
                if self._sasl is not None:
                    self._schedule_reauth(await self._authenticate(self._sasl))
        except TimeoutError as exc:
            self.close()
            raise BrokerUnavailableError(
                f"could not connect to {self.host}:{self.port} within {timeout:.1f}s"
            ) from exc
        except (ssl.SSLError, ConnectionLostError) as exc:  # after TimeoutError: a request
            # timeout is a ConnectionLostError too, and means the same as a connect timeout
            self.close()
            cause = exc.__cause__ if isinstance(exc, ConnectionLostError) else exc
            refused = tls_failure(cause, f"{self.host}:{self.port}") if cause else None
            if refused is not None:
                raise refused from None
            if isinstance(exc, ProducerError):  # lost before it was up: not connected
                raise BrokerUnavailableError(
                    f"could not connect to {self.host}:{self.port}: {exc}"
                ) from exc
            raise BrokerUnavailableError(
                f"TLS handshake with {self.host}:{self.port} failed: {exc}"
            ) from exc
        except OSError as exc:
            self.close()
            raise BrokerUnavailableError(
                f"could not connect to {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        except ProducerError:
            self.close()
            raise

    async def _negotiate_versions(self) -> None:
        version = ApiVersionsRequest.MAX_VERSION
        request = ApiVersionsRequest(client_software_version=__version__)
        response = await self._call(request, version)
        assert isinstance(response, ApiVersionsResponse)
        if response.error_code == UNSUPPORTED_VERSION:
            # The broker answered in v0 with the versions it does support (KIP-511).
            span = response.version_range(ApiVersionsRequest.API_KEY)
            high = span.max_version if span is not None else 0
            version = max(ApiVersionsRequest.MIN_VERSION, min(high, ApiVersionsRequest.MAX_VERSION))
            response = await self._call(request, version)
            assert isinstance(response, ApiVersionsResponse)
        if response.error_code != 0:
            raise ProtocolError(f"ApiVersions failed with error code {response.error_code}")
        self._versions = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
        self.finalized_features = {f.name: f.max_version_level for f in response.finalized_features}
        self.finalized_features_epoch = response.finalized_features_epoch

    async def _authenticate(self, credentials: Credentials) -> int:
        """SaslHandshake v1, then SaslAuthenticate rounds until the mechanism is done; return
        the session lifetime in ms the broker gave (0: none)."""
        where = f"{credentials.describe()} with broker {self.host}:{self.port}"
        if self.version_for(SaslHandshakeRequest) < 1:
            raise UnsupportedVersionError(f"{where}: the broker only offers SaslHandshake v0")
        handshake = await self._call(SaslHandshakeRequest(credentials.mechanism), 1)
        assert isinstance(handshake, SaslHandshakeResponse)
        if handshake.error_code != 0:
            enabled = ", ".join(handshake.mechanisms) or "none"
            raise broker_error(handshake.error_code, f"{where}: the broker enables {enabled}")
        try:
            exchange = await credentials.exchange(self.host)
        except AuthenticationError as exc:
            raise AuthenticationError(f"{where} failed: {exc}") from exc.__cause__
        token: bytes | None = exchange.start()
        lifetime_ms = 0
        while token is not None:
            response = await self._call(SaslAuthenticateRequest(token))
            assert isinstance(response, SaslAuthenticateResponse)
            if response.error_code != 0:
                detail = response.error_message or "refused"
                raise broker_error(response.error_code, f"{where} failed: {detail}")
            lifetime_ms = response.session_lifetime_ms
            try:
                token = exchange.step(response.auth_bytes)
            except AuthenticationError as exc:
                raise AuthenticationError(f"{where} failed: {exc}") from None
        self._log.debug("%s: %s succeeded (session lifetime %d ms)", self, where, lifetime_ms)
        return lifetime_ms

    # -- re-authentication (KIP-368) ------------------------------------------------------
    def _schedule_reauth(self, lifetime_ms: int) -> None:
        if lifetime_ms <= 0 or self._loop is None or self._closed_exc is not None:
            return
        delay = lifetime_ms / 1000 * random.uniform(*REAUTH_WINDOW)  # jitter
        self._reauth_timer = self._loop.call_later(delay, self._begin_reauth)

    def _begin_reauth(self) -> None:
        self._reauth_timer = None
        if self._loop is None or self._closed_exc is not None or self._reauth is not None:
            return
        self._reauth = self._loop.create_task(self._reauthenticate())

    async def _reauthenticate(self) -> None:
        """Stop sending, let the responses in flight arrive, authenticate again, resume."""
        assert self._sasl is not None
        assert self._loop is not None
        try:
            if self._pending:
                self._log.debug(
                    "%s: re-authenticating after %d response(s)", self, len(self._pending)
                )
                self._drained = self._loop.create_future()
                await self._drained
            lifetime_ms = await self._authenticate(self._sasl)
            self.reauthentications += 1
            self._log.debug("%s: re-authenticated (%d so far)", self, self.reauthentications)
        except ProducerError as exc:
            if self._closed_by_owner:  # closed meanwhile (the producer's close(), idle): no failure
                self._log.debug("%s: re-authentication stopped: %s", self, exc)
                return
            self._log.warning("%s: re-authentication failed, closing: %s", self, exc)
            self.close(exc)
            return
        except asyncio.CancelledError:
            self.close()
            raise
        finally:
            self._drained = None
            self._reauth = None
        self._schedule_reauth(lifetime_ms)

    # -- requests -------------------------------------------------------------------------
    def version_for(self, request_type: type[Request]) -> int:
        """The highest version of ``request_type`` both sides support."""
        span = self._versions.get(request_type.API_KEY)
        if span is None:
            raise UnsupportedVersionError(
                f"broker {self.host}:{self.port} does not support API key {request_type.API_KEY}"
            )
        return negotiate(request_type, span[0], span[1])

    def throttle(self, throttle_time_ms: int, now_ms: int) -> None:
        """Honour a response's throttle time: the broker mutes this connection meanwhile
        (KIP-219), so, as the Java client does, send it nothing more until it ends."""
        if throttle_time_ms > 0:  # +1: ``now_ms`` is floored to a whole millisecond
            self.throttled_until_ms = max(self.throttled_until_ms, now_ms + throttle_time_ms + 1)

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._closed_exc is None

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def send(self, request: Request, version: int | None = None) -> asyncio.Future[Response] | None:
        """Write ``request`` now; return the future of its response (None if none is expected)."""
        if self._closed_exc is not None or self._transport is None or self._loop is None:
            raise self._closed_exc or ConnectionLostError(f"not connected to {self}")
        if version is None:
            version = self.version_for(type(request))
        correlation_id, data = self._core.send(request, version)
        self._transport.write(data)
        if self.stats is not None:
            self.stats.sent(len(data))
        self.last_used = self._loop.time()
        if not request.expects_response():
            return None
        future: asyncio.Future[Response] = self._loop.create_future()
        deadline = self._loop.time() + self._request_timeout
        self._pending.append((correlation_id, future, deadline))
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._check_timeouts)
        return future

    async def request(self, request: Request, version: int | None = None) -> Response:
        """Send ``request`` and wait for its response."""
        await self.wait_writable()
        return await self._call(request, version)

    async def _call(self, request: Request, version: int | None = None) -> Response:
        """:meth:`request`, even while re-authenticating (for the requests doing it)."""
        if self._write_ready is not None and not self._write_ready.is_set():
            await self._write_ready.wait()
        future = self.send(request, version)
        if future is None:
            raise ProtocolError("request() needs a request that expects a response")
        return await future

    @property
    def writable(self) -> bool:
        """False while the transport's write buffer is above its high-water mark, and while
        the connection re-authenticates."""
        return (self._write_ready is None or self._write_ready.is_set()) and self._reauth is None

    async def wait_writable(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark, or the
        connection re-authenticates."""
        while self._closed_exc is None and not self.writable:
            reauth = self._reauth
            if reauth is not None:
                await asyncio.wait((reauth,))  # not shielded: its outcome is not ours
            elif self._write_ready is not None:
                await self._write_ready.wait()
        if self._closed_exc is not None:
            raise self._closed_exc

    def close(self, exc: ProducerError | None = None) -> None:
        """Close the connection, failing whatever is in flight with ``exc``."""
        if self._closed_exc is None:
            self._closed_exc = exc or ConnectionLostError(f"connection to {self} was closed")
            self._close_reason = f": {exc}" if exc is not None else ""
            self._closed_by_owner = exc is None
        if self._transport is not None:
            self._transport.abort()
            self._transport = None
        if self._reauth_timer is not None:
            self._reauth_timer.cancel()
            self._reauth_timer = None
        self._fail_pending(self._closed_exc)

    # -- asyncio.Protocol ---------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport, though not always an asyncio.Transport subclass (uvloop's is not).
        self._transport = cast(asyncio.Transport, transport)
        if self.stats is not None:
            self.stats.opened()
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.stats is not None:
            self.stats.received(len(data))
        try:
            responses = self._core.receive_data(data)
        except ProtocolError as exc:
            self._log.warning("protocol error from %s: %s", self, exc)
            self.close(exc)
            return
        pending = self._pending
        if responses and self._loop is not None:
            self.last_used = self._loop.time()
        for correlation_id, response in responses:
            expected, future, _ = pending.popleft()
            if expected != correlation_id:  # the core checks order; this is a safety net
                self.close(ProtocolError(f"{self}: response {correlation_id} != {expected}"))
                return
            if not future.done():
                future.set_result(response)
        if not pending and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self.stats is not None:
            self.stats.closed()
        self._log.log(
            logging.INFO if self.node_id >= 0 else logging.DEBUG,  # bootstrap ones: DEBUG
            "connection to broker %d at %s:%d %s",
            self.node_id,
            self.host,
            self.port,
            f"closed{self._close_reason}" if self._closed_exc is not None else f"lost: {exc}",
        )
        if self._closed_exc is None:
            reason = f": {exc}" if exc else ""
            lost = ConnectionLostError(f"connection to {self} was lost{reason}")
            if exc is not None:
                lost.__cause__ = exc
            self._closed_exc = lost
        self._fail_pending(self._closed_exc)
        if self._write_ready is not None:
            self._write_ready.set()

    def pause_writing(self) -> None:
        if self._write_ready is not None:
            self._write_ready.clear()

    def resume_writing(self) -> None:
        if self._write_ready is not None:
            self._write_ready.set()

    # -- internals ----------------------------------------------------------------------
    def _fail_pending(self, exc: ProducerError) -> None:
        pending, self._pending = self._pending, deque()
        for _, future, _ in pending:
            if not future.done():
                future.set_exception(exc)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)  # the re-authentication then fails on the closed socket
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_timeouts(self) -> None:
        self._timer = None
        if not self._pending or self._loop is None:
            return
        _, _, deadline = self._pending[0]
        if self._loop.time() >= deadline:
            self._log.warning("request to %s timed out; closing the connection", self)
            self.close(
                RequestTimeoutError(
                    f"{self} did not answer within {self._request_timeout * 1000:.0f} ms"
                )
            )
            return
        self._timer = self._loop.call_at(deadline, self._check_timeouts)
