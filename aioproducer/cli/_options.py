"""The command line's arguments and the producer settings they make.

Settings come, later winning over earlier: the command's defaults, ``--producer.config``
(a Java properties file), ``-X name=value`` and ``--producer-props`` in their order, then
the dedicated options (``--acks``, ``--compression``, ...). Names are Java's
(``linger.ms``) or snake_case; :meth:`ProducerConfig.from_mapping` checks them all.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Final

from aioproducer._config import ProducerConfig
from aioproducer.cli._input import InputError

__all__ = [
    "DEFAULT_SETTINGS",
    "add_producer_options",
    "largest_record",
    "parse_property",
    "producer_config",
    "read_properties",
]

#: Where the command line differs from Java's defaults: a wrong address or a missing
#: topic fails within 10 s rather than 60.
DEFAULT_SETTINGS: Final = {"max.block.ms": "10000"}

#: The dedicated options and the settings they set.
_DEDICATED: Final = (
    ("bootstrap_servers", "bootstrap.servers"),
    ("compression", "compression.type"),
    ("acks", "acks"),
    ("linger_ms", "linger.ms"),
    ("security_protocol", "security.protocol"),
    ("sasl_mechanism", "sasl.mechanism"),
    ("sasl_username", "sasl.username"),
    ("sasl_password", "sasl.password"),
)


def parse_property(text: str) -> tuple[str, str]:
    """``name=value`` (the value may hold ``=``) as a pair."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def read_properties(path: str) -> list[tuple[str, str]]:
    """The ``name=value`` (or ``name: value``) lines of a Java properties file; ``#`` and
    ``!`` start comments. Line continuations and escapes are not supported."""
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    pairs = []
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        if line.endswith("\\"):
            raise InputError(f"{path}:{number}: line continuations are not supported")
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut < 0:
            raise InputError(f"{path}:{number}: expected name=value, not {line!r}")
        pairs.append((line[:cut].strip(), line[cut + 1 :].strip()))
    return pairs


def _canonical(name: str) -> str:
    return name.replace(".", "_").replace("-", "_")


def producer_config(
    args: argparse.Namespace, defaults: Mapping[str, str] = DEFAULT_SETTINGS
) -> ProducerConfig:
    """The producer's configuration from the parsed arguments (ConfigurationError or
    InputError on a mistake)."""
    given: list[tuple[str, str]] = list(defaults.items())
    if args.config_file is not None:
        given += read_properties(args.config_file)
    given += args.properties
    given += [
        (setting, value)
        for option, setting in _DEDICATED
        if (value := getattr(args, option)) is not None
    ]
    settings = _merge(given)
    if not any(_canonical(name) == "bootstrap_servers" for name in settings):
        raise InputError("no broker given: use --bootstrap-servers HOST:PORT")
    return ProducerConfig.from_mapping(settings)


def largest_record(config: ProducerConfig) -> int:
    """The most bytes a record may take (the producer refuses larger ones)."""
    return min(config.max_request_size, config.buffer_memory)


def _merge(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Later pairs win, whatever the spelling (``linger.ms`` and ``linger_ms`` are one)."""
    spelled: dict[str, tuple[str, str]] = {}
    for name, value in pairs:
        spelled[_canonical(name)] = (name, value)
    return dict(spelled.values())


def add_producer_options(parser: argparse.ArgumentParser) -> None:
    """The options both commands take: where the cluster is and how to produce."""
    group = parser.add_argument_group("producer settings")
    group.add_argument(
        "-b", "--bootstrap-servers", metavar="HOST:PORT[,...]", help="the brokers to start from"
    )
    group.add_argument(
        "-X",
        "--producer-property",
        dest="properties",
        metavar="NAME=VALUE",
        action="append",
        type=parse_property,
        default=[],
        help="any producer setting, by its Java name (linger.ms=10) or snake_case; repeatable",
    )
    group.add_argument(
        "-F",
        "--producer.config",
        dest="config_file",
        metavar="FILE",
        help="a Java properties file of producer settings",
    )
    group.add_argument(
        "-z", "--compression", metavar="CODEC", help="none, gzip, snappy, lz4 or zstd"
    )
    group.add_argument("--acks", metavar="ACKS", help="all (default), 1 or 0")
    group.add_argument("--linger-ms", metavar="MS", help="how long a batch waits to fill")
    security = parser.add_argument_group("security (not implemented yet: only PLAINTEXT)")
    security.add_argument("--security-protocol", metavar="PROTOCOL")
    security.add_argument("--sasl-mechanism", metavar="MECHANISM")
    security.add_argument("--sasl-username", metavar="USER")
    security.add_argument("--sasl-password", metavar="PASSWORD")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log INFO (-v) or DEBUG (-vv)"
    )
