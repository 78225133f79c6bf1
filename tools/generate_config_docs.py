#!/usr/bin/env python3
"""Generate docs/configuration.md from ProducerConfig's declarations.

    python tools/generate_config_docs.py          # rewrite the page if it differs
    python tools/generate_config_docs.py --check  # change nothing; exit 1 with a diff if stale

Names, types and defaults come from ``ProducerConfig.__init__``'s signature; the property
name is the one ``ProducerConfig.from_mapping`` accepts. The one-line descriptions live in
DESCRIPTIONS below until config.py declares each setting as one row with its doc; a setting
without a description, or a description of no setting, is an error.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAGE = REPO / "docs" / "configuration.md"
sys.path.insert(0, str(REPO))

from _generated import update  # noqa: E402

from aioproducer.config import ProducerConfig  # noqa: E402

#: Property names that are not the setting's name with dots (``from_mapping`` takes both).
PROPERTY_NAMES = {"partitioner": "partitioner.class"}

DESCRIPTIONS = {
    "bootstrap_servers": "Brokers to fetch the cluster's metadata from first: `host[:port]`, "
    "comma-separated or a list; port 9092 by default, IPv6 in brackets.",
    "client_id": "Sent with every request; brokers use it in logs and quotas.",
    "acks": "`all` (or -1): the leader answers once every in-sync replica has the batch; "
    "`1`: once the leader has written it; `0`: no answer at all (offsets are -1).",
    "linger_ms": "How long a batch that is not full waits for more records before it may be sent.",
    "batch_size": "Bytes per partition batch; a full batch is sent without waiting for "
    "`linger_ms`. None (default): batches start at 16384 (Java's default) and, for a partition "
    "whose batches are full while its leader has a full window of requests in flight, double "
    "up to `max_request_size` (at most a quarter of `buffer_memory`), halving again when "
    "they are drained less than half full; a number is a fixed cap "
    "([Tuning](tuning.md#batches-that-grow-the-default-batch_size)).",
    "buffer_memory": "Bytes of records queued but not yet acknowledged; `send()` waits while "
    "it is used up (32 MiB by default).",
    "max_block_ms": "How long `send()` and `start()` may wait for metadata or for "
    "`buffer_memory`; then `UnknownTopicError` or `BufferFullError`.",
    "compression_type": "`none`, `gzip`, `snappy`, `lz4` or `zstd`; one batch is compressed "
    "as a whole.",
    "compression_level": "The codec's level (None: the codec's default); the Java names "
    "`compression.gzip.level`, `compression.lz4.level` and `compression.zstd.level` work too.",
    "max_in_flight_requests_per_connection": "Produce requests awaiting an answer per broker; "
    "more than 5 switches idempotence off.",
    "retries": "How often a batch is retried after a retriable error; `delivery_timeout_ms` "
    "is the bound that matters. 0 switches idempotence off.",
    "retry_backoff_ms": "The first wait before a retry; it grows exponentially from there.",
    "retry_backoff_max_ms": "The longest wait between retries.",
    "delivery_timeout_ms": "From `send()` to a final outcome: a record not acknowledged by then "
    "fails with `DeliveryTimeoutError`. Default 120000, raised to `linger_ms + "
    "request_timeout_ms` when that is larger; a smaller value given is an error.",
    "request_timeout_ms": "How long one request waits for the broker's answer.",
    "max_request_size": "The largest Produce request, and so the largest record, in bytes.",
    "metadata_max_age_ms": "Cluster metadata is refreshed at least this often.",
    "ssl_context": "An `ssl.SSLContext` you built, used as it is for SSL and SASL_SSL (the "
    "`ssl_*` file settings then must not be given).",
    "ssl_cafile": "PEM file of the certificate authorities the broker's certificate must "
    "chain to (Java: `ssl.truststore.location` with `ssl.truststore.type=PEM`).",
    "ssl_certfile": "PEM file of the client certificate, for mutual TLS.",
    "ssl_keyfile": "PEM file of the client certificate's private key.",
    "ssl_password": "Password of an encrypted `ssl_keyfile` (never shown in reprs or errors).",
    "ssl_check_hostname": "Check that the broker's certificate names the host connected to "
    "(Java: `ssl.endpoint.identification.algorithm=https`; empty turns it off).",
    "metadata_max_idle_ms": "A topic not sent to for this long is forgotten: no longer named "
    "in Metadata requests (at least 5000).",
    "partitioner_ignore_keys": "Spread keyed records as if they had no key (sticky), instead "
    "of hashing the key (Java's `partitioner.ignore.keys`).",
    "partitioner_adaptive_partitioning_enable": "When a new sticky partition is drawn for "
    "records without a key, weight partitions by the inverse of their queue of unsent "
    "batches, so a slow broker gets fewer (KIP-794).",
    "partitioner_availability_timeout_ms": "With adaptive partitioning: a partition whose "
    "leader took no batch for this long while batches waited is left out of the draw (0: off).",
    "connections_max_idle_ms": "An idle connection is closed after this long (-1: never).",
    "reconnect_backoff_ms": "The first wait before reconnecting to a broker.",
    "reconnect_backoff_max_ms": "The longest wait before reconnecting.",
    "metrics_num_samples": "How many time windows `metrics()` rates, averages and maxima "
    "cover (Java's `metrics.num.samples`).",
    "metrics_sample_window_ms": "The length of one of those windows (Java's "
    "`metrics.sample.window.ms`): rates are over the last `metrics_num_samples` windows.",
    "enable_metrics_push": "Push the producer's metrics to the cluster when it asks for them "
    "(KIP-714: a broker with a client-metrics reporter and a subscription); off the path of "
    "records, and nothing is sent to a cluster that asks for none (see "
    "[Client metrics pushed to the cluster](telemetry.md)).",
    "partitioner": "An object with `partition()` and `on_append()` (see "
    "`aioproducer.Partitioner`); None: Java's murmur2 for keys, sticky spreading without.",
    "key_serializer": "A callable turning each key given to `send()` into bytes or None.",
    "value_serializer": "A callable turning each value given to `send()` into bytes or None.",
    "enable_idempotence": "None (default): on unless `acks` is 0 or 1, `retries=0` or more "
    "than 5 in flight; True together with one of those is a `ConfigurationError`.",
    "transactional_id": "Makes the producer transactional (see [Transactions](transactions.md)): "
    "`send()` works only inside a transaction; needs idempotence.",
    "transaction_timeout_ms": "How long the transaction coordinator lets a transaction stay "
    "open before it aborts it; at most the broker's `transaction.max.timeout.ms`.",
    "security_protocol": "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (see "
    "[Security](security.md)).",
    "sasl_mechanism": "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` (with "
    "`sasl_oauth_token_provider`) or `GSSAPI` (Kerberos; needs `pip install "
    "'aioproducer[gssapi]'`).",
    "sasl_username": "The SASL user (alias `sasl_plain_username`; or Java's `sasl.jaas.config`).",
    "sasl_password": "The SASL password (alias `sasl_plain_password`); never shown in reprs, "
    "logs or errors.",
    "sasl_oauth_token_provider": 'For `sasl_mechanism="OAUTHBEARER"`: a callable, sync or async, '
    "returning an `OAuthToken(token, expires_at_ms)` or a `(token, expires_at_ms)` pair, or an "
    "object with a `token()` method (aiokafka's `AbstractTokenProvider`). Called again once "
    "80% of a token's lifetime has passed; see docs/security.md.",
    "sasl_kerberos_service_name": 'For `sasl_mechanism="GSSAPI"`: the service part of the '
    "brokers' Kerberos principal (`<service>/<host>@REALM`).",
    "sasl_kerberos_domain_name": 'For `sasl_mechanism="GSSAPI"`: the host part of the '
    "brokers' principal, instead of each broker's host name (aiokafka's name; Java has none).",
}

HEADER = """\
<!-- Generated by tools/generate_config_docs.py from aioproducer/config.py: do not edit. -->
# Configuration reference

Every setting is a keyword argument of `Producer(...)` and of
[`ProducerConfig`](reference/config.md), named as the Java producer's property in
snake_case. A mapping of property names works too, as in
`Producer({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": "5"})`: string values are
converted as Java's `ConfigDef` converts them, and an unknown name raises
`ConfigurationError` naming it. Every value is checked when the producer is built; a wrong
one raises `ConfigurationError` (also a `ValueError`) naming the setting.

| setting | property name | type | default | what it does |
|---|---|---|---|---|
"""


def render() -> str:
    """The page's text; raises KeyError/ValueError when DESCRIPTIONS and the code differ."""
    parameters = [
        p
        for p in inspect.signature(ProducerConfig.__init__).parameters.values()
        if p.name != "self"
    ]
    names = [p.name for p in parameters]
    missing = [name for name in names if name not in DESCRIPTIONS]
    extra = sorted(set(DESCRIPTIONS) - set(names))
    if missing or extra:
        msg = f"DESCRIPTIONS lacks {missing} and describes no setting named {extra}"
        raise ValueError(msg)
    rows = []
    for p in parameters:
        prop = PROPERTY_NAMES.get(p.name, p.name.replace("_", "."))
        default = "None" if p.default is None else repr(p.default)
        cells = [f"`{p.name}`", f"`{prop}`", f"`{p.annotation}`", f"`{default}`"]
        rows.append("| " + " | ".join([*cells, DESCRIPTIONS[p.name]]) + " |")
    return HEADER + "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 with a diff if stale"
    )
    args = parser.parse_args(argv)
    try:
        text = render()
    except ValueError as exc:
        print(f"generate_config_docs: {exc}", file=sys.stderr)
        return 2
    return update(PAGE, text, "generate_config_docs", check=args.check, repo=REPO)


if __name__ == "__main__":
    sys.exit(main())
