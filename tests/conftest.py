"""Test-wide guards: which implementation a session tests (``--implementation``), the
``requires_extension`` marker, and a test fails when its event loop logged an unhandled error."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable, Iterator, Mapping

import pytest

import aioproducer
from aioproducer import _speedups_status as speedups
from aioproducer._protocol.records import RecordBatchBuilderProtocol, RecordBatchBuilderPy

#: ``AIOPRODUCER_TEST_LOOP=uvloop`` runs every async test on uvloop's event loop.
TEST_LOOP = os.environ.get("AIOPRODUCER_TEST_LOOP", "asyncio")

if TEST_LOOP == "uvloop":
    import uvloop

    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
        """pytest-asyncio's hook: the loop every async test runs on."""
        return {"uvloop": uvloop.new_event_loop}

elif TEST_LOOP != "asyncio":
    raise pytest.UsageError(f"AIOPRODUCER_TEST_LOOP must be asyncio or uvloop, not {TEST_LOOP!r}")


IMPLEMENTATIONS = ("compiled", "pure")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--implementation",
        choices=IMPLEMENTATIONS,
        default=None,
        help="the implementation this session tests: compiled (the C extension must have "
        "loaded) or pure (pure Python). Default: pure with AIOPRODUCER_PURE_PYTHON=1, else "
        "compiled. The choice is made when aioproducer is imported, before pytest reads its "
        "options; this option checks it and says how to get the other.",
    )


def _running() -> str:
    return "compiled" if aioproducer.speedups_enabled() else "pure"


def _mismatch(wanted: str) -> str | None:
    """Why the implementation that loaded is not the one ``wanted``, or None."""
    if wanted == _running():
        return None
    if wanted == "compiled":
        fix = (
            "unset it"
            if os.environ.get("AIOPRODUCER_PURE_PYTHON") == "1"
            else "build the extension (python setup.py build_ext --inplace)"
        )
        return (
            f"--implementation=compiled, but the pure-Python path runs: {speedups.why_pure}; "
            f"{fix}, or test the pure-Python path with --implementation=pure"
        )
    return (
        "--implementation=pure, but the C extension loaded when aioproducer was imported "
        "(before pytest read its options): set AIOPRODUCER_PURE_PYTHON=1 in the environment"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Fail the session at its start when it would not test the implementation it names:
    a broken build must never pass the suite on the pure-Python path unnoticed."""
    config.addinivalue_line(
        "markers",
        "requires_extension: needs the C extension (skipped, saying so, on the pure path)",
    )
    wanted = config.getoption("implementation") or (
        "pure" if os.environ.get("AIOPRODUCER_PURE_PYTHON") == "1" else "compiled"
    )
    if (problem := _mismatch(wanted)) is not None:
        raise pytest.UsageError(problem)


def pytest_report_header(config: pytest.Config) -> list[str]:
    if aioproducer.speedups_enabled():
        where = getattr(speedups.c, "__file__", "?")
        implementation = f"compiled (the C extension, {where})"
    else:
        implementation = f"pure Python ({speedups.why_pure})"
    return [f"aioproducer: {implementation}; event loop: {TEST_LOOP}"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("requires_extension") and not aioproducer.speedups_enabled():
        pytest.skip(f"needs the C extension; this session tests pure Python ({speedups.why_pure})")


class _LoopErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(params=["compiled", "python"])
def each_builder(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> type[RecordBatchBuilderProtocol]:
    """Run the test on both record batch builders: the test module's ``RecordBatchBuilder``
    is each in turn (the compiled one skips, saying why, where it is not built)."""
    if request.param == "python":
        chosen: type[RecordBatchBuilderProtocol] = RecordBatchBuilderPy
    else:
        module = speedups.compiled("aioproducer._protocol._crecords")
        if module is None:
            pytest.skip(f"the compiled builder does not run: {speedups.why_pure}")
        chosen = module.RecordBatchBuilder
    monkeypatch.setattr(request.module, "RecordBatchBuilder", chosen)
    return chosen


@pytest.fixture(autouse=True)
def fail_on_unhandled_loop_errors() -> Iterator[None]:
    """Fail the test if asyncio reported an exception nobody handled.

    asyncio's default exception handler logs "Task exception was never retrieved",
    "Exception in callback ..." and the like on the ``asyncio`` logger; collecting those
    catches errors that would otherwise vanish with a passing test.
    """
    collector = _LoopErrorCollector()
    logger = logging.getLogger("asyncio")
    logger.addHandler(collector)
    try:
        yield
        gc.collect()
    finally:
        logger.removeHandler(collector)
    if collector.records:
        messages = "\n".join(record.getMessage() for record in collector.records)
        pytest.fail(f"the event loop logged unhandled errors:\n{messages}")
