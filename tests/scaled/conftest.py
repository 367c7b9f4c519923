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
    from tests.support.wechat_app import stack_env

    stack = start_scaled_stack(
        replicas=2,
        actions=2,
        extra_env=stack_env(wechat_api.base_url),
    )
    try:
        yield stack
    finally:
        remove_scaled_stack(stack)
