"""EndTxn (API key 26), versions 0-5: commit or abort the producer's transaction.

v3+ are flexible. From v5 (KIP-890 part 2) the coordinator bumps the epoch at every
transaction end and returns the producer id and epoch to use next; older versions leave
them at -1 in the normalized response.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version, is_flexible
from aioproducer._protocol.primitives import (
    Reader,
    write_bool,
    write_int16,
    write_int64,
    write_string,
    write_tagged_fields,
)

__all__ = ["EndTxnRequest", "EndTxnResponse"]


@dataclass(frozen=True, slots=True)
class EndTxnResponse:
    """Normalized EndTxn response (every version)."""

    throttle_time_ms: int
    error_code: int
    producer_id: int = -1
    """The producer id to use next (v5+; -1 before)."""
    producer_epoch: int = -1
    """The epoch to use next (v5+; -1 before)."""


@dataclass(frozen=True, slots=True)
class EndTxnRequest:
    """Commit (``committed=True``) or abort the ongoing transaction."""

    API_KEY: ClassVar[int] = ApiKey.END_TXN
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 5
    FLEXIBLE_FROM: ClassVar[int] = 3

    transactional_id: str
    producer_id: int
    producer_epoch: int
    committed: bool

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        flexible = is_flexible(type(self), version)
        buf = bytearray()
        write_string(buf, self.transactional_id, flexible)
        write_int64(buf, self.producer_id)
        write_int16(buf, self.producer_epoch)
        write_bool(buf, self.committed)
        if flexible:
            write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> EndTxnResponse:
        """Decode a response body of any version; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        throttle_time_ms, error_code = r.int32(), r.int16()
        if version >= 5:
            response = EndTxnResponse(throttle_time_ms, error_code, r.int64(), r.int16())
        else:
            response = EndTxnResponse(throttle_time_ms, error_code)
        if is_flexible(cls, version):
            r.skip_tagged_fields()
        return response
