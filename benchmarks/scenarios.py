"""The scenarios of the benchmark (issue 6; 7: issue 21) and the clients that take part in each."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.workload import RunSpec

__all__ = ["CLIENT_LABELS", "SCENARIOS", "Scenario", "baseline_client"]

#: Client name -> what it is, for the tables.
CLIENT_LABELS: dict[str, str] = {
    "aioproducer": "aioproducer: await send(), futures gathered",
    "aioproducer-bulk": "aioproducer: bulk path",
    "aioproducer-uniform": "aioproducer as above, adaptive partitioning off (uniform sticky)",
    "aiokafka": "aiokafka: await send(), futures gathered",
    "aiokafka-batch": "aiokafka: create_batch()/send_batch()",
    "confluent-aio": "confluent-kafka AIOProducer",
    "confluent-sync": "confluent-kafka Producer (sync, produce+poll)",
    "confluent-sync-batch": "confluent-kafka Producer.produce_batch (sync)",
    "kafka-python": "kafka-python KafkaProducer",
    "java": "Java ProducerPerformance (ceiling)",
    "asyncio-floor": "asyncio floor: the workload alone with asyncio futures, no Kafka",
}


@dataclass(frozen=True, slots=True)
class Scenario:
    number: int
    title: str
    clients: tuple[str, ...]
    records: int
    quick_records: int
    value_size: int = 100
    key_size: int = 8
    acks: str = "1"
    linger_ms: int = 5
    compression: str | None = None
    idempotent: bool = False
    rate: int = 0
    seconds: int = 0  # for the paced scenario: records = rate * seconds
    quick_seconds: int = 0
    concurrency: int = 0
    latency: bool = False  # report percentiles rather than throughput first

    def spec(self, bootstrap: str, topic: str, quick: bool, kafka_libs: str | None) -> RunSpec:
        if self.rate:
            records = self.rate * (self.quick_seconds if quick else self.seconds)
        else:
            records = self.quick_records if quick else self.records
        return RunSpec(
            bootstrap=bootstrap,
            topic=topic,
            scenario=self.number,
            records=records,
            value_size=self.value_size,
            key_size=self.key_size,
            acks=self.acks,
            linger_ms=self.linger_ms,
            compression=self.compression,
            idempotent=self.idempotent,
            rate=self.rate,
            concurrency=self.concurrency,
            kafka_libs=kafka_libs,
        )


_STANDARD = ("aioproducer", "aiokafka", "confluent-aio", "confluent-sync", "kafka-python", "java")

SCENARIOS: dict[int, Scenario] = {
    1: Scenario(
        1,
        "Throughput: 100 B values, 8 B keys, 6 partitions, acks=1, linger 5 ms, 16 KiB batches",
        (*_STANDARD, "asyncio-floor"),
        records=1_000_000,
        quick_records=100_000,
    ),
    2: Scenario(
        2,
        "Throughput: 1 KiB values, lz4, acks=all, idempotent where supported",
        (*_STANDARD, "asyncio-floor"),
        records=200_000,
        quick_records=20_000,
        value_size=1024,
        acks="all",
        compression="lz4",
        idempotent=True,
    ),
    3: Scenario(
        3,
        "Latency: 2,000 msg/s, linger 0, acks=1, send->ack per record",
        _STANDARD,
        records=0,
        quick_records=0,
        linger_ms=0,
        rate=2000,
        seconds=10,
        quick_seconds=5,
        latency=True,
    ),
    4: Scenario(
        4,
        "Concurrency: 1,000 tasks each looping send_and_wait",
        ("aioproducer", "aiokafka", "confluent-aio", "confluent-sync", "kafka-python"),
        records=50_000,
        quick_records=10_000,
        concurrency=1000,
    ),
    5: Scenario(
        5,
        "Bulk paths: 100 B values, 8 B keys, acks=1, linger 5 ms",
        (
            "aioproducer-bulk",
            "aioproducer",
            "aiokafka-batch",
            "confluent-sync",
            "confluent-sync-batch",
            "java",
        ),
        records=1_000_000,
        quick_records=100_000,
    ),
    7: Scenario(
        7,
        "Null keys: scenario 1 without keys (sticky partitioning), adaptive on and off",
        ("aioproducer-uniform", "aioproducer"),
        records=1_000_000,
        quick_records=100_000,
        key_size=0,
    ),
}


def baseline_client(scenario: Scenario) -> str:
    """The client every other one is compared with: aioproducer's bulk path in scenario 5."""
    return scenario.clients[0]
