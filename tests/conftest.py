"""Test-wide guards: a test fails when its event loop logged an unhandled error."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest


class _LoopErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


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
