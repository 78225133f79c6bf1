"""The asyncio floor: the scenario's workload around a ``send`` that does no Kafka work.

``await send()`` returns an already-resolved ``asyncio.Future``, and the futures are gathered
exactly as for the real clients. No record leaves the process (the run is not read back). Its
time is what the workload costs a client that returns asyncio's own futures (one loop
callback per done-callback); aioproducer's record futures batch those callbacks
(``aioproducer._futures``) and can cost less.
"""

from __future__ import annotations

import asyncio
from typing import Any

from benchmarks.clients._asyncio_common import drive
from benchmarks.workload import Outcome, Payloads, RunSpec

__all__ = ["run"]


async def _main(spec: RunSpec) -> Outcome:
    loop = asyncio.get_running_loop()
    payloads = Payloads(spec)
    key, value, topic = payloads.key, payloads.value, spec.topic

    async def send(topic: str, value: bytes, key: bytes | None) -> asyncio.Future[Any]:
        future = loop.create_future()
        future.set_result((topic, len(value), key))
        return future

    def one(i: int) -> Any:
        return send(topic, value(i), key(i))

    outcome = await drive(spec, one, direct=(send, payloads))
    outcome.note = "no Kafka I/O: the workload's own cost"
    return outcome


def run(name: str, spec: RunSpec) -> Outcome:
    del name
    return asyncio.run(_main(spec))
