"""The scaled topology (nginx, 2 Rasa servers, 2 action servers, 2 backend
processes, PostgreSQL, Redis, RabbitMQ), started once for the package's tests
that leave it whole; tests that break things start their own
(``test_faults.py``)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.fake_wechat import FakeWeChatApi
from tests.support.scaled import remove_scaled_stack, start_scaled_stack
from tools.scaled import ScaledStack


@pytest.fixture(scope="package")
def scaled(wechat_api: FakeWeChatApi) -> Iterator[ScaledStack]:
    """The topology on throw-away databases, a unique Redis prefix and queue.

    WeChat runs in safe mode with the test account against ``wechat_api``.
    Teardown stops every process, drops the databases, deletes the keys and
    the queue.
    """
    from tests.support.wechat_app import AES_KEY, APP_ID, APP_SECRET, TOKEN

    stack = start_scaled_stack(
        replicas=2,
        actions=2,
        extra_env={
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APP_ID": APP_ID,
            "WECHAT_APP_SECRET": APP_SECRET,
            "WECHAT_ENCODING_AES_KEY": AES_KEY,
            "WECHAT_API_BASE_URL": wechat_api.base_url,
        },
    )
    try:
        yield stack
    finally:
        remove_scaled_stack(stack)
