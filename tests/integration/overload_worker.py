"""Run as a process: produce far more than buffer_memory to a throttled client id, then print
peak-RSS figures as JSON (the process's own ``VmHWM``, so nothing else's memory counts)."""

from __future__ import annotations

import asyncio
import json
import sys

from aioproducer import Producer
from aioproducer.testing.process import peak_rss_kb

VALUE = bytes(range(256)) * 4  # 1 KiB


async def main(bootstrap: str, topic: str, client_id: str, buffer_memory: int, count: int) -> None:
    async with Producer(
        bootstrap_servers=bootstrap, client_id=client_id, buffer_memory=buffer_memory
    ) as producer:
        for i in range(1000):  # imports, connections and allocator arenas before measuring
            await producer.send(topic, VALUE, i.to_bytes(4, "big"))
        await producer.flush()
        before = peak_rss_kb() * 1024
        most_waiting = 0

        async def watch() -> None:
            nonlocal most_waiting
            accumulator = producer._accumulator
            assert accumulator is not None
            while True:
                most_waiting = max(most_waiting, accumulator.memory_waiters)
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch())
        for i in range(1000, 1000 + count):
            await producer.send(topic, VALUE, i.to_bytes(4, "big"))  # the future is dropped
        await producer.flush()
        watcher.cancel()
        after = peak_rss_kb() * 1024
    print(json.dumps({"before": before, "after": after, "waited_for_memory": most_waiting > 0}))


if __name__ == "__main__":
    bootstrap, topic, client_id, buffer_memory, count = sys.argv[1:6]
    asyncio.run(main(bootstrap, topic, client_id, int(buffer_memory), int(count)))
