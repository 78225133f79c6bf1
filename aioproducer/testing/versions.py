"""The one place where the Apache Kafka version used by the test harness is pinned."""

from __future__ import annotations

__all__ = ["KAFKA_VERSION"]

#: Apache Kafka release whose jars are resolved from Maven Central.
KAFKA_VERSION = "4.4.0"
