"""EventQueueSettings: the broker URL and queue both Rasa and the console use."""

from __future__ import annotations

import pytest

from common.env import ConfigError
from common.event_queue import EventQueueSettings, censored_url


def test_no_url_means_no_broker() -> None:
    settings = EventQueueSettings.from_env({})
    assert not settings.enabled
    assert settings.queue == settings.exchange == "shebao.events"
    assert not EventQueueSettings.from_env({"SHEBAO_EVENT_BROKER_URL": "  "}).enabled


def test_variables_are_read() -> None:
    settings = EventQueueSettings.from_env(
        {
            "SHEBAO_EVENT_BROKER_URL": "amqps://u:secret@rabbit:5671/%2F",
            "SHEBAO_EVENT_QUEUE": "events.city",
        }
    )
    assert settings.enabled and settings.queue == "events.city"
    assert settings.display_url == "amqps://u:******@rabbit:5671/%2F"


@pytest.mark.parametrize(
    "url", ["http://rabbit:5672/", "rabbit:5672", "redis://x:secret@h/0"]
)
def test_a_url_that_is_not_amqp_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError, match="SHEBAO_EVENT_BROKER_URL") as error:
        EventQueueSettings.from_env({"SHEBAO_EVENT_BROKER_URL": url})
    assert "secret" not in str(error.value)


def test_queue_name_must_fit_amqp() -> None:
    with pytest.raises(ConfigError, match="SHEBAO_EVENT_QUEUE"):
        EventQueueSettings(queue="q" * 256)


def test_censored_url_hides_only_the_password() -> None:
    assert censored_url("amqp://guest:guest@127.0.0.1:5672/%2F") == (
        "amqp://guest:******@127.0.0.1:5672/%2F"
    )
    assert censored_url("amqp://127.0.0.1/") == "amqp://127.0.0.1/"
    assert "secret" not in censored_url("amqp://u:secret@[::1/")
