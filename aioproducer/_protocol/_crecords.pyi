"""The compiled record batch builder (_crecords.pyx): RecordBatchBuilderProtocol's methods."""

from collections.abc import Sequence

from aioproducer._protocol.compression import CompressionType
from aioproducer._protocol.records import Header

class RecordBatchBuilder:
    batch_size: int
    compression: CompressionType
    compression_level: int | None
    timestamp_type: int
    transactional: bool
    def __init__(
        self,
        *,
        batch_size: int,
        compression: CompressionType = ...,
        compression_level: int | None = None,
        timestamp_type: int = 0,
        transactional: bool = False,
    ) -> None: ...
    @property
    def estimated_size(self) -> int: ...
    @property
    def record_count(self) -> int: ...
    @property
    def base_timestamp(self) -> int: ...
    @property
    def max_timestamp(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def close(self) -> None: ...
    def append(
        self,
        timestamp_ms: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[Header] = (),
    ) -> int | None: ...
    def append_run(
        self,
        timestamp_ms: int,
        records: Sequence[tuple[bytes | None, bytes | None]],
        indices: Sequence[int],
    ) -> int: ...
    def build(self, producer_id: int = -1, epoch: int = -1, base_sequence: int = -1) -> bytes: ...
