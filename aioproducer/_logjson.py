"""JsonFormatter: a log record as one line of JSON (the default of KafkaHandler)."""

from __future__ import annotations

import datetime
import json
import logging
import math
from typing import Final

from aioproducer.serializers import _dumps

__all__ = ["JsonFormatter"]

#: Attributes every LogRecord has; the others are a call's ``extra`` fields.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, thread,
    process, exception and stack (when present), then the call's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        fields: dict[str, object] = {
            "time": created.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
            "process": record.process,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            fields["exception"] = record.exc_text
        if record.stack_info:
            fields["stack"] = self.formatStack(record.stack_info)
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in fields:
                fields[key] = value
        try:
            return _dumps(fields, str).decode()
        except (TypeError, ValueError):  # a lone surrogate, NaN, an int orjson cannot take
            return _ascii_json(fields)


def _ascii_json(fields: dict[str, object]) -> str:
    """``fields`` as ASCII JSON (lone surrogates escaped; NaN and infinities as strings)."""
    for key, value in fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            fields[key] = str(value)
    return json.dumps(fields, default=str, separators=(",", ":"))
