"""The log filter masks secrets in messages, arguments and tracebacks."""

import io
import logging

from common.log_redaction import RedactingFilter


def test_log_records_are_redacted():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.error(
            "user said %s",
            "我的身份证号是11010519491231002X 电话13812341234 验证码482913",
        )
        try:
            raise ValueError("bad id 11010519491231002X")
        except ValueError:
            logger.exception("failed for 13812341234")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    for secret in ("11010519491231002X", "13812341234", "482913"):
        assert secret not in output
    assert "110105********002X" in output and "138****1234" in output
    assert "ValueError" in output  # the traceback is kept, masked


def test_record_factory_masks_records_of_any_handler():
    from common.log_redaction import install_record_factory

    install_record_factory()
    record = logging.getLogger("any").makeRecord(
        "any", logging.ERROR, __file__, 1, "id %s", ("11010519491231002X",), None
    )
    assert record.getMessage() == "id 110105********002X"


def test_a_web_session_id_in_a_log_is_cut_to_its_first_characters():
    from common.log_redaction import redact_log_text

    session = "3f9a1c" + "0123456789abcdef" * 3 + "7e5d4c3b2a19f8e7"
    line = f"Exception for sender_id='web:{session}' text='hello'"
    logged = redact_log_text(line)
    assert session not in logged and session[6:20] not in logged
    assert "web:3f9a1c…" in logged
    assert redact_log_text("sender rest:abcdef") == "sender rest:abcdef"
