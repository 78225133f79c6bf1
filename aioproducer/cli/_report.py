"""What the commands tell the user: a progress line on a terminal, the summary, the failures."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, Final, TextIO

__all__ = ["Progress", "Tally", "summary_line"]

_PERIOD: Final = 0.25  # seconds between redraws
_CLEAR: Final = "\r\x1b[K"


def summary_line(sent: int, failed: int, seconds: float) -> str:
    """``N records sent, M failed, in S s (R records/s)``."""
    rate = sent / seconds if seconds > 0 else 0.0
    return f"{sent} records sent, {failed} failed, in {seconds:.2f} s ({rate:,.0f} records/s)"


class Progress:
    """Redraws ``records, records/s, percent`` on ``stream`` while :meth:`showing` runs,
    if ``stream`` is a terminal; prints nothing otherwise."""

    def __init__(
        self,
        stream: TextIO,
        count: Callable[[], int],
        fraction: Callable[[], float | None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._count = count
        self._fraction = fraction
        self._clock = clock
        self.enabled = stream.isatty()

    def line(self, elapsed: float) -> str:
        """What the display shows after ``elapsed`` seconds."""
        done = self._count()
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{done:,} records, {rate:,.0f} records/s"
        fraction = self._fraction()
        if fraction is not None:
            text += f", {min(fraction, 1.0):.0%} of the input read"
        return text

    @contextlib.contextmanager
    def showing(self) -> Iterator[None]:
        """Show the progress during the block, and clear it after."""
        if not self.enabled:
            yield
            return
        task = asyncio.get_running_loop().create_task(self._redraw(self._clock()))
        try:
            yield
        finally:
            task.cancel()
            self._stream.write(_CLEAR)
            self._stream.flush()

    async def _redraw(self, started: float) -> None:
        while True:
            await asyncio.sleep(_PERIOD)
            self._stream.write(_CLEAR + self.line(self._clock() - started))
            self._stream.flush()


class Tally:
    """Records acknowledged and failed, and the first error of each kind."""

    def __init__(self) -> None:
        self.sent = 0
        self.failed = 0
        self._errors: dict[str, tuple[int, str]] = {}

    def settled(self, future: asyncio.Future[Any], count: int = 1) -> None:
        """A done-callback: ``future`` (of ``count`` records) is done."""
        error = asyncio.CancelledError("cancelled") if future.cancelled() else future.exception()
        if error is None:
            self.sent += count
            return
        self.failed += count
        kind = type(error).__name__
        seen, message = self._errors.get(kind, (0, str(error)))
        self._errors[kind] = (seen + count, message)

    def settled_run(self, count: int, future: asyncio.Future[Any]) -> None:
        """A done-callback for the future of ``send_many`` (``count`` records)."""
        self.settled(future, count)

    def report(self, stream: TextIO) -> int:
        """Print a line per kind of failure (how many, the first message); the exit code."""
        for kind, (count, message) in self._errors.items():
            print(f"aioproducer: error: {count} records failed with {kind}: {message}", file=stream)
        return 1 if self.failed else 0
