"""ProducerConfig: Java defaults, validation table, Java property names, cross-field rules."""

from __future__ import annotations

import importlib.util
import pickle
import sys

import pytest

from aioproducer._config import ProducerConfig, build_config, parse_bootstrap_servers
from aioproducer._kerberos import GssapiCredentials
from aioproducer._partitioner import DefaultPartitioner
from aioproducer._protocol.compression import CompressionType
from aioproducer.errors import ConfigurationError


def test_java_defaults() -> None:
    config = ProducerConfig()
    assert config.bootstrap_servers == (("localhost", 9092),)
    assert config.acks == -1
    assert config.linger_ms == 5
    assert config.batch_size == 16384
    assert config.buffer_memory == 32 * 1024 * 1024
    assert config.max_block_ms == 60_000
    assert config.compression_type is CompressionType.NONE
    assert config.compression_level is None
    assert config.max_in_flight_requests_per_connection == 5
    assert config.retries == 2147483647
    assert config.retry_backoff_ms == 100
    assert config.retry_backoff_max_ms == 1000
    assert config.delivery_timeout_ms == 120_000
    assert config.request_timeout_ms == 30_000
    assert config.max_request_size == 1048576
    assert config.metadata_max_age_ms == 300_000
    assert config.metadata_max_idle_ms == 300_000
    assert config.connections_max_idle_ms == 540_000
    assert config.reconnect_backoff_ms == 50
    assert config.reconnect_backoff_max_ms == 1000
    assert config.enable_idempotence is True
    assert config.transactional_id is None
    assert config.partitioner is None
    assert config.key_serializer is None
    assert config.value_serializer is None
    assert config.security_protocol == "PLAINTEXT"


def test_frozen_and_equal() -> None:
    config = ProducerConfig(linger_ms=7)
    with pytest.raises(AttributeError):
        config.linger_ms = 8  # type: ignore[misc]
    assert config == ProducerConfig(linger_ms=7)
    assert hash(config) == hash(ProducerConfig(linger_ms=7))
    assert pickle.loads(pickle.dumps(config)) == config


@pytest.mark.parametrize(
    ("acks", "expected"), [("all", -1), (-1, -1), ("-1", -1), (0, 0), ("0", 0), (1, 1), ("1", 1)]
)
def test_acks_normalised(acks: int | str, expected: int) -> None:
    assert ProducerConfig(acks=acks, enable_idempotence=expected == -1).acks == expected


@pytest.mark.parametrize("codec", ["gzip", "GZIP", "snappy", "lz4", "zstd", "none", None])
def test_compression_names(codec: str | None) -> None:
    expected = CompressionType.parse(codec)
    assert ProducerConfig(compression_type=codec).compression_type is expected


# Every invalid value raises ConfigurationError, and the message names the field.
INVALID: list[tuple[str, object]] = [
    ("bootstrap_servers", ""),
    ("bootstrap_servers", []),
    ("bootstrap_servers", "host:notaport"),
    ("bootstrap_servers", "host:0"),
    ("bootstrap_servers", "host:70000"),
    ("bootstrap_servers", "::1:9092"),
    ("bootstrap_servers", 9092),
    ("bootstrap_servers", [("host", "9092")]),
    ("client_id", 5),
    ("acks", 2),
    ("acks", "none"),
    ("acks", True),
    ("linger_ms", -1),
    ("linger_ms", 1.5),
    ("linger_ms", "5"),
    ("linger_ms", True),
    ("batch_size", -1),
    ("batch_size", 2**31),
    ("buffer_memory", -1),
    ("max_block_ms", -5),
    ("compression_type", "brotli"),
    ("compression_type", 9),
    ("compression_level", 5),  # no level for "none"
    ("max_in_flight_requests_per_connection", 0),
    ("retries", -1),
    ("retries", 2**31),
    ("retry_backoff_ms", -1),
    ("retry_backoff_max_ms", -1),
    ("delivery_timeout_ms", -1),
    ("request_timeout_ms", -1),
    ("max_request_size", -1),
    ("metadata_max_age_ms", -1),
    ("metadata_max_idle_ms", 4999),  # Java's minimum is 5000
    ("metadata_max_idle_ms", "300000"),
    ("connections_max_idle_ms", -2),
    ("reconnect_backoff_ms", -1),
    ("reconnect_backoff_max_ms", -1),
    ("partitioner", object()),
    ("key_serializer", "org.apache.kafka.common.serialization.StringSerializer"),
    ("value_serializer", 42),
    ("enable_idempotence", "yes"),
    ("transactional_id", ""),
    ("security_protocol", "TLS"),
    ("sasl_mechanism", "GSSAPI"),
]


@pytest.mark.parametrize(("name", "value"), INVALID, ids=[f"{n}={v!r}" for n, v in INVALID])
def test_invalid_value_names_the_field(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        ProducerConfig(**{name: value})  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    assert name in str(info.value)


def test_compression_level_for_codec() -> None:
    config = ProducerConfig(compression_type="zstd", compression_level=10)
    assert config.compression_level == 10
    with pytest.raises(ConfigurationError, match="compression"):
        ProducerConfig(compression_type="gzip", compression_level=10)


# -- idempotence: Java's rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, True),
        ({"acks": "all"}, True),
        ({"acks": 1}, False),
        ({"acks": 0}, False),
        ({"max_in_flight_requests_per_connection": 6}, False),
        ({"max_in_flight_requests_per_connection": 5}, True),
        ({"retries": 0}, False),
        ({"enable_idempotence": False}, False),
        ({"enable_idempotence": True}, True),
    ],
)
def test_idempotence_default(options: dict[str, object], expected: bool) -> None:
    assert ProducerConfig(**options).enable_idempotence is expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"acks": 1}, "acks=1"),
        ({"acks": 0}, "acks=0"),
        ({"max_in_flight_requests_per_connection": 6}, "max_in_flight"),
        ({"retries": 0}, "retries=0"),
    ],
)
def test_explicit_idempotence_conflicts(options: dict[str, object], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        ProducerConfig(enable_idempotence=True, **options)  # type: ignore[arg-type]


def test_transactional_id_needs_idempotence() -> None:
    with pytest.raises(ConfigurationError, match="needs idempotence"):
        ProducerConfig(transactional_id="tx", acks=1)
    with pytest.raises(ConfigurationError, match="needs idempotence"):
        ProducerConfig(transactional_id="tx", enable_idempotence=False)


def test_transactional_settings_with_java_names() -> None:
    config = ProducerConfig.from_mapping(
        {"transactional.id": "tx", "transaction.timeout.ms": "30000"}
    )
    assert (config.transactional_id, config.transaction_timeout_ms) == ("tx", 30_000)
    assert config.enable_idempotence
    assert ProducerConfig(transactional_id="tx").transaction_timeout_ms == 60_000  # Java's


@pytest.mark.parametrize("value", [0, -1, 2**31, "60000", None, 1.5, True])
def test_transaction_timeout_is_checked(value: object) -> None:
    with pytest.raises(ConfigurationError, match="transaction_timeout_ms"):
        ProducerConfig(transaction_timeout_ms=value)  # type: ignore[arg-type]


# -- delivery timeout --------------------------------------------------------------------------


def test_delivery_timeout_must_cover_linger_and_request_timeout() -> None:
    with pytest.raises(ConfigurationError, match="delivery_timeout_ms"):
        ProducerConfig(delivery_timeout_ms=30_000, linger_ms=5, request_timeout_ms=30_000)
    config = ProducerConfig(delivery_timeout_ms=30_005, linger_ms=5, request_timeout_ms=30_000)
    assert config.delivery_timeout_ms == 30_005


def test_default_delivery_timeout_grows_with_request_timeout() -> None:
    # Java overrides the default (with a warning) instead of failing
    assert ProducerConfig(request_timeout_ms=200_000).delivery_timeout_ms == 200_005


# -- bootstrap servers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        ("a", (("a", 9092),)),
        ("a:1,b:2", (("a", 1), ("b", 2))),
        (" a:1 , , b ", (("a", 1), ("b", 9092))),
        (["a:1", "b"], (("a", 1), ("b", 9092))),
        ([("a", 1)], (("a", 1),)),
        ("[::1]:9093", (("::1", 9093),)),
        ("[fe80::1%eth0]", (("fe80::1%eth0", 9092),)),
        ("PLAINTEXT://broker:19092", (("broker", 19092),)),
        ("10.0.0.1:9092", (("10.0.0.1", 9092),)),
    ],
)
def test_bootstrap_parsing(servers: str | list[str], expected: tuple[tuple[str, int], ...]) -> None:
    assert parse_bootstrap_servers(servers) == expected


def test_bootstrap_ipv6_without_brackets_hints() -> None:
    with pytest.raises(ConfigurationError, match="brackets"):
        parse_bootstrap_servers("::1:9092")


# -- Java property names and build_config ------------------------------------------------------


def test_java_property_names() -> None:
    config = ProducerConfig.from_mapping(
        {
            "bootstrap.servers": "k1:9092,k2:9093",
            "linger.ms": "20",
            "batch.size": 32768,
            "acks": "1",
            "compression.type": "zstd",
            "compression.zstd.level": "7",
            "max.in.flight.requests.per.connection": "1",
            "enable.idempotence": "false",
            "delivery.timeout.ms": "60000",
            "client.id": "app",
            "metadata.max.idle.ms": "60000",
        }
    )
    assert config.bootstrap_servers == (("k1", 9092), ("k2", 9093))
    assert config.linger_ms == 20
    assert config.batch_size == 32768
    assert config.acks == 1
    assert config.compression_type is CompressionType.ZSTD
    assert config.compression_level == 7
    assert config.max_in_flight_requests_per_connection == 1
    assert config.enable_idempotence is False
    assert config.delivery_timeout_ms == 60_000
    assert config.client_id == "app"
    assert config.metadata_max_idle_ms == 60_000


def test_level_for_another_codec_is_ignored_as_in_java() -> None:
    config = ProducerConfig.from_mapping({"compression.type": "lz4", "compression.gzip.level": 9})
    assert config.compression_level is None


def test_partitioner_class_alias() -> None:
    partitioner = DefaultPartitioner()
    assert (
        ProducerConfig.from_mapping({"partitioner.class": partitioner}).partitioner is partitioner
    )


def test_unknown_keys_are_listed() -> None:
    with pytest.raises(ConfigurationError) as info:
        ProducerConfig.from_mapping({"linger.ms": 1, "lingr.ms": 2, "ssl.truststore": "x"})
    assert "lingr.ms" in str(info.value)
    assert "ssl.truststore" in str(info.value)


def test_same_setting_twice_is_an_error() -> None:
    with pytest.raises(ConfigurationError, match="linger_ms"):
        ProducerConfig.from_mapping({"linger.ms": 1, "linger_ms": 2})


def test_non_numeric_string_names_the_field() -> None:
    with pytest.raises(ConfigurationError, match="linger_ms"):
        ProducerConfig.from_mapping({"linger.ms": "soon"})


def test_build_config_sources() -> None:
    assert build_config() == ProducerConfig()
    assert build_config(None, linger_ms=9).linger_ms == 9
    assert build_config({"linger.ms": 3}, batch_size=10).linger_ms == 3
    assert build_config({"linger.ms": 3}, linger_ms=4).linger_ms == 4
    base = ProducerConfig(linger_ms=2)
    assert build_config(base) is base
    assert build_config(base, batch_size=1).linger_ms == 2
    with pytest.raises(ConfigurationError, match="unknown"):
        build_config(None, lingerms=1)  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="config must be"):
        build_config(42)  # type: ignore[arg-type]


def test_build_config_keeps_defaults_unresolved() -> None:
    # idempotence was defaulted, so switching to acks=1 quietly turns it off (not an error)
    base = ProducerConfig()
    assert base.enable_idempotence is True
    assert build_config(base, acks=1).enable_idempotence is False
    explicit = ProducerConfig(enable_idempotence=True)
    with pytest.raises(ConfigurationError):
        build_config(explicit, acks=1)
    # the default delivery timeout follows a larger request timeout
    assert build_config(base, request_timeout_ms=300_000).delivery_timeout_ms == 300_005


def test_gssapi_is_refused_without_the_gssapi_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """GSSAPI needs the optional gssapi package: without it, construction says how to get it."""
    monkeypatch.setitem(sys.modules, "gssapi", None)  # import gssapi -> ImportError
    with pytest.raises(ConfigurationError, match=r"pip install 'aioproducer\[gssapi\]'"):
        ProducerConfig(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI")
    with pytest.raises(ConfigurationError, match=r"pip install 'aioproducer\[gssapi\]'"):
        ProducerConfig.from_mapping(
            {"security.protocol": "sasl_plaintext", "sasl.mechanism": "GSSAPI"}
        )


needs_gssapi = pytest.mark.skipif(
    importlib.util.find_spec("gssapi") is None, reason="the gssapi package is not installed"
)


@needs_gssapi
def test_gssapi_settings() -> None:
    config = ProducerConfig.from_mapping(
        {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "gssapi",
            "sasl.kerberos.service.name": "kafka-prod",
            "sasl_kerberos_domain_name": "broker.example",
        }
    )
    assert config.sasl == GssapiCredentials("kafka-prod", "broker.example")
    default = ProducerConfig(security_protocol="SASL_SSL", sasl_mechanism="GSSAPI")
    assert default.sasl == GssapiCredentials("kafka", None)


@needs_gssapi
def test_gssapi_takes_no_user_name_or_password() -> None:
    """Kerberos credentials come from the environment: a password would be ignored."""
    with pytest.raises(ConfigurationError, match="KRB5_CLIENT_KTNAME") as info:
        ProducerConfig(
            security_protocol="SASL_SSL",
            sasl_mechanism="GSSAPI",
            sasl_username="user",
            sasl_password="hunter2",
        )
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"sasl_kerberos_service_name": "kafka-prod"},
        {"sasl_kerberos_domain_name": "broker.example"},
        {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "u",
            "sasl_password": "p",
            "sasl_kerberos_service_name": "kafka-prod",
        },
    ],
)
def test_kerberos_settings_without_gssapi_are_refused(options: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="only GSSAPI uses them"):
        ProducerConfig(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sasl_kerberos_service_name", ""),
        ("sasl_kerberos_service_name", None),
        ("sasl_kerberos_domain_name", ""),
        ("sasl_kerberos_domain_name", 5),
    ],
)
def test_kerberos_settings_are_checked(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name):
        ProducerConfig(**{name: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["sasl_mechanism", "sasl_username", "sasl_password"])
def test_sasl_settings_without_sasl_are_refused(name: str) -> None:
    value = "PLAIN" if name == "sasl_mechanism" else "hunter2"
    with pytest.raises(ConfigurationError, match=f"{name} given with") as info:
        ProducerConfig(**{name: value})  # type: ignore[arg-type]
    assert "hunter2" not in str(info.value)


def test_plaintext_is_accepted() -> None:
    assert ProducerConfig(security_protocol="plaintext").security_protocol == "PLAINTEXT"


def test_sasl_needs_credentials() -> None:
    with pytest.raises(ConfigurationError, match="sasl"):
        ProducerConfig(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")


def test_serializers_are_kept() -> None:
    def encode(value: object) -> bytes:
        return str(value).encode()

    config = ProducerConfig(key_serializer=encode, value_serializer=encode)
    assert config.key_serializer is encode
    assert config.value_serializer is not None
    assert config.value_serializer(5) == b"5"


def test_java_krb5_login_module_is_refused() -> None:
    """Java's Krb5LoginModule options (keyTab, principal) are not read: refused, not ignored."""
    jaas = (
        "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true "
        'keyTab="/etc/app.keytab" principal="app@EXAMPLE.COM";'
    )
    with pytest.raises(ConfigurationError, match="not implemented"):
        ProducerConfig.from_mapping(
            {
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "GSSAPI",
                "sasl.jaas.config": jaas,
            }
        )
