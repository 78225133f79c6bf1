"""A FastAPI service that writes one Kafka record per request.

The lifespan starts the producer before the first request and closes it after the last:
``close()`` delivers every record still queued, so a graceful stop (SIGTERM or SIGINT)
loses nothing a response acknowledged. A dependency hands the producer to the endpoints.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 KAFKA_TOPIC=events \\
        uvicorn examples.fastapi_app:app --host 127.0.0.1 --port 8000 --loop uvloop

    curl -X POST -H 'x-key: user-1' --data 'hello' http://127.0.0.1:8000/events
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request

from aioproducer import Producer

BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
TOPIC = os.environ.get("KAFKA_TOPIC", "events")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One producer for the whole process, closed (and so flushed) at shutdown."""
    async with Producer(bootstrap_servers=BOOTSTRAP_SERVERS, client_id="fastapi-app") as producer:
        app.state.producer = producer
        yield


def get_producer(request: Request) -> Producer:
    """The dependency: the producer the lifespan started."""
    producer: Producer = request.app.state.producer
    return producer


ProducerDep = Annotated[Producer, Depends(get_producer)]
app = FastAPI(lifespan=lifespan)


@app.post("/events")
async def post_event(
    request: Request, producer: ProducerDep, x_key: Annotated[str | None, Header()] = None
) -> dict[str, object]:
    """Send the request body as a record; answer once Kafka acknowledged it."""
    key = x_key.encode() if x_key is not None else None
    metadata = await producer.send_and_wait(TOPIC, await request.body(), key=key)
    return {"topic": metadata.topic, "partition": metadata.partition, "offset": metadata.offset}


@app.get("/health")
async def health() -> dict[str, str]:
    """Liveness, and which event loop runs the app (asyncio's or uvloop's)."""
    return {"loop": type(asyncio.get_running_loop()).__module__}
