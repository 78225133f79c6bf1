"""The loop the suite runs on: ``AIOPRODUCER_TEST_LOOP=uvloop`` really means uvloop."""

from __future__ import annotations

import asyncio
import os


async def test_the_loop_is_the_one_asked_for() -> None:
    module = type(asyncio.get_running_loop()).__module__
    wanted = os.environ.get("AIOPRODUCER_TEST_LOOP", "asyncio")
    assert module.split(".")[0] == wanted, module
