"""Test-wide guards: a test fails when its event loop logged an unhandled error."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Callable, Iterator, Mapping

import pytest

from aioproducer import speedups
from aioproducer.protocol.records import RecordBatchBuilderProtocol, RecordBatchBuilderPy

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
        module = speedups.compiled("aioproducer.protocol._crecords")
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
