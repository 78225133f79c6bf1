"""AddOffsetsToTxn (API key 25), versions 0-4: add a consumer group's offsets to a transaction.

Sent to the transaction coordinator before :mod:`.txn_offset_commit` (which goes to the
group coordinator). Versions differ only in flexibility (v3+) and the errors they may return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version, is_flexible
from aioproducer._protocol.primitives import (
    Reader,
    write_int16,
    write_int64,
    write_string,
    write_tagged_fields,
)

__all__ = ["AddOffsetsToTxnRequest", "AddOffsetsToTxnResponse"]


@dataclass(frozen=True, slots=True)
class AddOffsetsToTxnResponse:
    """Normalized AddOffsetsToTxn response (every version)."""

    throttle_time_ms: int
    error_code: int


@dataclass(frozen=True, slots=True)
class AddOffsetsToTxnRequest:
    """Include ``group_id``'s offset commits in the producer's transaction."""

    API_KEY: ClassVar[int] = ApiKey.ADD_OFFSETS_TO_TXN
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 4
    FLEXIBLE_FROM: ClassVar[int] = 3

    transactional_id: str
    producer_id: int
    producer_epoch: int
    group_id: str

    def encode(self, version: int) -> bytes:
        """Encode the body."""
        check_version(type(self), version)
        flexible = is_flexible(type(self), version)
        buf = bytearray()
        write_string(buf, self.transactional_id, flexible)
        write_int64(buf, self.producer_id)
        write_int16(buf, self.producer_epoch)
        write_string(buf, self.group_id, flexible)
        if flexible:
            write_tagged_fields(buf)
        return bytes(buf)

    def expects_response(self) -> bool:
        """Always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> AddOffsetsToTxnResponse:
        """Decode a response body of any version; trailing bytes are ignored."""
        check_version(cls, version)
        r = Reader(data)
        response = AddOffsetsToTxnResponse(r.int32(), r.int16())
        if is_flexible(cls, version):
            r.skip_tagged_fields()
        return response
