"""Every producer setting, declared once: one :class:`Setting` row in :data:`SETTINGS`.

A row gives the setting's name, the type a user may pass, its default, the check of its value
alone, the Java producer's property name and a one-line doc. From the table come
:class:`~aioproducer._config.ProducerConfig`'s attributes and per-setting checks, the property
names ``ProducerConfig.from_mapping`` accepts, ``options()``, and two generated files:
aioproducer/_options.py (the typed keyword arguments, ``tools/generate_options.py``) and
docs/configuration.md (``tools/generate_config_docs.py``). Rules between settings (idempotence,
delivery timeout, compression level, security, TLS, partitioner) are ProducerConfig's code.

To add a setting: add its row, its rules in _config.py if it has any, then run both generators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aioproducer import _checks as checks
from aioproducer._checks import INT32_MAX, INT64_MAX, Check
from aioproducer.errors import ConfigurationError

__all__ = ["SETTINGS", "Setting"]


@dataclass(frozen=True, slots=True)
class Setting:
    """One producer setting."""

    name: str
    #: What a user may pass, as a type expression (the keyword argument's type).
    type: str
    default: object
    #: Validates and normalises the value alone; None when only the rules between settings
    #: in ProducerConfig check it (compression_type and compression_level, together).
    check: Check | None
    #: The Java producer's property of the same meaning, or None where Java has none
    #: (``from_mapping`` accepts the snake_case name with dots too).
    java: str | None
    #: One line for docs/configuration.md (Markdown).
    doc: str
    #: ProducerConfig's attribute type when the check normalises to another type.
    value_type: str = ""
    #: Other snake_case names accepted for it (aiokafka's).
    aliases: tuple[str, ...] = ()
    #: Kept out of reprs (passwords, token providers).
    secret: bool = False

    @property
    def attribute_type(self) -> str:
        """ProducerConfig's attribute type."""
        return self.value_type or self.type

    def from_string(self, value: object) -> object:
        """A properties-file string converted as Java's ConfigDef would, for int and bool
        settings; any other value as it is."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        kind = self.type.removesuffix(" | None")
        if kind == "int":
            try:
                return int(text)
            except ValueError:
                raise ConfigurationError(f"{self.name} must be an int, not {value!r}") from None
        if kind == "bool":
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            raise ConfigurationError(f"{self.name} must be true or false, not {value!r}")
        return value


# -- the table ----------------------------------------------------------------------------------

_MS = checks.integer(0, INT64_MAX)  # a duration in milliseconds

SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "bootstrap_servers",
        "str | Iterable[str | tuple[str, int]]",
        "localhost:9092",
        checks.servers,
        "bootstrap.servers",
        "Brokers to fetch the cluster's metadata from first: `host[:port]`, comma-separated "
        "or a list; port 9092 by default, IPv6 in brackets.",
        value_type="tuple[tuple[str, int], ...]",
    ),
    Setting(
        "client_id",
        "str",
        "aioproducer",
        checks.text,
        "client.id",
        "Sent with every request; brokers use it in logs and quotas.",
    ),
    Setting(
        "acks",
        "int | str",
        "all",
        checks.acks,
        "acks",
        "`all` (or -1): the leader answers once every in-sync replica has the batch; `1`: once "
        "the leader has written it; `0`: no answer at all (offsets are -1).",
        value_type="int",
    ),
    Setting(
        "linger_ms",
        "int",
        5,
        _MS,
        "linger.ms",
        "How long a batch that is not full waits for more records before it may be sent.",
    ),
    Setting(
        "batch_size",
        "int | None",
        None,
        checks.optional(checks.integer(0)),
        "batch.size",
        "Bytes per partition batch; a full batch is sent without waiting for `linger_ms`. "
        "None (default): a batch may hold up to `max_request_size`, at most 1 MiB and a "
        "quarter of `buffer_memory`, as librdkafka's 1 MB batches, and leaves after `linger_ms` as "
        "ever; the sticky partitioner and `send()`'s yields count 16384 bytes (Java's "
        "default). A number is a fixed cap, as in Java "
        "([Tuning](tuning.md#the-default-batch_size-large-batches-linger_ms-decides)).",
        value_type="int",
    ),
    Setting(
        "buffer_memory",
        "int",
        32 * 1024 * 1024,
        checks.integer(0, INT64_MAX),
        "buffer.memory",
        "Bytes of records queued but not yet acknowledged; `send()` waits while it is used up "
        "(32 MiB by default).",
    ),
    Setting(
        "max_block_ms",
        "int",
        60_000,
        _MS,
        "max.block.ms",
        "How long `send()` and `start()` may wait for metadata or for `buffer_memory`; then "
        "`UnknownTopicError` or `BufferFullError`.",
    ),
    Setting(
        "compression_type",
        "str | int | None",
        "none",
        None,
        "compression.type",
        "`none`, `gzip`, `snappy`, `lz4` or `zstd`; one batch is compressed as a whole.",
        value_type="CompressionType",
    ),
    Setting(
        "compression_level",
        "int | None",
        None,
        None,
        None,
        "The codec's level (None: the codec's default); the Java names "
        "`compression.gzip.level`, `compression.lz4.level` and `compression.zstd.level` work "
        "too.",
    ),
    Setting(
        "max_in_flight_requests_per_connection",
        "int",
        5,
        checks.integer(1),
        "max.in.flight.requests.per.connection",
        "Produce requests awaiting an answer per broker; more than 5 switches idempotence off.",
    ),
    Setting(
        "retries",
        "int",
        INT32_MAX,
        checks.integer(0),
        "retries",
        "How often a batch is retried after a retriable error; `delivery_timeout_ms` is the "
        "bound that matters. 0 switches idempotence off.",
    ),
    Setting(
        "retry_backoff_ms",
        "int",
        100,
        _MS,
        "retry.backoff.ms",
        "The first wait before a retry; it grows exponentially from there.",
    ),
    Setting(
        "retry_backoff_max_ms",
        "int",
        1000,
        _MS,
        "retry.backoff.max.ms",
        "The longest wait between retries.",
    ),
    Setting(
        "delivery_timeout_ms",
        "int | None",
        None,
        checks.optional(checks.integer(0)),
        "delivery.timeout.ms",
        "From `send()` to a final outcome: a record not acknowledged by then fails with "
        "`DeliveryTimeoutError`. Default 120000, raised to `linger_ms + request_timeout_ms` "
        "when that is larger; a smaller value given is an error.",
        value_type="int",
    ),
    Setting(
        "request_timeout_ms",
        "int",
        30_000,
        checks.integer(0),
        "request.timeout.ms",
        "How long one request waits for the broker's answer.",
    ),
    Setting(
        "max_request_size",
        "int",
        1024 * 1024,
        checks.integer(0),
        "max.request.size",
        "The largest Produce request, and so the largest record, in bytes.",
    ),
    Setting(
        "metadata_max_age_ms",
        "int",
        300_000,
        _MS,
        "metadata.max.age.ms",
        "Cluster metadata is refreshed at least this often.",
    ),
    Setting(
        "metadata_max_idle_ms",
        "int",
        300_000,
        checks.integer(5000, INT64_MAX),  # Java's atLeast(5000)
        "metadata.max.idle.ms",
        "A topic not sent to for this long is forgotten: no longer named in Metadata requests "
        "(at least 5000).",
    ),
    Setting(
        "connections_max_idle_ms",
        "int",
        540_000,
        checks.integer(-1, INT64_MAX),
        "connections.max.idle.ms",
        "An idle connection is closed after this long (-1: never).",
    ),
    Setting(
        "reconnect_backoff_ms",
        "int",
        50,
        _MS,
        "reconnect.backoff.ms",
        "The first wait before reconnecting to a broker.",
    ),
    Setting(
        "reconnect_backoff_max_ms",
        "int",
        1000,
        _MS,
        "reconnect.backoff.max.ms",
        "The longest wait before reconnecting.",
    ),
    Setting(
        "metrics_num_samples",
        "int",
        2,
        checks.integer(1),
        "metrics.num.samples",
        "How many time windows `metrics()` rates, averages and maxima cover (Java's "
        "`metrics.num.samples`).",
    ),
    Setting(
        "metrics_sample_window_ms",
        "int",
        30_000,
        checks.integer(1, INT64_MAX),
        "metrics.sample.window.ms",
        "The length of one of those windows (Java's `metrics.sample.window.ms`): rates are "
        "over the last `metrics_num_samples` windows.",
    ),
    Setting(
        "enable_metrics_push",
        "bool",
        True,
        checks.boolean,
        "enable.metrics.push",
        "Push the producer's metrics to the cluster when it asks for them (KIP-714: a broker "
        "with a client-metrics reporter and a subscription); off the path of records, and "
        "nothing is sent to a cluster that asks for none (see "
        "[Client metrics pushed to the cluster](telemetry.md)).",
    ),
    Setting(
        "partitioner",
        "Partitioner | str | None",
        None,
        checks.partitioner,
        "partitioner.class",
        "An object with `partition()` and `on_append()` (see `aioproducer.Partitioner`); None: "
        "Java's murmur2 for keys, sticky spreading without.",
        value_type='Partitioner | Literal["round_robin"] | None',
        aliases=("partitioner_class",),
    ),
    Setting(
        "partitioner_ignore_keys",
        "bool",
        False,
        checks.boolean,
        "partitioner.ignore.keys",
        "Spread keyed records as if they had no key (sticky), instead of hashing the key "
        "(Java's `partitioner.ignore.keys`).",
    ),
    Setting(
        "partitioner_adaptive_partitioning_enable",
        "bool",
        True,
        checks.boolean,
        "partitioner.adaptive.partitioning.enable",
        "When a new sticky partition is drawn for records without a key, weight partitions "
        "by the inverse of their queue of unsent batches, so a slow broker gets fewer "
        "(KIP-794).",
    ),
    Setting(
        "partitioner_availability_timeout_ms",
        "int",
        0,
        _MS,
        "partitioner.availability.timeout.ms",
        "With adaptive partitioning: a partition whose leader took no batch for this long "
        "while batches waited is left out of the draw (0: off).",
    ),
    Setting(
        "key_serializer",
        "SerializerLike | None",
        None,
        checks.callable_or_none,
        "key.serializer",
        "A callable turning each key given to `send()` into bytes or None.",
        value_type="Serializer | None",
    ),
    Setting(
        "value_serializer",
        "SerializerLike | None",
        None,
        checks.callable_or_none,
        "value.serializer",
        "A callable turning each value given to `send()` into bytes or None.",
        value_type="Serializer | None",
    ),
    Setting(
        "enable_idempotence",
        "bool | None",
        None,
        checks.optional_boolean,
        "enable.idempotence",
        "None (default): on unless `acks` is 0 or 1, `retries=0` or more than 5 in flight; "
        "True together with one of those is a `ConfigurationError`.",
        value_type="bool",
    ),
    Setting(
        "transactional_id",
        "str | None",
        None,
        checks.optional_name,
        "transactional.id",
        "Makes the producer transactional (see [Transactions](transactions.md)): `send()` "
        "works only inside a transaction; needs idempotence.",
    ),
    Setting(
        "transaction_timeout_ms",
        "int",
        60_000,
        checks.integer(1),
        "transaction.timeout.ms",
        "How long the transaction coordinator lets a transaction stay open before it aborts "
        "it; at most the broker's `transaction.max.timeout.ms`.",
    ),
    Setting(
        "security_protocol",
        "str",
        "PLAINTEXT",
        checks.security_protocol,
        "security.protocol",
        "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (see [Security](security.md)).",
    ),
    Setting(
        "sasl_mechanism",
        "str | None",
        None,
        checks.sasl_mechanism,
        "sasl.mechanism",
        "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER` (with "
        "`sasl_oauth_token_provider`) or `GSSAPI` (Kerberos; needs `pip install "
        "'aioproducer[gssapi]'`).",
    ),
    Setting(
        "sasl_username",
        "str | None",
        None,
        checks.optional_text,
        None,
        "The SASL user (alias `sasl_plain_username`; or Java's `sasl.jaas.config`).",
        aliases=("sasl_plain_username",),
    ),
    Setting(
        "sasl_password",
        "str | None",
        None,
        checks.secret,
        None,
        "The SASL password (alias `sasl_plain_password`); never shown in reprs, logs or errors.",
        aliases=("sasl_plain_password",),
        secret=True,
    ),
    Setting(
        "sasl_oauth_token_provider",
        "TokenProvider | None",
        None,
        checks.token_provider,
        None,
        'For `sasl_mechanism="OAUTHBEARER"`: a callable, sync or async, returning an '
        "`OAuthToken(token, expires_at_ms)` or a `(token, expires_at_ms)` pair, or an object "
        "with a `token()` method (aiokafka's `AbstractTokenProvider`). Called again once 80% "
        "of a token's lifetime has passed; see docs/security.md.",
        secret=True,
    ),
    Setting(
        "sasl_kerberos_service_name",
        "str",
        "kafka",
        checks.required_name,
        "sasl.kerberos.service.name",
        'For `sasl_mechanism="GSSAPI"`: the service part of the brokers\' Kerberos principal '
        "(`<service>/<host>@REALM`).",
    ),
    Setting(
        "sasl_kerberos_domain_name",
        "str | None",
        None,
        checks.optional_name,
        None,
        'For `sasl_mechanism="GSSAPI"`: the host part of the brokers\' principal, instead of '
        "each broker's host name (aiokafka's name; Java has none).",
    ),
    Setting(
        "ssl_context",
        "ssl.SSLContext | None",
        None,
        checks.ssl_context,
        None,
        "An `ssl.SSLContext` you built, used as it is for SSL and SASL_SSL (the `ssl_*` file "
        "settings then must not be given).",
    ),
    Setting(
        "ssl_cafile",
        "str | None",
        None,
        checks.file_name,
        "ssl.truststore.location",
        "PEM file of the certificate authorities the broker's certificate must chain to (Java: "
        "`ssl.truststore.location` with `ssl.truststore.type=PEM`).",
    ),
    Setting(
        "ssl_certfile",
        "str | None",
        None,
        checks.file_name,
        "ssl.keystore.location",
        "PEM file of the client certificate, for mutual TLS (Java: `ssl.keystore.location` "
        "with `ssl.keystore.type=PEM`).",
    ),
    Setting(
        "ssl_keyfile",
        "str | None",
        None,
        checks.file_name,
        None,
        "PEM file of the client certificate's private key.",
    ),
    Setting(
        "ssl_password",
        "str | None",
        None,
        checks.file_name,
        "ssl.key.password",
        "Password of an encrypted `ssl_keyfile` (never shown in reprs or errors).",
        secret=True,
    ),
    Setting(
        "ssl_check_hostname",
        "bool",
        True,
        checks.boolean,
        "ssl.endpoint.identification.algorithm",
        "Check that the broker's certificate names the host connected to (Java: "
        "`ssl.endpoint.identification.algorithm=https`; empty turns it off).",
    ),
)
