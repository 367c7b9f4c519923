"""Attacks on log redaction (common/log_redaction.py)."""

from __future__ import annotations

import io
import logging

from common.log_redaction import RedactingFilter, install_record_factory

ID = "330102199003071230"


def test_bad_format_args_do_not_raise_in_the_caller() -> None:
    install_record_factory()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.security.badargs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error("count %d for %s", "not a number", ID)  # a logging bug
        logger.error("too few %s %s", ID)
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert ID not in output
    assert "330102********1230" in output and "bad log arguments" in output


def test_unprintable_message_does_not_raise_in_the_caller() -> None:
    class Hostile:
        def __str__(self) -> str:
            raise ValueError("no")

        def __repr__(self) -> str:
            raise ValueError("no")

    install_record_factory()
    record = logging.getLogger("any").makeRecord(
        "any", logging.ERROR, __file__, 1, Hostile(), (Hostile(),), None
    )
    assert "unprintable" in record.getMessage()


def test_python_warnings_with_an_id_number_are_masked() -> None:
    """Rasa warns "Failed to parse arguments in line '/greet{...}'" with the user's text.

    Run in a fresh interpreter: pytest replaces ``warnings.showwarning`` per test.
    """
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import logging, warnings\n"
        "from common.log_redaction import redacting_filter\n"
        "handler = logging.StreamHandler()\n"
        "handler.addFilter(redacting_filter())\n"
        "logging.getLogger().addHandler(handler)\n"
        'warnings.warn("Failed to parse arguments in line \'/greet{\\"x\\":'
        '\\"110101199003074477\\"}\'", stacklevel=1)\n'
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Failed to parse arguments" in result.stderr, result.stderr
    assert "110101199003074477" not in result.stderr + result.stdout
    assert "110101********4477" in result.stderr
