"""An aiohttp service that writes one Kafka record per request.

A ``cleanup_ctx`` generator starts the producer before the server accepts requests and closes
it after the last one has been answered: ``close()`` delivers every record still queued, so a
graceful stop (SIGTERM or SIGINT) loses nothing a response acknowledged.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 KAFKA_TOPIC=events \\
        python examples/aiohttp_app.py --port 8080 --loop uvloop

    curl -X POST -H 'x-key: user-1' --data 'hello' http://127.0.0.1:8080/events
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator

from aiohttp import web

from aioproducer import Producer

BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
TOPIC = os.environ.get("KAFKA_TOPIC", "events")
PRODUCER = web.AppKey("producer", Producer)


async def producer_ctx(app: web.Application) -> AsyncIterator[None]:
    """One producer for the whole process, closed (and so flushed) at cleanup."""
    async with Producer(bootstrap_servers=BOOTSTRAP_SERVERS, client_id="aiohttp-app") as producer:
        app[PRODUCER] = producer
        yield


async def post_event(request: web.Request) -> web.Response:
    """Send the request body as a record; answer once Kafka acknowledged it."""
    key = request.headers.get("x-key")
    metadata = await request.app[PRODUCER].send_and_wait(
        TOPIC, await request.read(), key=key.encode() if key is not None else None
    )
    return web.json_response(
        {"topic": metadata.topic, "partition": metadata.partition, "offset": metadata.offset}
    )


async def health(request: web.Request) -> web.Response:
    """Liveness, and which event loop runs the app (asyncio's or uvloop's)."""
    return web.json_response({"loop": type(asyncio.get_running_loop()).__module__})


def make_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(producer_ctx)
    app.add_routes([web.post("/events", post_event), web.get("/health", health)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    loop = None
    if args.loop == "uvloop":
        import uvloop  # noqa: PLC0415 - optional: only this choice needs it

        loop = uvloop.new_event_loop()
    # SIGTERM and SIGINT stop accepting, let running handlers finish, then run the cleanup.
    web.run_app(make_app(), host=args.host, port=args.port, loop=loop, print=None)


if __name__ == "__main__":
    main()
