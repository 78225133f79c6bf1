"""aioproducer: an asyncio-native Apache Kafka producer."""

from __future__ import annotations

from aioproducer._version import __version__
from aioproducer.batch import RecordMetadata, SentRecords
from aioproducer.config import ProducerConfig
from aioproducer.consumer_group import ConsumerGroupMetadata
from aioproducer.errors import ProducerError
from aioproducer.oauth import OAuthToken
from aioproducer.partitioner import DefaultPartitioner, Partitioner
from aioproducer.producer import Producer
from aioproducer.speedups import enabled as speedups_enabled

__all__ = [
    "ConsumerGroupMetadata",
    "DefaultPartitioner",
    "OAuthToken",
    "Partitioner",
    "Producer",
    "ProducerConfig",
    "ProducerError",
    "RecordMetadata",
    "SentRecords",
    "__version__",
    "speedups_enabled",
]
