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
import re
from typing import Any, Callable

from common.redaction import redact_text

_installed = False
# A web sender id is ``web:<server-issued session id>``: a credential (whoever
# has it continues the conversation), so logs show only its first characters.
_WEB_SESSION = re.compile(r"(web:[0-9a-fA-F]{6})[0-9a-fA-F]{10,}")


def redact_log_text(text: str) -> str:
    """``text`` as a log may keep it: personal data masked, session ids cut."""
    return _WEB_SESSION.sub(r"\1…", redact_text(text))


def _message_of(record: logging.LogRecord) -> str:
    """``record.getMessage()``, or, if formatting fails (a logging bug such as
    ``log("%d", "x")``), the message and the repr of its arguments: a bad log
    call must never raise in the caller."""
    try:
        return record.getMessage()
    except Exception:  # noqa: BLE001
        pass
    try:
        message = str(record.msg)
    except Exception:  # noqa: BLE001
        message = "<unprintable log message>"
    try:
        arguments = repr(record.args)
    except Exception:  # noqa: BLE001
        arguments = "<unprintable arguments>"
    return f"{message} (bad log arguments: {arguments})"


def _redact_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        record.msg = redact_log_text(_message_of(record))
    except Exception:  # noqa: BLE001 - never log what could not be redacted
        record.msg = "[redacted: failed]"
    record.args = ()
    if record.exc_info and not record.exc_text:
        try:
            record.exc_text = redact_log_text(
                logging.Formatter().formatException(record.exc_info)
            )
        except Exception:  # noqa: BLE001
            record.exc_text = "[redacted: traceback could not be formatted]"
    return record


class RedactingFilter(logging.Filter):
    """Masks a record that reaches a handler (for handlers configured explicitly)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the record in place and always keep it."""
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
    # Python warnings (Rasa warns with the user's text, e.g. "Failed to parse
    # arguments in line '/greet{...}'") would go straight to stderr, around the
    # records; as ``py.warnings`` records they are masked like the rest.
    logging.captureWarnings(True)
    _installed = True


def redacting_filter() -> RedactingFilter:
    """The ``()`` factory named in ``logging.yml``: installs the record factory too."""
    install_record_factory()
    return RedactingFilter()
