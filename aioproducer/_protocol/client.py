"""Per-connection sans-IO state: correlation ids, framing, and the in-flight queue.

No I/O happens here; an I/O driver moves bytes::

    conn = ClientConnection("my-client")
    correlation_id, data = conn.send(MetadataRequest(("t",)), version=12)
    transport.write(data)
    ...
    for correlation_id, response in conn.receive_data(received):
        ...

Kafka answers the requests of one connection in order, so each response must carry the
correlation id of the oldest request in flight; anything else is a ProtocolError. Requests
that get no response (Produce with acks=0) use a correlation id but are not tracked; some
brokers (Tansu) answer them all the same, and such an answer, recognised by its correlation
id, is read and dropped. After a ProtocolError the connection is broken and every further
call raises ProtocolError.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from aioproducer._errors_base import ProtocolError
from aioproducer._protocol.api import Request, Response, check_version
from aioproducer._protocol.framing import DEFAULT_MAX_FRAME_SIZE, FrameDecoder
from aioproducer._protocol.headers import (
    read_response_header,
    request_header_version,
    response_header_version,
    write_request_header,
)
from aioproducer._protocol.primitives import INT32, Reader

__all__ = ["ClientConnection", "InFlightRequest"]

_ID_SPACE = 1 << 31
_MAX_CORRELATION_ID = _ID_SPACE - 1


class InFlightRequest(NamedTuple):
    """A sent request waiting for its response."""

    correlation_id: int
    request_type: type[Request]
    api_version: int


class ClientConnection:
    """Frames requests and matches responses for one broker connection."""

    __slots__ = ("_answered", "_client_id", "_decoder", "_error", "_in_flight", "_next_id")

    def __init__(
        self, client_id: str | None, max_response_size: int = DEFAULT_MAX_FRAME_SIZE
    ) -> None:
        self._client_id = client_id
        self._decoder = FrameDecoder(max_response_size)
        self._in_flight: deque[InFlightRequest] = deque()
        self._next_id = 0
        self._answered = _MAX_CORRELATION_ID
        """The correlation id of the last response read (none yet: the id before 0)."""
        self._error: ProtocolError | None = None

    @property
    def in_flight(self) -> int:
        """Requests sent whose response has not arrived yet."""
        return len(self._in_flight)

    @property
    def pending(self) -> tuple[InFlightRequest, ...]:
        """The requests in flight, oldest first."""
        return tuple(self._in_flight)

    def send(self, request: Request, version: int) -> tuple[int, bytearray]:
        """Frame ``request`` at ``version``; return ``(correlation id, bytes to write)``.

        The bytes are a new buffer, not kept here: handed to a transport without a copy.
        """
        self._check()
        request_type = type(request)
        check_version(request_type, version)
        correlation_id = self._next_id
        self._next_id = 0 if correlation_id >= _MAX_CORRELATION_ID else correlation_id + 1
        flexible = version >= request_type.FLEXIBLE_FROM
        buf = bytearray(4)  # size prefix, filled in below
        write_request_header(
            buf,
            request_type.API_KEY,
            version,
            correlation_id,
            self._client_id,
            header_version=request_header_version(flexible),
        )
        encode_into = getattr(request, "encode_into", None)  # Produce: skip a copy
        if encode_into is not None:
            encode_into(buf, version)
        else:
            buf += request.encode(version)
        INT32.pack_into(buf, 0, len(buf) - 4)
        if request.expects_response():
            self._in_flight.append(InFlightRequest(correlation_id, request_type, version))
        return correlation_id, buf

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[tuple[int, Response]]:
        """Feed received bytes; return the responses they complete, in request order."""
        self._check()
        try:
            responses = []
            for frame in self._decoder.feed(data):
                response = self._response(frame)
                if response is not None:
                    responses.append(response)
            return responses
        except ProtocolError as exc:
            self._error = exc
            raise

    def _response(self, frame: bytes) -> tuple[int, Response] | None:
        """The response ``frame`` completes; None for an answer to an untracked request."""
        in_flight = self._in_flight
        if len(frame) >= 4:
            (correlation_id,) = INT32.unpack_from(frame)
            expected_id = in_flight[0].correlation_id if in_flight else None
            if correlation_id != expected_id and self._untracked(correlation_id):
                self._answered = correlation_id
                return None
        if not in_flight:
            raise ProtocolError("received a response with no request in flight")
        expected = in_flight[0]
        request_type = expected.request_type
        version = expected.api_version
        flexible = version >= request_type.FLEXIBLE_FROM
        reader = Reader(frame)
        correlation_id = read_response_header(
            reader, response_header_version(request_type.API_KEY, flexible)
        )
        if correlation_id != expected.correlation_id:
            raise ProtocolError(
                f"response correlation id {correlation_id} does not match the oldest "
                f"request in flight ({expected.correlation_id})"
            )
        in_flight.popleft()
        self._answered = correlation_id
        return correlation_id, request_type.decode_response(reader.rest(), version)

    def _untracked(self, correlation_id: int) -> bool:
        """True when ``correlation_id`` is that of a request sent expecting no response after
        the last response read: in order, the ids after that one and before the oldest
        tracked request's (or the next id) belong to untracked requests only."""
        bound = self._in_flight[0].correlation_id if self._in_flight else self._next_id
        last = self._answered
        return (
            correlation_id >= 0
            and 0 < (correlation_id - last) % _ID_SPACE < (bound - last) % _ID_SPACE
        )

    def _check(self) -> None:
        if self._error is not None:
            raise ProtocolError("the connection failed earlier") from self._error
