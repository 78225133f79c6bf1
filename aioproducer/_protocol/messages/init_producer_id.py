"""InitProducerId (key 22), versions 0-5: a producer id and epoch for idempotence/transactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aioproducer._protocol.api import ApiKey, check_version
from aioproducer._protocol.primitives import INT16, INT32, INT64, Reader, write_nullable_string

__all__ = ["InitProducerIdRequest", "InitProducerIdResponse"]


@dataclass(frozen=True, slots=True)
class InitProducerIdResponse:
    """Normalized InitProducerId response, whatever the version."""

    error_code: int
    producer_id: int
    producer_epoch: int
    throttle_time_ms: int = 0


@dataclass(frozen=True, slots=True)
class InitProducerIdRequest:
    """InitProducerId request. From v3 an existing id/epoch can be passed to bump the epoch."""

    API_KEY: ClassVar[int] = ApiKey.INIT_PRODUCER_ID
    MIN_VERSION: ClassVar[int] = 0
    MAX_VERSION: ClassVar[int] = 5
    FLEXIBLE_FROM: ClassVar[int] = 2

    transactional_id: str | None = None
    transaction_timeout_ms: int = -1
    producer_id: int = -1
    producer_epoch: int = -1

    def encode(self, version: int) -> bytes:
        """Encode the request body."""
        check_version(InitProducerIdRequest, version)
        if version < 3 and (self.producer_id != -1 or self.producer_epoch != -1):
            raise ValueError("InitProducerId before v3 cannot carry an existing producer id")
        flexible = version >= 2
        buf = bytearray()
        write_nullable_string(buf, self.transactional_id, flexible)
        buf += INT32.pack(self.transaction_timeout_ms)
        if version >= 3:
            buf += INT64.pack(self.producer_id)
            buf += INT16.pack(self.producer_epoch)
        if flexible:
            buf.append(0)
        return bytes(buf)

    def expects_response(self) -> bool:
        """InitProducerId is always answered."""
        return True

    @classmethod
    def decode_response(cls, data: memoryview, version: int) -> InitProducerIdResponse:
        """Decode a response body of the given version."""
        check_version(cls, version)
        r = Reader(data)
        throttle = r.int32()
        error_code = r.int16()
        producer_id = r.int64()
        epoch = r.int16()
        if version >= 2:
            r.skip_tagged_fields()
        return InitProducerIdResponse(error_code, producer_id, epoch, throttle)
