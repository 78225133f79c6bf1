"""The optional compiled extensions, or None: ``aioproducer._speedups`` (Cython loops
and hand-written C types), ``aioproducer._protocol._crecords`` and ``aioproducer._caccumulate``
(Cython).

setup.py builds them wherever a C compiler is found; without them (or with the environment
variable ``AIOPRODUCER_PURE_PYTHON=1``) every loop runs in Python. Each compiled class or
function has a Python twin that the tests hold it to; a module takes the compiled one
through :func:`compiled`, once. :func:`enabled` (``aioproducer.speedups_enabled()``)
tells which path runs, :data:`why_pure` why, and importing the package on the pure path logs
that reason once at INFO on the ``aioproducer._speedups_status`` logger.
"""

from __future__ import annotations

import importlib
import logging
import os
from array import array
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol, cast

__all__ = ["Speedups", "c", "compiled", "enabled", "why_pure"]

#: The compiled modules: all of them run, or none.
_MODULES = ("aioproducer._speedups", "aioproducer._protocol._crecords", "aioproducer._caccumulate")

#: Written by setup.py beside the package when the extension failed to build at install.
_BUILD_ERROR = Path(__file__).with_name("_speedups_build_error.txt")


class Speedups(Protocol):
    """What the extension offers (aioproducer/_speedups.pyx documents each function)."""

    # aioproducer/_cext/relay.c: the twin of aioproducer._futures.CallbackRelay
    CallbackRelay: Any
    record_future_get_loop: Any  # aioproducer._futures.RecordFuture.get_loop's twin
    # aioproducer/_cext/fastsend.c: Producer.send's common call, and the awaitable it returns
    FastSend: Any
    Ready: Any

    def murmur2(self, data: bytes, /) -> int: ...
    def plan_keyed(
        self, records: list[tuple[object, object]], runs: list[bytearray], limit: int, start: int, /
    ) -> int: ...
    def settle(  # noqa: PLR0917 - mirrors the compiled signature
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
    def track(self, objects: list[Any], /) -> None: ...
    def resolve_run(  # noqa: PLR0917 - mirrors the compiled signature
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


def _load() -> tuple[Speedups | None, str | None]:
    """The extension, or None and why not."""
    if os.environ.get("AIOPRODUCER_PURE_PYTHON") == "1":
        return None, "AIOPRODUCER_PURE_PYTHON=1 is set"
    try:
        module, *_ = [importlib.import_module(name) for name in _MODULES]
    except ImportError as exc:
        return None, _why_missing(exc)
    Coroutine.register(module.Ready)  # so asyncio.create_task() takes what send() returns
    return cast(Speedups, module), None


def _why_missing(exc: ImportError) -> str:
    if not (isinstance(exc, ModuleNotFoundError) and exc.name in _MODULES):
        return f"the C extension did not load: {exc}"
    try:
        failure = _BUILD_ERROR.read_text(encoding="utf-8").strip()
    except OSError:
        return (
            "the C extension is not installed for this Python (a pure-Python wheel, "
            "or a build without it)"
        )
    return f"the C extension failed to build at install: {failure}"


c, why_pure = _load()
"""``c``: the extension, or None when it is not built or not wanted. ``why_pure``: None
when the extension runs, else why the pure-Python code does."""

if why_pure is not None:
    logging.getLogger("aioproducer.speedups").info("pure-Python path: %s", why_pure)


def compiled(name: str) -> ModuleType | None:
    """The compiled module ``name`` (one of the extensions) when the compiled path runs, else
    None: where a module picks its compiled twins."""
    return None if c is None else importlib.import_module(name)


def enabled() -> bool:
    """True when the C extension runs the hot loops; :data:`why_pure` says why not."""
    return c is not None
