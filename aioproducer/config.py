"""ProducerConfig: every producer setting, typed, with Java's names and defaults, validated once.

Names are the Java producer's in snake_case (``linger_ms`` for ``linger.ms``). A mapping of
Java property names is accepted too, so configurations copy across clients::

    ProducerConfig.from_mapping({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": 5})

Idempotence follows Java's rule: on by default, quietly off when the user sets acks to 0 or 1
(or more than 5 requests in flight) without asking for it; asked for explicitly together with
such settings, it is a :class:`~aioproducer.errors.ConfigurationError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aioproducer.compression import CompressionType, validate_level
from aioproducer.errors import ConfigurationError
from aioproducer.partitioner import Partitioner

__all__ = ["ProducerConfig", "Serializer", "build_config", "parse_bootstrap"]

Serializer = Callable[[object], bytes | None]

_DEFAULT_PORT: Final = 9092
_MAX_IDEMPOTENT_IN_FLIGHT: Final = 5
_INT_MAX: Final = 2**31 - 1


def parse_bootstrap(servers: object) -> tuple[tuple[str, int], ...]:
    """``"h1:9092,h2"`` (or a list of ``host[:port]``) -> ``((h1, 9092), (h2, 9092))``."""
    if isinstance(servers, str):
        items: list[object] = list(servers.split(","))
    elif isinstance(servers, list | tuple):
        items = list(servers)
    else:
        raise ConfigurationError(f"bootstrap_servers must be a str or a list, not {servers!r}")
    parsed: list[tuple[str, int]] = []
    for raw in items:
        if isinstance(raw, tuple) and len(raw) == 2:
            item = f"{raw[0]}:{raw[1]}"
        else:
            item = str(raw).strip()
        if not item:
            continue
        if item.startswith("["):  # [ipv6]:port
            host, _, rest = item[1:].partition("]")
            port_text = rest.removeprefix(":")
        elif item.count(":") == 1:
            host, _, port_text = item.partition(":")
        else:
            host, port_text = item, ""
        try:
            port = int(port_text) if port_text else _DEFAULT_PORT
        except ValueError:
            raise ConfigurationError(
                f"bootstrap_servers: {item!r} has an invalid port {port_text!r}"
            ) from None
        if not host or not 0 < port < 65536:
            raise ConfigurationError(f"bootstrap_servers: {item!r} is not host:port")
        parsed.append((host, port))
    if not parsed:
        raise ConfigurationError("bootstrap_servers is empty: give at least one host:port")
    return tuple(parsed)


def _acks(value: object) -> int:
    if value in ("all", -1, "-1"):
        return -1
    if value in (0, 1, "0", "1"):
        return int(str(value))
    raise ConfigurationError(f"acks must be 0, 1 or 'all' (-1), not {value!r}")


@dataclass(frozen=True, slots=True)
class ProducerConfig:
    """Every producer setting. Build it with keywords, or from Java property names."""

    bootstrap_servers: tuple[tuple[str, int], ...] | str = "127.0.0.1:9092"
    client_id: str | None = "aioproducer"
    acks: int | str = -1
    linger_ms: int = 5
    batch_size: int = 16384
    buffer_memory: int = 32 * 1024 * 1024
    max_block_ms: int = 60_000
    compression_type: CompressionType | str | None = CompressionType.NONE
    compression_level: int | None = None
    max_in_flight_requests_per_connection: int = 5
    retries: int = _INT_MAX
    retry_backoff_ms: int = 100
    retry_backoff_max_ms: int = 1000
    delivery_timeout_ms: int = 120_000
    request_timeout_ms: int = 30_000
    max_request_size: int = 1024 * 1024
    metadata_max_age_ms: int = 300_000
    connections_max_idle_ms: int = 540_000
    reconnect_backoff_ms: int = 50
    reconnect_backoff_max_ms: int = 1000
    enable_idempotence: bool | None = None
    """None: on unless acks or in-flight settings rule it out (Java's rule)."""
    transactional_id: str | None = None
    partitioner: Partitioner | None = field(default=None, repr=False)
    key_serializer: Serializer | None = field(default=None, repr=False)
    value_serializer: Serializer | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        put("bootstrap_servers", parse_bootstrap(self.bootstrap_servers))
        put("acks", _acks(self.acks))
        put("compression_type", CompressionType.parse(self.compression_type))
        try:
            validate_level(self.compression_type, self.compression_level)  # type: ignore[arg-type]
        except ConfigurationError as exc:
            raise ConfigurationError(f"compression_level: {exc}") from None
        self._check_ranges()
        if self.delivery_timeout_ms < self.linger_ms + self.request_timeout_ms:
            raise ConfigurationError(
                f"delivery_timeout_ms ({self.delivery_timeout_ms}) must be at least linger_ms "
                f"+ request_timeout_ms ({self.linger_ms} + {self.request_timeout_ms})"
            )
        if self.client_id is not None and not isinstance(self.client_id, str):
            raise ConfigurationError(f"client_id must be a str, not {self.client_id!r}")
        for name in ("key_serializer", "value_serializer"):
            if getattr(self, name) is not None and not callable(getattr(self, name)):
                raise ConfigurationError(f"{name} must be callable")
        put("enable_idempotence", self._idempotence())

    def _check_ranges(self) -> None:
        minimums = {
            "linger_ms": 0,
            "batch_size": 1,
            "buffer_memory": 1,
            "max_block_ms": 0,
            "max_in_flight_requests_per_connection": 1,
            "retries": 0,
            "retry_backoff_ms": 0,
            "retry_backoff_max_ms": 0,
            "delivery_timeout_ms": 1,
            "request_timeout_ms": 1,
            "max_request_size": 1,
            "metadata_max_age_ms": 0,
            "connections_max_idle_ms": -1,
            "reconnect_backoff_ms": 0,
            "reconnect_backoff_max_ms": 0,
        }
        for name, low in minimums.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigurationError(f"{name} must be an int >= {low}, not {value!r}")
        if self.retry_backoff_max_ms < self.retry_backoff_ms:
            object.__setattr__(self, "retry_backoff_max_ms", self.retry_backoff_ms)

    def _idempotence(self) -> bool:
        requested = self.enable_idempotence
        compatible = (
            self.acks == -1
            and self.max_in_flight_requests_per_connection <= _MAX_IDEMPOTENT_IN_FLIGHT
        )
        if requested and not compatible:
            raise ConfigurationError(
                "enable_idempotence=True needs acks='all' and at most "
                f"{_MAX_IDEMPOTENT_IN_FLIGHT} max_in_flight_requests_per_connection "
                f"(got acks={self.acks}, in flight "
                f"{self.max_in_flight_requests_per_connection})"
            )
        if self.transactional_id is not None and requested is False:
            raise ConfigurationError("transactional_id needs enable_idempotence")
        return compatible if requested is None else bool(requested)

    @property
    def servers(self) -> tuple[tuple[str, int], ...]:
        """The parsed bootstrap servers."""
        return self.bootstrap_servers  # type: ignore[return-value]

    @property
    def compression(self) -> CompressionType:
        return self.compression_type  # type: ignore[return-value]

    @property
    def acks_value(self) -> int:
        return self.acks  # type: ignore[return-value]

    @classmethod
    def from_mapping(cls, options: Mapping[str, object]) -> ProducerConfig:
        """Build from snake_case or Java property names (``"linger.ms"``)."""
        return cls(**_normalise(options))


_FIELDS: Final = frozenset(f.name for f in dataclasses.fields(ProducerConfig))


def _normalise(options: Mapping[str, object]) -> dict[str, Any]:
    normalised: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in options.items():
        name = key.replace(".", "_").replace("-", "_")
        if name not in _FIELDS:
            unknown.append(key)
            continue
        normalised[name] = value
    if unknown:
        raise ConfigurationError(f"unknown producer settings: {', '.join(sorted(unknown))}")
    return normalised


def build_config(
    config: ProducerConfig | Mapping[str, object] | None = None, **overrides: object
) -> ProducerConfig:
    """A ProducerConfig from an existing one, a mapping, keywords, or a mix."""
    if isinstance(config, ProducerConfig):
        if not overrides:
            return config
        base: dict[str, Any] = {f: getattr(config, f) for f in _FIELDS}
        base.update(_normalise(overrides))
        return ProducerConfig(**base)
    merged = _normalise(config or {})
    merged.update(_normalise(overrides))
    return ProducerConfig(**merged)
