"""Mask personal data in every log record of the Rasa server and the action server.

Rasa logs the user's text when something fails (e.g. the REST channel's
``rest.message.received.failure`` carries ``text=...`` and the frames' locals).
Both servers are started with a logging config file (``logging.yml``; Rasa's
flag is ``--logging-config-file``, rasa-sdk's ``--logging-config_file``) whose
filter factory :func:`redacting_filter` also installs a log-record factory:
every record, from any logger and whatever handlers a library installs later
(Rasa switches to coloredlogs after reading the file), has its message and
traceback masked when it is created.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from common.redaction import redact_text

_installed = False


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    record.msg = redact_text(record.getMessage())
    record.args = ()
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(
            logging.Formatter().formatException(record.exc_info)
        )
    return record


class RedactingFilter(logging.Filter):
    """Masks a record that reaches a handler (for handlers configured explicitly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def install_record_factory() -> None:
    """Mask every record at creation, process-wide (idempotent)."""
    global _installed
    if _installed:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True


def redacting_filter() -> RedactingFilter:
    """The ``()`` factory named in ``logging.yml``: installs the record factory too."""
    install_record_factory()
    return RedactingFilter()
