"""aioproducer: an asyncio-native Apache Kafka producer."""

from __future__ import annotations

from aioproducer._batch import RecordMetadata, SentRecords
from aioproducer._config import ProducerConfig
from aioproducer._consumer_group import ConsumerGroupMetadata
from aioproducer._oauth import OAuthToken
from aioproducer._options import ProducerOptions
from aioproducer._partitioner import DefaultPartitioner, Partitioner
from aioproducer._producer import Producer
from aioproducer._speedups_status import enabled as speedups_enabled
from aioproducer._version import __version__
from aioproducer.errors import ProducerError

__all__ = [
    "ConsumerGroupMetadata",
    "DefaultPartitioner",
    "OAuthToken",
    "Partitioner",
    "Producer",
    "ProducerConfig",
    "ProducerError",
    "ProducerOptions",
    "RecordMetadata",
    "SentRecords",
    "__version__",
    "speedups_enabled",
]
