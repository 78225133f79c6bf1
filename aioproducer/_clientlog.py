"""Loggers that put the producer's client id on every line.

Each part of a producer logs through a :class:`ClientLog` of its module's logger: the line
starts with ``[client-id]`` and the record carries ``client_id`` (for formatters and
filters: ``%(client_id)s``), so the lines of several producers in one process can be told
apart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from enum import Enum
from typing import Any

__all__ = ["ClientLog", "redacted_settings"]

_SECRETS = frozenset({"sasl_password", "ssl_password"})


class ClientLog(logging.LoggerAdapter[logging.Logger]):
    """``logger``, each message prefixed with ``[client_id]``."""

    def __init__(self, logger: logging.Logger | str, client_id: str) -> None:
        if isinstance(logger, str):
            logger = logging.getLogger(logger)
        super().__init__(logger, {"client_id": client_id})
        self._prefix = f"[{client_id}] "
        self.client_id = client_id

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra")
        kwargs["extra"] = {"client_id": self.client_id, **(extra or {})}
        return self._prefix + str(msg), kwargs


def redacted_settings(options: Mapping[str, object], defaults: Mapping[str, object]) -> str:
    """``name=value`` for each option that differs from its default, secrets as ``***``."""
    parts = []
    for name, value in options.items():
        if name in ("bootstrap_servers", "client_id") or defaults.get(name) == value:
            continue
        if name in _SECRETS:
            shown = "***"
        elif isinstance(value, Enum):
            shown = value.name.lower()
        elif isinstance(value, int | str) and not isinstance(value, bool):
            shown = str(value)
        else:
            shown = repr(value)
        parts.append(f"{name}={shown}")
    return ", ".join(parts) or "all defaults"
