"""Building large compressed batches on worker threads, off the event loop.

Compressing a batch takes the loop thread away from everything else: a 1 MiB batch costs
about 26 ms with gzip, 1.5 to 2.3 ms with the other codecs (see :data:`OFF_LOOP_MIN_BYTES`).
The codecs release the GIL, so :class:`OffLoopBuilds` runs ``RecordBatchBuilder.build``
(compress, then CRC) of the large batches
:meth:`~aioproducer._accumulator.RecordAccumulator.drain` hands it on a small thread pool,
and gives the bytes back on the loop thread
(:meth:`~aioproducer._accumulator.RecordAccumulator.attach_built`), where every change to a
batch happens. Smaller batches stay on the loop: there the hop to a thread costs more.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Final

from aioproducer._accumulator import RecordAccumulator
from aioproducer._batch import ProducerBatch, Stamp
from aioproducer._protocol.compression import CompressionType

__all__ = ["OFF_LOOP_MIN_BYTES", "OffLoopBuilds"]

log = logging.getLogger("aioproducer.offloop")

OFF_LOOP_MIN_BYTES: Final[Mapping[CompressionType, int]] = {
    CompressionType.GZIP: 32 * 1024,
    CompressionType.SNAPPY: 256 * 1024,
    CompressionType.LZ4: 256 * 1024,
    CompressionType.ZSTD: 128 * 1024,
}
"""Uncompressed batch size from which a codec's batches are built on a thread: the first
size whose build costs the loop about half a millisecond.

Event-loop thread CPU per build of 4 / 16 / 32 / 64 / 128 / 256 / 1024 KiB of JSON-like
records, built on the loop vs on a thread (``python -m benchmarks.loop_lag --costs``;
2 cores, CPython 3.11, best of 3), in us: gzip 58 / 275 / 618 / 1464 / 3189 / 6268 /
25740 vs 50-170; zstd 30 / 83 / 149 / 277 / 527 / 796 / 1484; lz4 13 / 29 / 54 / 108 / 261
/ 548 / 2226; snappy 15 / 32 / 58 / 116 / 269 / 597 / 2288. So the hop costs the loop
50-170 us; but it also waits for two thread wake-ups per batch, one batch of a partition
at a time, and on this loaded machine that cut one partition's msgs/s with 32-64 KiB
batches by a third to two thirds (zstd 32 KiB: 44-52k inline, 23-29k on a thread; lz4
64 KiB: 38-108k vs 20-36k). Below half a millisecond a stall is lost in the loop's own
jitter (an idle 1 ms sleeper here oversleeps 2.7 ms at p99), so those stay inline.
"""

_THREADS: Final = max(1, min(4, (os.cpu_count() or 1) - 1))
"""Worker threads: one core (at least) stays the loop's."""


class OffLoopBuilds:
    """A thread pool, created at the first build, that builds the batches it :meth:`wants`."""

    def __init__(
        self, codec: CompressionType, accumulator: RecordAccumulator, on_built: Callable[[], None]
    ) -> None:
        """``on_built`` runs (on the loop) after each build's outcome reached ``accumulator``."""
        self._min_bytes = OFF_LOOP_MIN_BYTES[codec]
        self._accumulator = accumulator
        self._on_built = on_built
        self._executor: ThreadPoolExecutor | None = None
        self.log: logging.Logger | logging.LoggerAdapter[logging.Logger] = log
        """Where its warnings go (the sender gives its client's logger)."""

    def wants(self, batch: ProducerBatch) -> bool:
        """Is ``batch`` large enough to be compressed on a thread?"""
        return batch.builder.estimated_size >= self._min_bytes

    def submit(self, batch: ProducerBatch, stamp: Stamp) -> bool:
        """Build ``batch`` (its builder closed) stamped with ``stamp`` on a worker thread;
        False if no thread can take it (none can start, say): the caller builds it."""
        executor = self._executor
        if executor is None:
            executor = self._executor = ThreadPoolExecutor(
                _THREADS, thread_name_prefix="aioproducer-compress"
            )
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, batch.builder.build, *stamp
            )
        except RuntimeError as exc:  # "can't start new thread", interpreter shutdown
            self.log.warning("building a batch on the event loop: %s", exc)
            return False
        future.add_done_callback(partial(self._done, batch, stamp))
        return True

    def _done(self, batch: ProducerBatch, stamp: Stamp, future: asyncio.Future[bytes]) -> None:
        result: bytes | BaseException | None = None  # cancelled: never started
        if not future.cancelled():
            result = future.exception() or future.result()
        self._accumulator.attach_built(batch, stamp, result)
        self._on_built()

    def close(self) -> None:
        """Stop the threads, waiting for none: builds not started are dropped (their batches
        are ordinary queued ones again); one under way finishes and is attached as usual,
        or unseen once the loop is closed."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
