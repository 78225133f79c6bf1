"""Kafka's size-prefixed framing: a big-endian int32 length, then that many bytes.

Feed bytes split in any way; complete frames come out in order::

    decoder = FrameDecoder(max_frame_size=64 * 1024 * 1024)
    for frame in decoder.feed(data):   # each frame is the bytes after the size prefix
        ...

A negative size or one above ``max_frame_size`` raises ProtocolError, and the decoder stays
broken afterwards (the stream cannot be resynchronised).
"""

from __future__ import annotations

from aioproducer._errors_base import ProtocolError
from aioproducer._protocol.primitives import INT32

__all__ = ["DEFAULT_MAX_FRAME_SIZE", "FrameDecoder", "frame"]

DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024

_unpack_size = INT32.unpack_from


def frame(payload: bytes | bytearray | memoryview) -> bytes:
    """Prefix ``payload`` with its size (tests and tooling; the client frames in place)."""
    return INT32.pack(len(payload)) + bytes(payload)


class FrameDecoder:
    """Incremental decoder of size-prefixed frames."""

    __slots__ = ("_buffer", "_error", "max_frame_size")

    def __init__(self, max_frame_size: int = DEFAULT_MAX_FRAME_SIZE) -> None:
        if max_frame_size < 0:
            raise ValueError("max_frame_size must be >= 0")
        self.max_frame_size = max_frame_size
        self._buffer = bytearray()
        self._error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add received bytes; return every frame they complete, in order."""
        if self._error is not None:
            raise ProtocolError("the frame decoder failed earlier") from self._error
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= 4:
            size = _unpack_size(buf, pos)[0]
            if size < 0 or size > self.max_frame_size:
                self._error = ProtocolError(
                    f"invalid frame size {size} (maximum {self.max_frame_size})"
                )
                buf.clear()
                raise self._error
            stop = pos + 4 + size
            if stop > end:
                break
            frames.append(bytes(buf[pos + 4 : stop]))
            pos = stop
        if pos:
            del buf[:pos]
        return frames
