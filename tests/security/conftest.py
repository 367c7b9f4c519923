"""The web tests' browser, fake Rasa and web server, for the widget attacks."""

from tests.web.conftest import (  # noqa: F401
    artifacts,
    browser,
    fake_rasa,
    start_web_server,
)
