"""Log line format of every service: plain text (default) or one JSON object per line.

``SHEBAO_LOG_FORMAT=json`` makes each record a JSON object — ``time`` (UTC,
ISO 8601), ``level``, ``logger``, ``message`` and, for exceptions, ``exc`` —
which log collectors (Loki, Elasticsearch, Cloud Logging) parse without
patterns.  The message and traceback are the ones :mod:`common.log_redaction`
already masked when the record was created, and the formatter masks them once
more, so no format can carry an ID number, a phone or a code.

How each service applies it:

- the Rasa server and the action server: ``logging.yml`` names
  :func:`formatter` as its formatter factory; Rasa then replaces the console
  handler with coloredlogs' after reading the file, so the ops channel
  (``bot/metrics.py``) calls :func:`apply_log_format` once Rasa's logging is
  set up;
- the backend and the demo page server call :func:`apply_log_format` at start.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Mapping, Optional

from common.env import ConfigError, env_str
from common.log_redaction import install_record_factory
from common.redaction import redact_text

FORMATS = ("plain", "json")
PLAIN_FORMAT = "%(asctime)s %(levelname)-8s %(name)s - %(message)s"


def log_format(environ: Optional[Mapping[str, str]] = None) -> str:
    """``plain`` or ``json`` (``SHEBAO_LOG_FORMAT``)."""
    value = env_str("SHEBAO_LOG_FORMAT", "plain", environ).strip().lower()
    if value not in FORMATS:
        raise ConfigError("SHEBAO_LOG_FORMAT must be 'plain' or 'json'")
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per record, personal data masked."""

    def format(self, record: logging.LogRecord) -> str:
        """One JSON line per record, with the message redacted before it is written."""
        try:
            message = redact_text(record.getMessage())
        except Exception:  # noqa: BLE001 - never log what could not be redacted
            message = "[redacted: failed]"
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = redact_text(record.exc_text)
        if record.stack_info:
            entry["stack"] = redact_text(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def formatter(format: str = PLAIN_FORMAT) -> logging.Formatter:  # noqa: A002
    """The ``()`` factory of ``logging.yml``: JSON or ``format``, by the environment."""
    if log_format() == "json":
        return JsonFormatter()
    return logging.Formatter(format)


def apply_log_format(environ: Optional[Mapping[str, str]] = None) -> bool:
    """With ``SHEBAO_LOG_FORMAT=json``, give every handler configured so far the
    JSON formatter (and mask every record at creation); True when it did."""
    install_record_factory()
    if log_format(environ) != "json":
        return False
    loggers = [logging.getLogger()] + [
        item
        for item in logging.Logger.manager.loggerDict.values()
        if isinstance(item, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler.formatter, JsonFormatter):
                handler.setFormatter(JsonFormatter())
    return True
