"""The scenarios of the benchmark (issue 6; 6 is issue 24's production shape, 7 issue 21's
null keys, 8 issue 19's transactions, 9 issue 18's TLS, 10 scenario 8 on a broker that retries
a transaction's first Produce sooner, 11 scenario 8 without a wait per record) and the clients
that take part in each."""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmarks.workload import RunSpec

__all__ = [
    "BATCH_VARIANTS",
    "CLIENT_LABELS",
    "SCENARIOS",
    "SECURE_CLIENTS",
    "Scenario",
    "base_client",
    "baseline_client",
    "variant",
]

#: A client name's suffix -> the batch size that client variant runs with (scenario 6: the
#: same batch size for every client, beside each client's default); None: the client's own
#: default, in a scenario that sets one (aioproducer-default in scenario 3: up to 1 MiB).
BATCH_VARIANTS: dict[str, int | None] = {"-16k": 16 * 1024, "-1m": 1024 * 1024, "-default": None}

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
    "aioproducer-16k": "aioproducer, batch_size 16 KiB, a fixed cap (scenario 6)",
    "aioproducer-1m": "aioproducer, batch_size 1 MiB (scenario 6)",
    "aioproducer-default": "aioproducer, batch_size left at its default (batches of up to 1 MiB)",
    "aiokafka-1m": "aiokafka, max_batch_size 1 MiB (scenario 6)",
    "confluent-sync-16k": "confluent-kafka Producer, batch.size 16 KiB (scenario 6)",
    "confluent-sync-1m": "confluent-kafka Producer, batch.size 1 MiB (scenario 6)",
    "java-1m": "Java ProducerPerformance, batch.size 1 MiB (scenario 6)",
    "aioproducer-tls": "aioproducer over SASL_SSL (TLS + SCRAM-SHA-256)",
    "aiokafka-tls": "aiokafka over SASL_SSL (TLS + SCRAM-SHA-256)",
}

#: Clients that connect to the secure broker's SASL_SSL listener (scenario 9).
SECURE_CLIENTS: frozenset[str] = frozenset({"aioproducer-tls", "aiokafka-tls"})


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
    brokers: int = 1  # a local cluster of this many brokers (all scenarios of 1 share one)
    replication: int = 1
    partitions: int = 6
    topic_config: tuple[tuple[str, str], ...] = ()
    client_defaults: bool = False  # linger and batch size: each client's own default
    half_repetitive: bool = False
    ack_latency: bool = False  # throughput first, and send->ack latency per record beside it
    transaction_records: int = 0  # records per transaction; 0 is no transactions
    record_waits: bool = True  # transactions: False sends and commits only (RunSpec's)
    secure: bool = False  # needs the harness's secure broker (SASL_SSL listener)
    broker_config: tuple[tuple[str, str], ...] = ()  # a local broker of its own, with these
    #: 0: one uncounted run of the first client warms the broker up; otherwise every client
    #: has an uncounted run of this many records first (the broker's transaction paths
    #: keep getting faster for about a thousand transactions: its JIT)
    warm_up_records: int = 0

    def spec(
        self,
        bootstrap: str,
        topic: str,
        quick: bool,
        kafka_libs: str | None,
        *,
        warm_up: bool = False,
    ) -> RunSpec:
        if warm_up and self.warm_up_records and not quick:
            records = self.warm_up_records
        elif self.rate:
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
            linger_ms=None if self.client_defaults else self.linger_ms,
            batch_size=None if self.client_defaults else 16384,
            partitions=self.partitions,
            half_repetitive=self.half_repetitive,
            ack_latency=self.ack_latency,
            compression=self.compression,
            idempotent=self.idempotent,
            rate=self.rate,
            concurrency=self.concurrency,
            transaction_records=self.transaction_records,
            record_waits=self.record_waits,
            kafka_libs=kafka_libs,
        )


_STANDARD = ("aioproducer", "aiokafka", "confluent-aio", "confluent-sync", "kafka-python", "java")

_TRANSACTIONS = Scenario(
    8,
    "Transactions: 50 of 1,000 records each, 100 B values, acks=all, linger 5 ms",
    ("aioproducer", "confluent-sync", "aiokafka"),
    records=50_000,
    quick_records=10_000,
    acks="all",
    idempotent=True,
    transaction_records=1000,
    warm_up_records=500_000,
)

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
        (*_STANDARD, "aioproducer-default"),
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
    6: Scenario(
        6,
        "Production shape: 3 brokers, RF=3, min.insync.replicas=2, acks=all, idempotent, lz4, "
        "1 KiB keyed values (half random), 12 partitions, each client's default linger and "
        "batch size; -16k/-1m rows: that batch size",
        (
            "aioproducer",
            "aioproducer-16k",
            "aioproducer-1m",
            "aiokafka",
            "aiokafka-1m",
            "confluent-aio",
            "confluent-sync",
            "confluent-sync-16k",
            "confluent-sync-1m",
            "kafka-python",
            "java",
            "java-1m",
        ),
        records=100_000,
        quick_records=20_000,
        value_size=1024,
        acks="all",
        compression="lz4",
        idempotent=True,
        brokers=3,
        replication=3,
        partitions=12,
        topic_config=(("min.insync.replicas", "2"),),
        client_defaults=True,
        half_repetitive=True,
        ack_latency=True,
    ),
    7: Scenario(
        7,
        "Null keys: scenario 1 without keys (sticky partitioning), adaptive on and off",
        ("aioproducer-uniform", "aioproducer"),
        records=1_000_000,
        quick_records=100_000,
        key_size=0,
    ),
    8: _TRANSACTIONS,
    9: Scenario(
        9,
        "TLS: scenario 1 over SASL_SSL (SCRAM-SHA-256), beside aioproducer in plain text",
        ("aioproducer-tls", "aiokafka-tls", "aioproducer"),
        records=1_000_000,
        quick_records=100_000,
        secure=True,
    ),
    10: replace(
        _TRANSACTIONS,
        number=10,
        title="Transactions as scenario 8, on a broker with "
        "add.partitions.to.txn.retry.backoff.ms=1 (Kafka's default is 20), the same broker "
        "for every client",
        broker_config=(("add.partitions.to.txn.retry.backoff.ms", "1"),),
    ),
    11: replace(
        _TRANSACTIONS,
        number=11,
        title="Transactions as scenario 8, written as the issue's example: each record sent "
        "and the transaction committed, no wait per record (the commit's success is the "
        "proof)",
        record_waits=False,
    ),
}


def base_client(client: str) -> str:
    """The client that runs ``client``: itself, or the base of a batch-size variant."""
    for suffix in BATCH_VARIANTS:
        if client.endswith(suffix):
            return client.removesuffix(suffix)
    return client


def variant(client: str, spec: RunSpec) -> tuple[str, RunSpec]:
    """The client that runs ``client`` and its spec (a name from :data:`BATCH_VARIANTS`:
    the base client at that batch size)."""
    for suffix, batch_size in BATCH_VARIANTS.items():
        if client.endswith(suffix):
            return client.removesuffix(suffix), replace(spec, batch_size=batch_size)
    return client, spec


def baseline_client(scenario: Scenario) -> str:
    """The client every other one is compared with: aioproducer's bulk path in scenario 5."""
    return scenario.clients[0]
