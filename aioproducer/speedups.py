"""The optional C extension ``aioproducer._speedups``, or None.

setup.py builds it wherever a C compiler is found; without it (or with the environment
variable ``AIOPRODUCER_PURE_PYTHON=1``) every loop runs in Python. Each C function has a
Python twin that the tests hold it to.
"""

from __future__ import annotations

import importlib
import os
from array import array
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol, cast

__all__ = ["Speedups", "c"]


class Speedups(Protocol):
    """What the extension offers (aioproducer/_speedups.c documents each function)."""

    # aioproducer/_relay.c: the twin of aioproducer.futures.CallbackRelay
    CallbackRelay: Any
    # aioproducer/_fastsend.c: Producer.send's common call, and the awaitable it returns
    FastSend: Any
    Ready: Any

    def murmur2(self, data: bytes, /) -> int: ...
    def plan_keyed(
        self, records: list[tuple[object, object]], runs: list[bytearray], limit: int, start: int, /
    ) -> int: ...
    def encode_run(  # noqa: PLR0917 - mirrors the C signature
        self,
        buffer: bytearray,
        records: list[tuple[bytes | None, bytes | None]],
        indices: memoryview | None,
        first: int,
        last: int,
        timestamp_delta: int,
        count: int,
        limit: int,
        /,
    ) -> int: ...
    def encode_record(  # noqa: PLR0917 - mirrors the C signature
        self,
        buffer: bytearray,
        timestamp_delta: int,
        offset_delta: int,
        key: bytes | None,
        value: bytes | None,
        limit: int,
        /,
    ) -> int: ...
    def settle(  # noqa: PLR0917 - mirrors the C signature
        self,
        completions: Sequence[object | None],
        metadata_type: type[tuple[str, int, int, int]],
        topic: str,
        partition: int,
        base_offset: int,
        log_append_time_ms: int,
        timestamps: array[int],
        /,
    ) -> None: ...
    def resolve_run(  # noqa: PLR0917 - mirrors the C signature
        self,
        indices: memoryview,
        partitions: array[int],
        offsets: array[int],
        timestamps: array[int],
        partition: int,
        base_offset: int,
        log_append_time_ms: int,
        /,
    ) -> None: ...


def _load() -> Speedups | None:
    if os.environ.get("AIOPRODUCER_PURE_PYTHON") == "1":
        return None
    try:
        module = importlib.import_module("aioproducer._speedups")
    except ImportError:
        return None
    Coroutine.register(module.Ready)  # so asyncio.create_task() takes what send() returns
    return cast(Speedups, module)


c: Speedups | None = _load()
"""The extension, or None when it is not built or not wanted."""
