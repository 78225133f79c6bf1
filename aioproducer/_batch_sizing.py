"""The capacity of each new batch: the bytes (uncompressed, header included) it may hold.

An explicit ``batch_size`` is that capacity, as in Java. Left at its default, a batch may
hold ``max_request_size`` bytes, at most 1 MiB (a broker takes batches of up to 1 MiB by
default) and at most a quarter of ``buffer_memory``: the model of librdkafka and franz-go
(about 1 MB batches). A batch still leaves once ``linger_ms`` has passed since its first
record (or when it is full, or a flush begins), so a partition that does not receive 16 KiB
within ``linger_ms`` sends the same batches, as soon, as it would with Java's 16 KiB. Only a
partition that does, a producer that outpaces its brokers, gets larger batches, and so fewer
and larger requests: with replication, what the brokers spend per record falls by a quarter
to a half (docs/tuning.md has the figures). A batch's buffer grows with what it holds and
``buffer_memory`` is charged what it holds, so a large capacity reserves nothing up front.

(Batches that grew 4x per batch opened behind a queued one, from 16 KiB, and halved when
drained less than half full, were measured against this in scenario 6 and left: the machine
spent 1.3-1.7x as much CPU per record, and the producer ran at 0.62-0.79x.)
"""

from __future__ import annotations

from typing import Final

from aioproducer._config import ProducerConfig

__all__ = ["batch_capacity"]

_BUFFER_SHARE: Final = 4
"""A batch holds at most this fraction (1/n) of ``buffer_memory``."""

_LARGEST: Final = 1 << 20
"""The default capacity's cap: a broker's default ``message.max.bytes`` is 1 MiB (and a
few bytes), so a larger ``max_request_size`` alone would make batches it refuses and
splits."""


def batch_capacity(config: ProducerConfig) -> int:
    """The capacity of every new batch of a producer with ``config``."""
    if not config.batch_size_defaulted:
        return config.batch_size
    ceiling = min(config.max_request_size, _LARGEST, config.buffer_memory // _BUFFER_SHARE)
    return max(config.batch_size, ceiling)
