"""Reading stdin or a file without blocking the event loop, a few chunks ahead.

A daemon thread calls ``os.read`` on a file descriptor, which returns what is there
(a line typed on a terminal, a pipe's contents, 256 KiB of a file) and holds no Python
lock: an interrupted run exits even while the thread waits for a terminal. At most
``ahead`` chunks wait in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import threading
from typing import Final

from aioproducer.cli._input import InputError

__all__ = ["STDIN", "ChunkReader", "check_inputs", "display_name"]

CHUNK_SIZE: Final = 256 * 1024
STDIN: Final = "-"


def display_name(path: str) -> str:
    return "<stdin>" if path == STDIN else path


def check_inputs(paths: list[str]) -> None:
    """Raise InputError for the first of ``paths`` that cannot be read, before any record
    is sent. Nothing is opened: opening a named pipe would wait for its writer."""
    for path in paths:
        if path == STDIN:
            continue
        try:
            mode = os.stat(path).st_mode
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        if stat.S_ISDIR(mode):
            raise InputError(f"cannot read {path}: it is a directory")
        if not os.access(path, os.R_OK):
            raise InputError(f"cannot read {path}: permission denied")


class ChunkReader:
    """Chunks of stdin (``-``) or a file; ``b""`` at its end. The thread opens the file
    (a named pipe waits there for its writer) and closes it at the end."""

    def __init__(self, path: str, ahead: int = 4, chunk_size: int = CHUNK_SIZE) -> None:
        self.name = display_name(path)
        self._path = path
        self._chunk_size = chunk_size
        self._loop = asyncio.get_running_loop()
        self._chunks: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self._room = threading.Semaphore(ahead)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"read {self.name}", daemon=True)
        self._thread.start()

    async def read(self) -> bytes:
        """The next chunk, ``b""`` at the end of the input."""
        chunk = await self._chunks.get()
        self._room.release()
        if isinstance(chunk, OSError):
            raise InputError(f"cannot read {self.name}: {chunk.strerror or chunk}")
        return chunk

    def close(self) -> None:
        """Stop reading (a thread waiting for a terminal goes when it has read)."""
        self._stopped = True
        self._room.release()

    def _run(self) -> None:
        fd = -1
        try:
            fd = 0 if self._path == STDIN else os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
            while True:
                self._room.acquire()
                if self._stopped:
                    return
                chunk = os.read(fd, self._chunk_size)
                if not self._hand_over(chunk) or not chunk:
                    return
        except OSError as exc:
            self._hand_over(exc)
        finally:
            if fd > 0:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _hand_over(self, chunk: bytes | OSError) -> bool:
        """Queue ``chunk`` for :meth:`read`; False once the event loop is closed."""
        try:
            self._loop.call_soon_threadsafe(self._chunks.put_nowait, chunk)
        except RuntimeError:  # the event loop is closed: nobody reads on
            return False
        return True
