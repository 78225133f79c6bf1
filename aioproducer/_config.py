"""ProducerConfig: every producer setting, typed, with Java's names and defaults, validated once.

Names are the Java producer's in snake_case (``linger_ms`` for ``linger.ms``); a mapping of
Java property names is accepted too, so configurations copy across clients::

    ProducerConfig.from_mapping({"bootstrap.servers": "127.0.0.1:9092", "linger.ms": "5"})

Inputs are normalised: ``acks="all"`` becomes ``-1``, ``compression_type="lz4"`` a
:class:`~aioproducer._protocol.compression.CompressionType`, ``bootstrap_servers="a:9092,b"``
the tuple ``(("a", 9092), ("b", 9092))``.

Two defaults depend on other settings, as in Java:

- ``enable_idempotence`` is on unless the user set ``acks`` to 0 or 1, more than 5 requests
  in flight, or ``retries=0``; asking for it explicitly together with one of those is a
  :class:`~aioproducer.errors.ConfigurationError`.
- ``delivery_timeout_ms`` must be at least ``linger_ms + request_timeout_ms``; when it was
  left at its default it is raised to that sum instead of failing.

Every mistake raises ConfigurationError (also a ``ValueError``) naming the setting and value.
Each setting is one row of :data:`aioproducer._settings.SETTINGS` (type, default, check, Java
name, doc); this module adds the rules between settings and the Java property mapping.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Unpack, cast

from aioproducer._checks import INT32_MAX, Serializer, parse_bootstrap_servers
from aioproducer._kerberos import GssapiCredentials, load_gssapi
from aioproducer._oauth import OAuthCredentials
from aioproducer._options import ConfigFields, ProducerOptions
from aioproducer._protocol.compression import CompressionType, validate_level
from aioproducer._protocol.sasl import SaslCredentials
from aioproducer._security import build_ssl_context, parse_jaas_config
from aioproducer._settings import SETTINGS
from aioproducer.errors import ConfigurationError

__all__ = [
    "ProducerConfig",
    "ProducerOptions",
    "Serializer",
    "build_config",
    "parse_bootstrap_servers",
]

_MAX_IDEMPOTENT_IN_FLIGHT: Final = 5
_DEFAULT_DELIVERY_TIMEOUT_MS: Final = 120_000
_DEFAULT_BATCH_SIZE: Final = 16384  # batch_size not given: the sticky partitioner's and send()'s
# yield unit (Java's batch.size); a batch may hold up to max_request_size then
_TLS_FILES: Final = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_password")
_KERBEROS: Final = ("sasl_kerberos_service_name", "sasl_kerberos_domain_name")
_SETTINGS: Final = {setting.name: setting for setting in SETTINGS}


@dataclass(frozen=True, slots=True, init=False)
class ProducerConfig(ConfigFields):
    """The producer's settings; see the module docstring for the rules between them.

    ``ProducerConfig(linger_ms=20, acks=1)`` takes every setting of docs/configuration.md
    as a keyword argument. To change settings use ``build_config(config, **changes)``:
    ``dataclasses.replace`` passes the resolved ``enable_idempotence`` on as if the user had
    asked for it.
    """

    # The TLS context connections use (the user's, or one built from the files).
    _ssl: ssl.SSLContext | None = field(repr=False, compare=False, init=False)
    # What the user asked for, for the settings whose defaults depend on others (and
    # batch_size: left at its default, batches may grow).
    _requested_idempotence: bool | None = field(repr=False, compare=False, init=False)
    _requested_delivery_timeout_ms: int | None = field(repr=False, compare=False, init=False)
    _requested_batch_size: int | None = field(repr=False, compare=False, init=False)

    def __init__(self, **options: Unpack[ProducerOptions]) -> None:
        """Check each setting alone (its row in aioproducer/_settings.py), then the rules
        between them; ``delivery_timeout_ms``/``enable_idempotence`` None = default."""
        given: Mapping[str, object] = options
        for name in given:
            if name not in _SETTINGS:
                raise TypeError(
                    f"ProducerConfig.__init__() got an unexpected keyword argument {name!r}"
                )
        put = object.__setattr__
        checked: dict[str, object] = {}
        for setting in SETTINGS:
            value = given.get(setting.name, setting.default)
            checked[setting.name] = (
                value if setting.check is None else setting.check(setting.name, value)
            )
            put(self, setting.name, checked[setting.name])
        batch_size = cast("int | None", checked["batch_size"])
        put(self, "_requested_batch_size", batch_size)
        put(self, "batch_size", _DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
        self._check_compression(checked["compression_type"], checked["compression_level"])
        self._check_partitioner(given.get("partitioner"))
        requested = cast("bool | None", checked["enable_idempotence"])
        put(self, "_requested_idempotence", requested)
        put(self, "enable_idempotence", self._resolve_idempotence(requested))
        if self.transactional_id is not None and not self.enable_idempotence:
            raise ConfigurationError(
                f"transactional_id={self.transactional_id!r} needs idempotence, which is off "
                "(enable_idempotence=False, acks 0/1, retries=0 or more than 5 in flight)"
            )
        delivery_timeout_ms = cast("int | None", checked["delivery_timeout_ms"])
        put(self, "_requested_delivery_timeout_ms", delivery_timeout_ms)
        put(self, "delivery_timeout_ms", self._resolve_delivery_timeout(delivery_timeout_ms))
        self._check_security()
        self._check_kerberos()
        put(self, "_ssl", self._check_tls())

    def _check_compression(self, codec_name: object, level: object) -> None:
        """The codec by name or id, and a level that codec takes."""
        try:
            codec = CompressionType.parse(codec_name)  # type: ignore[arg-type]  # it checks
            validate_level(codec, level)  # type: ignore[arg-type]  # it checks
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"compression_type={codec_name!r}, compression_level={level!r}: {exc}"
            ) from None
        object.__setattr__(self, "compression_type", codec)

    def _check_partitioner(self, given: object) -> None:
        """``partitioner_ignore_keys`` and adaptive sticky partitioning (KIP-794) apply to the
        sticky partitioner only, and the availability timeout only while adaptive is on."""
        if self.partitioner_ignore_keys and self.partitioner is not None:
            raise ConfigurationError(
                f"partitioner_ignore_keys=True applies to the sticky partitioner only, not to "
                f"partitioner={given!r}, which would ignore it"
            )
        enable = self.partitioner_adaptive_partitioning_enable
        timeout = self.partitioner_availability_timeout_ms
        if self.partitioner is not None and (not enable or timeout):
            raise ConfigurationError(
                "partitioner_adaptive_partitioning_enable and partitioner_availability_timeout_ms "
                f"apply to the sticky partitioner only, not to partitioner={given!r}, "
                "which would ignore them"
            )
        if timeout and not enable:
            raise ConfigurationError(
                f"partitioner_availability_timeout_ms={timeout} needs "
                "partitioner_adaptive_partitioning_enable=True, else it would be ignored"
            )

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
        floor = min(self.linger_ms + self.request_timeout_ms, INT32_MAX)
        if requested is None:
            return max(_DEFAULT_DELIVERY_TIMEOUT_MS, floor)
        if requested < floor:
            raise ConfigurationError(
                f"delivery_timeout_ms ({requested}) must be at least linger_ms + "
                f"request_timeout_ms ({self.linger_ms} + {self.request_timeout_ms} = {floor})"
            )
        return requested

    def _check_security(self) -> None:
        """SASL settings only with a SASL protocol, and what each mechanism needs."""
        protocol, mech = self.security_protocol, self.sasl_mechanism
        username, password = self.sasl_username, self.sasl_password
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
        provider = self.sasl_oauth_token_provider
        if (provider is None) != (mech != "OAUTHBEARER"):
            raise ConfigurationError(
                "sasl_oauth_token_provider is needed by sasl_mechanism=OAUTHBEARER, and only "
                f"by it (sasl_mechanism={mech}): it would be ignored"
                if provider is not None
                else "sasl_mechanism=OAUTHBEARER needs sasl_oauth_token_provider"
            )

    def _check_kerberos(self) -> None:
        """GSSAPI's service name and host override; the gssapi package must be importable."""
        gssapi = self.sasl_mechanism == "GSSAPI"
        given = [name for name in _KERBEROS if getattr(self, name) != _SETTINGS[name].default]
        if given and not gssapi:
            raise ConfigurationError(
                f"{', '.join(given)} given with sasl_mechanism={self.sasl_mechanism}: only "
                "GSSAPI uses them, they would be ignored"
            )
        if gssapi:
            load_gssapi()

    def _check_tls(self) -> ssl.SSLContext | None:
        """The TLS context connections use: the user's, one built from the files, or None."""
        context, check_hostname = self.ssl_context, self.ssl_check_hostname
        given = [name for name in _TLS_FILES if getattr(self, name)] + (
            ["ssl_context"] if context is not None else []
        )
        if not self.security_protocol.endswith("SSL"):
            if given or not check_hostname:
                names = ", ".join(given or ["ssl_check_hostname"])
                raise ConfigurationError(
                    f"{names} given with security_protocol={self.security_protocol}, which does "
                    "not use TLS: they would be ignored (use SSL or SASL_SSL)"
                )
            return None
        if (self.ssl_keyfile or self.ssl_password) and not self.ssl_certfile:
            raise ConfigurationError("ssl_keyfile and ssl_password need ssl_certfile")
        if context is not None:
            if given != ["ssl_context"]:
                raise ConfigurationError(
                    f"ssl_context and {', '.join(given[:-1])}: load the files into the context"
                )
            if context.check_hostname != check_hostname:
                raise ConfigurationError(
                    f"ssl_check_hostname={check_hostname} but ssl_context.check_hostname is "
                    f"{context.check_hostname}: make them agree"
                )
            return context
        return build_ssl_context(
            self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile, self.ssl_password, check_hostname
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
        return cls(**cast("ProducerOptions", _normalise(options)))

    def options(self) -> dict[str, object]:
        """The keyword arguments that rebuild this config (defaults that depend on others
        stay unresolved, so changing ``acks`` again switches idempotence off quietly)."""
        values = {name: getattr(self, name) for name in _SETTINGS}
        values["enable_idempotence"] = self._requested_idempotence
        values["delivery_timeout_ms"] = self._requested_delivery_timeout_ms
        values["batch_size"] = self._requested_batch_size
        return values

    @property
    def batch_size_defaulted(self) -> bool:
        """``batch_size`` was left at its default: a batch may hold up to
        ``max_request_size`` bytes, not 16384 (see ``_batch_sizing``)."""
        return self._requested_batch_size is None


#: Other spellings of settings, in snake_case (aiokafka's names).
_ALIASES: Final = {alias: setting.name for setting in SETTINGS for alias in setting.aliases}
#: Java's names for settings spelled differently here.
_JAVA_NAMES: Final = {
    setting.java: setting.name
    for setting in SETTINGS
    if setting.java is not None and setting.java.replace(".", "_") != setting.name
}
#: Java's ``https`` or empty, for ssl_check_hostname's True or False.
_ALGORITHM: Final = "ssl.endpoint.identification.algorithm"
#: Java's keystore types: only PEM files are read.
_STORE_TYPES: Final = {
    "ssl.truststore.type": "ssl.truststore.location",
    "ssl.keystore.type": "ssl.keystore.location",
}
_LEVEL_KEY = re.compile(r"^compression[._](gzip|lz4|zstd)[._]level$")


def _from_string(name: str, value: object) -> object:
    """Convert a properties-file string the way Java's ConfigDef would."""
    return _SETTINGS[name].from_string(value)


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
        if key in options and key != _ALGORITHM:
            result[name] = options[key]
    algorithm = options.get(_ALGORITHM)
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


_JAVA_ONLY: Final = frozenset({*_JAVA_NAMES, *_STORE_TYPES, "sasl.jaas.config"})


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
        if name not in _SETTINGS:
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
    config: ProducerConfig | Mapping[str, object] | None = None,
    /,
    **overrides: Unpack[ProducerOptions],
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
    return ProducerConfig(**cast("ProducerOptions", base))
