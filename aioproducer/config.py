"""ProducerConfig: every producer setting, typed, with Java's names and defaults, validated once.

Names are the Java producer's in snake_case (``linger_ms`` for ``linger.ms``); a mapping of
Java property names is accepted too, so configurations copy across clients::

    ProducerConfig.from_mapping({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": "5"})

Inputs are normalised: ``acks="all"`` becomes ``-1``, ``compression_type="lz4"`` a
:class:`~aioproducer.compression.CompressionType`, ``bootstrap_servers="a:9092,b"`` the tuple
``(("a", 9092), ("b", 9092))``.

Two defaults depend on other settings, as in Java:

- ``enable_idempotence`` is on unless the user set ``acks`` to 0 or 1, more than 5 requests
  in flight, or ``retries=0``; asking for it explicitly together with one of those is a
  :class:`~aioproducer.errors.ConfigurationError`.
- ``delivery_timeout_ms`` must be at least ``linger_ms + request_timeout_ms``; when it was
  left at its default it is raised to that sum instead of failing.

Every mistake raises ConfigurationError (also a ``ValueError``) naming the setting and value.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Final, Literal, Protocol

from aioproducer.compression import CompressionType, validate_level
from aioproducer.errors import ConfigurationError
from aioproducer.kerberos import GssapiCredentials, load_gssapi
from aioproducer.oauth import OAuthCredentials, TokenProvider, check_provider
from aioproducer.partitioner import Partitioner
from aioproducer.protocol.sasl import MECHANISMS as _SASL_MECHANISMS
from aioproducer.protocol.sasl import SaslCredentials
from aioproducer.security import build_ssl_context, parse_jaas_config

__all__ = [
    "ProducerConfig",
    "Serializer",
    "build_config",
    "parse_bootstrap_servers",
]

DEFAULT_PORT: Final = 9092
_INT32_MAX: Final = 2**31 - 1
_INT64_MAX: Final = 2**63 - 1
_MAX_IDEMPOTENT_IN_FLIGHT: Final = 5
_DEFAULT_DELIVERY_TIMEOUT_MS: Final = 120_000
_DEFAULT_BATCH_SIZE: Final = 16384
"""``batch_size`` when not given: where batches start (they may grow; see batch_sizing)."""
_MIN_METADATA_IDLE_MS: Final = 5000  # Java's atLeast(5000)
_SECURITY_PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_TLS_FILES: Final = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password")
_JAVA_PRODUCER: Final = "org.apache.kafka.clients.producer."
# partitioner= strings: the built-in strategies by name and by Java class (None: sticky)
_PARTITIONER_NAMES: Final[dict[str, Literal["round_robin"] | None]] = {
    "sticky": None,
    "round_robin": "round_robin",
    _JAVA_PRODUCER + "internals.DefaultPartitioner": None,
    _JAVA_PRODUCER + "RoundRobinPartitioner": "round_robin",
}
_HOST_PORT = re.compile(
    r"^(?:\[(?P<v6>[0-9A-Za-z:.%_-]+)\]|(?P<host>[^:\[\]\s]+))(?::(?P<port>\d+))?$"
)


class Serializer(Protocol):
    """Turns a key or value given to ``send()`` into bytes (or None for a null)."""

    def __call__(self, value: object, /) -> bytes | None: ...


def parse_bootstrap_servers(
    servers: str | Iterable[str | tuple[str, int]],
) -> tuple[tuple[str, int], ...]:
    """Parse ``"host[:port],..."`` (or a list of those or of pairs) into ``(host, port)`` pairs.

    The port defaults to 9092; IPv6 addresses go in brackets (``[::1]:9092``); a listener
    prefix such as ``PLAINTEXT://`` is ignored, as Java does.
    """
    raw: object = servers  # checked at run time too: this is user input
    items: list[object]
    if isinstance(raw, str):
        items = list(raw.split(","))
    elif isinstance(raw, Iterable) and not isinstance(raw, bytes | bytearray):
        items = list(raw)
    else:
        raise ConfigurationError(
            f"bootstrap_servers must be a 'host:port' string or a list of them, not {servers!r}"
        )
    parsed: list[tuple[str, int]] = []
    for item in items:
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str) or not _is_int(item[1]):
                raise ConfigurationError(f"bootstrap_servers: invalid (host, port) pair {item!r}")
            host, port = item[0], item[1]
        elif isinstance(item, str):
            text = item.strip()
            if not text:
                continue
            text = text.split("://", 1)[-1]
            match = _HOST_PORT.match(text)
            if match is None:
                hint = (
                    " (put IPv6 addresses in brackets: [::1]:9092)" if text.count(":") > 1 else ""
                )
                raise ConfigurationError(f"bootstrap_servers: invalid address {item!r}{hint}")
            host = match["v6"] or match["host"]
            port = int(match["port"]) if match["port"] is not None else DEFAULT_PORT
        else:
            raise ConfigurationError(f"bootstrap_servers: invalid entry {item!r}")
        if not host or not 0 < port < 65536:
            raise ConfigurationError(f"bootstrap_servers: invalid host or port in {item!r}")
        parsed.append((host, port))
    if not parsed:
        raise ConfigurationError("bootstrap_servers must name at least one broker")
    return tuple(parsed)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(name: str, value: object, low: int, high: int = _INT32_MAX) -> int:
    if not _is_int(value):
        raise ConfigurationError(f"{name} must be an int, not {value!r}")
    assert isinstance(value, int)
    if not low <= value <= high:
        raise ConfigurationError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _acks(value: object) -> int:
    if value in ("all", "-1", -1):
        return -1
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        return int(str(value))
    raise ConfigurationError(f"acks must be 'all', -1, 0 or 1, not {value!r}")


def _optional_str(name: str, value: object, *, empty_ok: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or (not empty_ok and not value):
        raise ConfigurationError(f"{name} must be a non-empty string or None, not {value!r}")
    return value


def _partitioner(value: object) -> Partitioner | Literal["round_robin"] | None:
    """None or ``"sticky"`` (or Java's default class): the default; ``"round_robin"``; or an
    object with partition() and on_append()."""
    if isinstance(value, str):
        name = value.strip()
        if name in _PARTITIONER_NAMES:
            return _PARTITIONER_NAMES[name]
        hint = (
            " (it ignores keys: use partitioner_ignore_keys=True)"
            if name == _JAVA_PRODUCER + "UniformStickyPartitioner"
            else ""
        )
        raise ConfigurationError(
            f"partitioner must be 'sticky', 'round_robin' or an object with partition() and "
            f"on_append() methods, not {value!r}{hint}"
        )
    if value is None or (
        callable(getattr(value, "partition", None)) and callable(getattr(value, "on_append", None))
    ):
        return value  # type: ignore[return-value]
    raise ConfigurationError(
        f"partitioner must have partition() and on_append() methods, not {value!r}"
    )


def _callable_or_none(name: str, value: object) -> object:
    if value is not None and not callable(value):
        hint = " (give a Python callable, not a Java class name)" if isinstance(value, str) else ""
        raise ConfigurationError(f"{name} must be callable or None, not {value!r}{hint}")
    return value


@dataclass(frozen=True, slots=True, init=False)
class ProducerConfig:
    """The producer's settings; see the module docstring for the rules between them.

    To change settings use ``build_config(config, **changes)``: ``dataclasses.replace``
    passes the resolved ``enable_idempotence`` on as if the user had asked for it.
    """

    bootstrap_servers: tuple[tuple[str, int], ...]
    client_id: str
    acks: int
    linger_ms: int
    batch_size: int
    buffer_memory: int
    max_block_ms: int
    compression_type: CompressionType
    compression_level: int | None
    max_in_flight_requests_per_connection: int
    retries: int
    retry_backoff_ms: int
    retry_backoff_max_ms: int
    delivery_timeout_ms: int
    request_timeout_ms: int
    max_request_size: int
    metadata_max_age_ms: int
    metadata_max_idle_ms: int
    connections_max_idle_ms: int
    reconnect_backoff_ms: int
    reconnect_backoff_max_ms: int
    metrics_num_samples: int
    metrics_sample_window_ms: int
    enable_metrics_push: bool
    partitioner: Partitioner | Literal["round_robin"] | None
    partitioner_ignore_keys: bool
    partitioner_adaptive_partitioning_enable: bool
    partitioner_availability_timeout_ms: int
    key_serializer: Serializer | None
    value_serializer: Serializer | None
    enable_idempotence: bool
    transactional_id: str | None
    transaction_timeout_ms: int
    security_protocol: str
    sasl_mechanism: str | None
    sasl_username: str | None
    sasl_password: str | None = field(repr=False)
    sasl_oauth_token_provider: TokenProvider | None = field(repr=False)
    sasl_kerberos_service_name: str
    sasl_kerberos_domain_name: str | None
    ssl_context: ssl.SSLContext | None
    ssl_cafile: str | None
    ssl_certfile: str | None
    ssl_keyfile: str | None
    ssl_password: str | None = field(repr=False)
    ssl_check_hostname: bool
    # The TLS context connections use (the user's, or one built from the files).
    _ssl: ssl.SSLContext | None = field(repr=False, compare=False, init=False)
    # What the user asked for, for the settings whose defaults depend on others (and
    # batch_size: left at its default, batches may grow).
    _requested_idempotence: bool | None = field(repr=False, compare=False, init=False)
    _requested_delivery_timeout_ms: int | None = field(repr=False, compare=False, init=False)
    _requested_batch_size: int | None = field(repr=False, compare=False, init=False)

    def __init__(
        self,
        *,
        bootstrap_servers: str | Iterable[str | tuple[str, int]] = "localhost:9092",
        client_id: str = "aioproducer",
        acks: int | str = "all",
        linger_ms: int = 5,
        batch_size: int | None = None,
        buffer_memory: int = 32 * 1024 * 1024,
        max_block_ms: int = 60_000,
        compression_type: str | int | None = "none",
        compression_level: int | None = None,
        max_in_flight_requests_per_connection: int = 5,
        retries: int = _INT32_MAX,
        retry_backoff_ms: int = 100,
        retry_backoff_max_ms: int = 1000,
        delivery_timeout_ms: int | None = None,
        request_timeout_ms: int = 30_000,
        max_request_size: int = 1024 * 1024,
        metadata_max_age_ms: int = 300_000,
        metadata_max_idle_ms: int = 300_000,
        connections_max_idle_ms: int = 540_000,
        reconnect_backoff_ms: int = 50,
        reconnect_backoff_max_ms: int = 1000,
        metrics_num_samples: int = 2,
        metrics_sample_window_ms: int = 30_000,
        enable_metrics_push: bool = True,
        partitioner: Partitioner | str | None = None,
        partitioner_ignore_keys: bool = False,
        partitioner_adaptive_partitioning_enable: bool = True,
        partitioner_availability_timeout_ms: int = 0,
        key_serializer: Serializer | None = None,
        value_serializer: Serializer | None = None,
        enable_idempotence: bool | None = None,
        transactional_id: str | None = None,
        transaction_timeout_ms: int = 60_000,
        security_protocol: str = "PLAINTEXT",
        sasl_mechanism: str | None = None,
        sasl_username: str | None = None,
        sasl_password: str | None = None,
        sasl_oauth_token_provider: TokenProvider | None = None,
        sasl_kerberos_service_name: str = "kafka",
        sasl_kerberos_domain_name: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        ssl_cafile: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_password: str | None = None,
        ssl_check_hostname: bool = True,
    ) -> None:
        """Validate and normalise; ``delivery_timeout_ms``/``enable_idempotence`` None = default."""
        put = object.__setattr__
        put(self, "bootstrap_servers", parse_bootstrap_servers(bootstrap_servers))
        if not isinstance(client_id, str):
            raise ConfigurationError(f"client_id must be a string, not {client_id!r}")
        put(self, "client_id", client_id)
        put(self, "acks", _acks(acks))
        put(self, "linger_ms", _int("linger_ms", linger_ms, 0, _INT64_MAX))
        requested = None if batch_size is None else _int("batch_size", batch_size, 0)
        put(self, "_requested_batch_size", requested)
        put(self, "batch_size", _DEFAULT_BATCH_SIZE if requested is None else requested)
        put(self, "buffer_memory", _int("buffer_memory", buffer_memory, 0, _INT64_MAX))
        put(self, "max_block_ms", _int("max_block_ms", max_block_ms, 0, _INT64_MAX))
        try:
            codec = CompressionType.parse(compression_type)
            validate_level(codec, compression_level)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"compression_type={compression_type!r}, compression_level="
                f"{compression_level!r}: {exc}"
            ) from None
        put(self, "compression_type", codec)
        put(self, "compression_level", compression_level)
        in_flight = _int(
            "max_in_flight_requests_per_connection", max_in_flight_requests_per_connection, 1
        )
        put(self, "max_in_flight_requests_per_connection", in_flight)
        put(self, "retries", _int("retries", retries, 0))
        put(self, "retry_backoff_ms", _int("retry_backoff_ms", retry_backoff_ms, 0, _INT64_MAX))
        put(
            self,
            "retry_backoff_max_ms",
            _int("retry_backoff_max_ms", retry_backoff_max_ms, 0, _INT64_MAX),
        )
        put(self, "request_timeout_ms", _int("request_timeout_ms", request_timeout_ms, 0))
        put(self, "max_request_size", _int("max_request_size", max_request_size, 0))
        put(
            self,
            "metadata_max_age_ms",
            _int("metadata_max_age_ms", metadata_max_age_ms, 0, _INT64_MAX),
        )
        put(
            self,
            "metadata_max_idle_ms",
            _int("metadata_max_idle_ms", metadata_max_idle_ms, _MIN_METADATA_IDLE_MS, _INT64_MAX),
        )
        put(
            self,
            "connections_max_idle_ms",
            _int("connections_max_idle_ms", connections_max_idle_ms, -1, _INT64_MAX),
        )
        put(
            self,
            "reconnect_backoff_ms",
            _int("reconnect_backoff_ms", reconnect_backoff_ms, 0, _INT64_MAX),
        )
        put(
            self,
            "reconnect_backoff_max_ms",
            _int("reconnect_backoff_max_ms", reconnect_backoff_max_ms, 0, _INT64_MAX),
        )
        put(self, "metrics_num_samples", _int("metrics_num_samples", metrics_num_samples, 1))
        put(
            self,
            "metrics_sample_window_ms",
            _int("metrics_sample_window_ms", metrics_sample_window_ms, 1, _INT64_MAX),
        )
        if not isinstance(enable_metrics_push, bool):
            raise ConfigurationError(
                f"enable_metrics_push must be True or False, not {enable_metrics_push!r}"
            )
        put(self, "enable_metrics_push", enable_metrics_push)
        put(self, "partitioner", _partitioner(partitioner))
        if not isinstance(partitioner_ignore_keys, bool):
            raise ConfigurationError(
                f"partitioner_ignore_keys must be True or False, not {partitioner_ignore_keys!r}"
            )
        if partitioner_ignore_keys and self.partitioner is not None:
            raise ConfigurationError(
                f"partitioner_ignore_keys=True applies to the sticky partitioner only, not to "
                f"partitioner={partitioner!r}, which would ignore it"
            )
        put(self, "partitioner_ignore_keys", partitioner_ignore_keys)
        self._set_adaptive(
            partitioner,
            partitioner_adaptive_partitioning_enable,
            partitioner_availability_timeout_ms,
        )
        put(self, "key_serializer", _callable_or_none("key_serializer", key_serializer))
        put(self, "value_serializer", _callable_or_none("value_serializer", value_serializer))
        if enable_idempotence is not None and not isinstance(enable_idempotence, bool):
            raise ConfigurationError(
                f"enable_idempotence must be True, False or None, not {enable_idempotence!r}"
            )
        put(self, "_requested_idempotence", enable_idempotence)
        put(self, "enable_idempotence", self._resolve_idempotence(enable_idempotence))
        tid = _optional_str("transactional_id", transactional_id, empty_ok=False)
        if tid is not None and not self.enable_idempotence:
            raise ConfigurationError(
                f"transactional_id={tid!r} needs idempotence, which is off "
                "(enable_idempotence=False, acks 0/1, retries=0 or more than 5 in flight)"
            )
        put(self, "transactional_id", tid)
        put(
            self,
            "transaction_timeout_ms",
            _int("transaction_timeout_ms", transaction_timeout_ms, 1),
        )
        put(self, "_requested_delivery_timeout_ms", delivery_timeout_ms)
        put(self, "delivery_timeout_ms", self._resolve_delivery_timeout(delivery_timeout_ms))
        self._set_security(security_protocol, sasl_mechanism, sasl_username, sasl_password)
        self._set_oauth(sasl_oauth_token_provider)
        self._set_kerberos(sasl_kerberos_service_name, sasl_kerberos_domain_name)
        self._set_tls(
            ssl_context,
            (ssl_cafile, ssl_certfile, ssl_keyfile, ssl_password),
            ssl_check_hostname,
        )

    def _set_adaptive(self, partitioner: object, enable: object, timeout_ms: object) -> None:
        """The two settings of adaptive sticky partitioning (KIP-794); both apply to the
        sticky partitioner only, and the timeout only while adaptive is on."""
        if not isinstance(enable, bool):
            raise ConfigurationError(
                f"partitioner_adaptive_partitioning_enable must be True or False, not {enable!r}"
            )
        timeout = _int("partitioner_availability_timeout_ms", timeout_ms, 0, _INT64_MAX)
        if self.partitioner is not None and (not enable or timeout):
            raise ConfigurationError(
                "partitioner_adaptive_partitioning_enable and partitioner_availability_timeout_ms "
                f"apply to the sticky partitioner only, not to partitioner={partitioner!r}, "
                "which would ignore them"
            )
        if timeout and not enable:
            raise ConfigurationError(
                f"partitioner_availability_timeout_ms={timeout} needs "
                "partitioner_adaptive_partitioning_enable=True, else it would be ignored"
            )
        object.__setattr__(self, "partitioner_adaptive_partitioning_enable", enable)
        object.__setattr__(self, "partitioner_availability_timeout_ms", timeout)

    def _resolve_idempotence(self, requested: bool | None) -> bool:
        if requested is False:
            return False
        conflicts = []
        if self.acks != -1:
            conflicts.append(f"acks={self.acks} (needs 'all')")
        if self.max_in_flight_requests_per_connection > _MAX_IDEMPOTENT_IN_FLIGHT:
            conflicts.append(
                "max_in_flight_requests_per_connection="
                f"{self.max_in_flight_requests_per_connection} (needs at most 5)"
            )
        if self.retries == 0:
            conflicts.append("retries=0 (needs at least 1)")
        if conflicts and requested:
            raise ConfigurationError(
                "enable_idempotence=True conflicts with " + ", ".join(conflicts)
            )
        return not conflicts

    def _resolve_delivery_timeout(self, requested: int | None) -> int:
        floor = min(self.linger_ms + self.request_timeout_ms, _INT32_MAX)
        if requested is None:
            return max(_DEFAULT_DELIVERY_TIMEOUT_MS, floor)
        value = _int("delivery_timeout_ms", requested, 0)
        if value < floor:
            raise ConfigurationError(
                f"delivery_timeout_ms ({value}) must be at least linger_ms + request_timeout_ms "
                f"({self.linger_ms} + {self.request_timeout_ms} = {floor})"
            )
        return value

    def _set_security(
        self,
        protocol: object,
        mechanism: object,
        username: object,
        password: object,
    ) -> None:
        put = object.__setattr__
        if not isinstance(protocol, str) or protocol.upper() not in _SECURITY_PROTOCOLS:
            raise ConfigurationError(
                f"security_protocol must be one of {', '.join(_SECURITY_PROTOCOLS)}, "
                f"not {protocol!r}"
            )
        protocol = protocol.upper()
        put(self, "security_protocol", protocol)
        mech = _optional_str("sasl_mechanism", mechanism, empty_ok=False)
        if mech is not None:
            mech = mech.upper()
            if mech not in _SASL_MECHANISMS:
                raise ConfigurationError(
                    f"sasl_mechanism must be one of {', '.join(_SASL_MECHANISMS)}, "
                    f"not {mechanism!r}"
                )
        put(self, "sasl_mechanism", mech)
        put(self, "sasl_username", _optional_str("sasl_username", username))
        if password is not None and not isinstance(password, str):
            raise ConfigurationError("sasl_password must be a string or None")
        put(self, "sasl_password", password)
        sasl = {"sasl_mechanism": mech, "sasl_username": username, "sasl_password": password}
        given = [name for name, value in sasl.items() if value is not None]
        if given and not protocol.startswith("SASL_"):
            raise ConfigurationError(
                f"{', '.join(given)} given with security_protocol={protocol}, which does not "
                "authenticate with SASL: they would be ignored"
            )
        if mech == "OAUTHBEARER":
            if username is not None or password is not None:
                raise ConfigurationError(
                    "sasl_mechanism=OAUTHBEARER authenticates with sasl_oauth_token_provider's "
                    "tokens: sasl_username and sasl_password would be ignored"
                )
        elif mech == "GSSAPI":
            if username is not None or password is not None:
                raise ConfigurationError(
                    "sasl_mechanism=GSSAPI takes its Kerberos credentials from the environment "
                    "(kinit's ticket cache, KRB5CCNAME, or a keytab in KRB5_CLIENT_KTNAME): "
                    "sasl_username and sasl_password would be ignored"
                )
        elif protocol.startswith("SASL_") and None in (mech, username, password):
            raise ConfigurationError(
                f"security_protocol={protocol} needs sasl_mechanism, sasl_username and "
                "sasl_password (or sasl_mechanism=OAUTHBEARER and sasl_oauth_token_provider, "
                "or sasl_mechanism=GSSAPI)"
            )

    def _set_oauth(self, provider: object) -> None:
        if (provider is None) != (self.sasl_mechanism != "OAUTHBEARER"):
            raise ConfigurationError(
                "sasl_oauth_token_provider is needed by sasl_mechanism=OAUTHBEARER, and only "
                f"by it (sasl_mechanism={self.sasl_mechanism}): it would be ignored"
                if provider is not None
                else "sasl_mechanism=OAUTHBEARER needs sasl_oauth_token_provider"
            )
        if provider is not None:
            check_provider(provider)
        object.__setattr__(self, "sasl_oauth_token_provider", provider)

    def _set_kerberos(self, service: object, domain: object) -> None:
        """GSSAPI's service name and host override; the gssapi package must be importable."""
        service_name = _optional_str("sasl_kerberos_service_name", service, empty_ok=False)
        if service_name is None:
            raise ConfigurationError("sasl_kerberos_service_name must be a string, not None")
        domain_name = _optional_str("sasl_kerberos_domain_name", domain, empty_ok=False)
        gssapi = self.sasl_mechanism == "GSSAPI"
        given = [
            name
            for name, value, default in (
                ("sasl_kerberos_service_name", service_name, "kafka"),
                ("sasl_kerberos_domain_name", domain_name, None),
            )
            if value != default
        ]
        if given and not gssapi:
            raise ConfigurationError(
                f"{', '.join(given)} given with sasl_mechanism={self.sasl_mechanism}: only "
                "GSSAPI uses them, they would be ignored"
            )
        if gssapi:
            load_gssapi()
        object.__setattr__(self, "sasl_kerberos_service_name", service_name)
        object.__setattr__(self, "sasl_kerberos_domain_name", domain_name)

    def _set_tls(self, context: object, files: tuple[object, ...], check_hostname: object) -> None:
        """``files`` are ssl_cafile, ssl_certfile, ssl_keyfile and ssl_password."""
        put = object.__setattr__
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise ConfigurationError(f"ssl_context must be an ssl.SSLContext, not {context!r}")
        given_files = dict(zip(_TLS_FILES, files, strict=True))
        for name, value in given_files.items():
            put(self, name, _optional_str(name, None if value == "" else value, empty_ok=False))
        if not isinstance(check_hostname, bool):
            raise ConfigurationError(f"ssl_check_hostname must be a bool, not {check_hostname!r}")
        put(self, "ssl_context", context)
        put(self, "ssl_check_hostname", check_hostname)
        given = [name for name, value in given_files.items() if value] + (
            ["ssl_context"] if context is not None else []
        )
        if not self.security_protocol.endswith("SSL"):
            if given or not check_hostname:
                names = ", ".join(given or ["ssl_check_hostname"])
                raise ConfigurationError(
                    f"{names} given with security_protocol={self.security_protocol}, which does "
                    "not use TLS: they would be ignored (use SSL or SASL_SSL)"
                )
            put(self, "_ssl", None)
            return
        if (self.ssl_keyfile or self.ssl_password) and not self.ssl_certfile:
            raise ConfigurationError("ssl_keyfile and ssl_password need ssl_certfile")
        if isinstance(context, ssl.SSLContext):
            if given != ["ssl_context"]:
                raise ConfigurationError(
                    f"ssl_context and {', '.join(given[:-1])}: load the files into the context"
                )
            if context.check_hostname != check_hostname:
                raise ConfigurationError(
                    f"ssl_check_hostname={check_hostname} but ssl_context.check_hostname is "
                    f"{context.check_hostname}: make them agree"
                )
            put(self, "_ssl", context)
            return
        put(
            self,
            "_ssl",
            build_ssl_context(
                self.ssl_cafile,
                self.ssl_certfile,
                self.ssl_keyfile,
                self.ssl_password,
                check_hostname,
            ),
        )

    @property
    def sasl(self) -> SaslCredentials | OAuthCredentials | GssapiCredentials | None:
        """What connections authenticate with, or None without SASL (for OAUTHBEARER, a new
        token cache on each call: a producer takes one and keeps it)."""
        if not self.security_protocol.startswith("SASL_"):
            return None
        if self.sasl_oauth_token_provider is not None:
            return OAuthCredentials(self.sasl_oauth_token_provider)
        if self.sasl_mechanism == "GSSAPI":
            return GssapiCredentials(
                self.sasl_kerberos_service_name, self.sasl_kerberos_domain_name
            )
        mechanism, username, password = self.sasl_mechanism, self.sasl_username, self.sasl_password
        assert mechanism is not None  # _set_security checked all three
        assert username is not None
        assert password is not None
        return SaslCredentials(mechanism, username, password)

    @property
    def tls(self) -> ssl.SSLContext | None:
        """The TLS context connections use, or None for a plain TCP connection."""
        return self._ssl

    # -- other ways in -----------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, options: Mapping[str, object]) -> ProducerConfig:
        """Build from Java property names (``"linger.ms"``) and/or snake_case names.

        String values are converted as Java's ``ConfigDef`` does (``"5"``, ``"true"``).
        Unknown names raise ConfigurationError listing all of them.
        """
        return cls(**_normalise(options))  # type: ignore[arg-type]

    def options(self) -> dict[str, object]:
        """The keyword arguments that rebuild this config (defaults that depend on others
        stay unresolved, so changing ``acks`` again switches idempotence off quietly)."""
        values: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")
        }
        values["enable_idempotence"] = self._requested_idempotence
        values["delivery_timeout_ms"] = self._requested_delivery_timeout_ms
        values["batch_size"] = self._requested_batch_size
        return values

    @property
    def adaptive_batch_size(self) -> bool:
        """``batch_size`` was left at its default: a partition's batches may grow beyond it
        while its leader's window of in-flight requests is full (see ``batch_sizing``)."""
        return self._requested_batch_size is None


_INIT_NAMES: Final = frozenset(f.name for f in fields(ProducerConfig) if not f.name.startswith("_"))
_ALIASES: Final = {
    "partitioner_class": "partitioner",
    "sasl_plain_username": "sasl_username",
    "sasl_plain_password": "sasl_password",
}
#: Java's names for settings spelled differently here.
_JAVA_NAMES: Final = {
    "ssl.truststore.location": "ssl_cafile",
    "ssl.keystore.location": "ssl_certfile",
    "ssl.key.password": "ssl_password",
}
#: Java's keystore types: only PEM files are read.
_STORE_TYPES: Final = {
    "ssl.truststore.type": "ssl.truststore.location",
    "ssl.keystore.type": "ssl.keystore.location",
}
_INT_NAMES: Final = frozenset(
    {
        "linger_ms",
        "batch_size",
        "buffer_memory",
        "max_block_ms",
        "compression_level",
        "max_in_flight_requests_per_connection",
        "retries",
        "retry_backoff_ms",
        "retry_backoff_max_ms",
        "delivery_timeout_ms",
        "request_timeout_ms",
        "max_request_size",
        "metadata_max_age_ms",
        "metadata_max_idle_ms",
        "connections_max_idle_ms",
        "reconnect_backoff_ms",
        "reconnect_backoff_max_ms",
        "metrics_num_samples",
        "metrics_sample_window_ms",
        "partitioner_availability_timeout_ms",
        "transaction_timeout_ms",
    }
)
_BOOL_NAMES: Final = frozenset(
    {
        "enable_idempotence",
        "enable_metrics_push",
        "partitioner_ignore_keys",
        "partitioner_adaptive_partitioning_enable",
        "ssl_check_hostname",
    }
)
_LEVEL_KEY = re.compile(r"^compression[._](gzip|lz4|zstd)[._]level$")


def _from_string(name: str, value: object) -> object:
    """Convert a properties-file string the way Java's ConfigDef would."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if name in _INT_NAMES:
        try:
            return int(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be an int, not {value!r}") from None
    if name in _BOOL_NAMES:
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ConfigurationError(f"{name} must be true or false, not {value!r}")
    return value


def _java_security(options: Mapping[str, object]) -> dict[str, object]:
    """Java's TLS and SASL properties (:data:`_JAVA_ONLY`) as our settings: PEM stores
    only, ``sasl.jaas.config`` split into user name and password."""
    result: dict[str, object] = {}
    for type_key, location_key in _STORE_TYPES.items():
        kind = options.get(type_key)
        if kind is not None and str(kind).strip().upper() != "PEM":
            raise ConfigurationError(
                f"{type_key}={kind!r}: only PEM is implemented (convert JKS or PKCS12 with "
                "keytool/openssl)"
            )
        if location_key in options and kind is None:
            raise ConfigurationError(
                f"{location_key} needs {type_key}=PEM (JKS and PKCS12 are not implemented)"
            )
    for key, name in _JAVA_NAMES.items():
        if key in options:
            result[name] = options[key]
    algorithm = options.get("ssl.endpoint.identification.algorithm")
    if algorithm is not None:
        text = str(algorithm).strip().lower()
        if text not in ("https", ""):
            raise ConfigurationError(
                f"ssl.endpoint.identification.algorithm must be 'https' or '', not {algorithm!r}"
            )
        result["ssl_check_hostname"] = text == "https"
    if "sasl.jaas.config" in options:
        family, username, password = parse_jaas_config(options["sasl.jaas.config"])
        mechanism = str(options.get("sasl.mechanism") or "GSSAPI").upper()
        if not mechanism.startswith(family):
            raise ConfigurationError(
                f"sasl.jaas.config names a {family} login module but sasl.mechanism is "
                f"{mechanism} (Java's default is GSSAPI)"
            )
        result["sasl_username"] = username
        result["sasl_password"] = password
    return result


_JAVA_ONLY: Final = frozenset(
    {*_JAVA_NAMES, *_STORE_TYPES, "ssl.endpoint.identification.algorithm", "sasl.jaas.config"}
)


def _normalise(options: Mapping[str, object]) -> dict[str, object]:
    """Map Java property names to snake_case, convert strings, reject unknown names."""
    result: dict[str, object] = {}
    levels: dict[str, object] = {}
    unknown: list[str] = []
    java = {name: _from_string(name, value) for name, value in _java_security(options).items()}
    for raw_key, value in options.items():
        key: object = raw_key
        if not isinstance(key, str):  # user input: mypy cannot see this case
            unknown.append(repr(key))
            continue
        if key in _JAVA_ONLY:
            continue
        level = _LEVEL_KEY.match(key)
        if level is not None:  # Java's per-codec compression.<codec>.level (KIP-390)
            levels[level[1]] = value
            continue
        name = key.replace(".", "_").replace("-", "_")
        name = _ALIASES.get(name, name)
        if name not in _INIT_NAMES:
            unknown.append(key)
            continue
        if name in result:
            raise ConfigurationError(f"{name} is given twice (as {key!r} and another spelling)")
        result[name] = _from_string(name, value)
    if unknown:
        raise ConfigurationError(f"unknown producer setting(s): {', '.join(sorted(unknown))}")
    for name, value in java.items():
        if name in result:
            raise ConfigurationError(f"{name} is given twice (in Java's and our spelling)")
        result[name] = value
    if levels:
        codec = str(result.get("compression_type") or "none").strip().lower()
        if codec in levels and result.get("compression_level") is None:
            result["compression_level"] = _from_string("compression_level", levels[codec])
    return result


def build_config(
    config: ProducerConfig | Mapping[str, object] | None = None, /, **overrides: object
) -> ProducerConfig:
    """The config ``Producer(config, **overrides)`` uses: overrides win over ``config``."""
    raw: object = config  # checked at run time too: this is user input
    if isinstance(raw, ProducerConfig):
        if not overrides:
            return raw
        base: dict[str, object] = raw.options()
    elif raw is None:
        base = {}
    elif isinstance(raw, Mapping):
        base = _normalise(raw)
    else:
        raise ConfigurationError(
            f"config must be a ProducerConfig, a mapping or None, not {type(config).__name__}"
        )
    base.update(_normalise(overrides))
    return ProducerConfig(**base)  # type: ignore[arg-type]
