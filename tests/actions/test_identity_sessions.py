"""Identity sessions behind the storage seam: in memory, and shared through Redis.

A verification started on one action server is completed on another when
both share Redis; nothing of the ID number, the code, the phone or the token
is readable there; and a Redis that is down ends the inquiry with "try later"
before any code is sent, never with a crash.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.inquiry as inquiry
from actions.config import settings
from actions.identity_sessions import SESSIONS, IdentitySessions
from actions.inquiry import (
    ActionFetchContributions,
    ActionResetInquiry,
    ValidateContributionInquiryForm,
)
from actions.session import ActionEndChat
from common.redis_storage import RedisStorage
from common.storage import MemoryStorage, Storage
from tests.support.backend import Backend, sqlite_only, unique_id_number, wrong_code
from tests.support.ids import sender_id
from tests.support.redis_fixtures import SECRET, dump_prefix

PHONE = "13912345678"


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    make: Callable[[str], RedisStorage] = request.getfixturevalue("redis_storage")
    return make("identity")


def test_pending_number_wrong_codes_and_bound_token(storage: Storage) -> None:
    sessions = IdentitySessions(storage)
    sessions.code_sent("s", "11010519491231002X", ttl=60)
    assert sessions.pending_id_number("s") == "11010519491231002X"
    assert [sessions.wrong_code("s") for _ in range(2)] == [1, 2]
    assert sessions.wrong_code("nobody") == 0
    sessions.verified("s", "tok", ttl=60, channel="socketio", client="c1")
    assert sessions.pending_id_number("s") is None  # the number is dropped at once
    assert sessions.token("s", "socketio", "c1") == "tok"
    assert sessions.token("s", "rest", "c1") is None
    assert sessions.token("s", "socketio", "c2") is None
    sessions.end("s")
    assert sessions.token("s", "socketio", "c1") is None


def test_a_wrong_code_keeps_the_codes_deadline() -> None:
    now = [1000.0]
    storage = MemoryStorage(clock=lambda: now[0])
    sessions = IdentitySessions(storage, clock=lambda: now[0])
    sessions.code_sent("s", "11010519491231002X", ttl=60)
    now[0] = 1050
    sessions.wrong_code("s")
    now[0] = 1060
    assert sessions.pending_id_number("s") is None


# ---- two action servers, one conversation ---------------------------------------
@pytest.fixture
def action_env(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Dict[str, str]], None]]:
    """Start "an action server process": its env, its backend client, fresh state."""

    def start(env: Dict[str, str]) -> None:
        for name in ("SHEBAO_REDIS_URL", "SHEBAO_REDIS_PREFIX", "SHEBAO_REDIS_SECRET"):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SHEBAO_BACKEND_URL", backend.url)
        monkeypatch.setattr(inquiry, "_client", None)
        settings.cache_clear()
        SESSIONS.reset()  # nothing of the previous "process" is left in memory

    yield start
    SESSIONS.reset()


@pytest.fixture
def resident(backend: Backend) -> str:
    id_number = unique_id_number()
    backend.create_person(id_number, phone=PHONE)
    backend.pay(id_number, "2024-01")
    return id_number


def tracker_for(sender: str, slots: Any = None) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": slots or {},
            "latest_message": {"text": "", "intent": {}, "entities": []},
            "events": [],
            "active_loop": {"name": "contribution_inquiry_form"},
        }
    )


async def _verify(
    backend: Backend,
    resident: str,
    sender: str,
    domain: Any,
    between: Callable[[], None],
) -> Dict[str, Any]:
    """ID number on one server, then ``between()``, then the code; the code slots."""
    form = ValidateContributionInquiryForm()
    tracker = tracker_for(sender)
    started = await form.validate_id_number(
        resident, CollectingDispatcher(), tracker, domain
    )
    assert started["masked_phone"] == "139****5678"
    between()
    code = backend.outbox_codes(resident)[-1]
    return await form.validate_verification_code(
        code, CollectingDispatcher(), tracker, domain
    )


@sqlite_only
async def test_a_verification_started_on_one_server_completes_on_another(
    backend: Backend, resident: str, redis_env: Dict[str, str], action_env, domain
) -> None:
    sender = sender_id("t", 10)
    action_env(redis_env)  # server A
    slots = await _verify(
        backend,
        resident,
        sender,
        domain,
        lambda: action_env(redis_env),  # server B
    )
    assert slots == {"verification_code": "******", "code_problem": None}
    action_env(redis_env)  # a follow-up question reaches a third one
    events = await ActionFetchContributions().run(
        CollectingDispatcher(), tracker_for(sender, {"inquiry_year": "2024"}), domain
    )
    values = {e["name"]: e["value"] for e in events}
    assert values["inquiry_outcome"] == "in_arrears"
    assert values["paid_months"] == "January 2024"


@sqlite_only
async def test_without_shared_state_another_server_cannot_complete_it(
    backend: Backend, resident: str, action_env, domain
) -> None:
    """The control: each process's memory alone does not carry a verification over."""
    action_env({})
    slots = await _verify(
        backend, resident, sender_id("t", 10), domain, lambda: action_env({})
    )
    assert slots["inquiry_failure"] == "code_expired"


@sqlite_only
async def test_nothing_secret_is_readable_in_redis_during_a_verified_inquiry(
    backend: Backend,
    resident: str,
    redis_env: Dict[str, str],
    redis_url: str,
    redis_prefix: str,
    action_env,
    domain,
) -> None:
    sender = sender_id("web", 10)  # a web sender id is the browser's session secret
    action_env(redis_env)
    seen = []
    form = ValidateContributionInquiryForm()
    tracker = tracker_for(sender)
    await form.validate_id_number(resident, CollectingDispatcher(), tracker, domain)
    seen += dump_prefix(redis_url, redis_prefix)
    code = backend.outbox_codes(resident)[-1]
    await form.validate_verification_code(
        wrong_code(code), CollectingDispatcher(), tracker, domain
    )
    seen += dump_prefix(redis_url, redis_prefix)
    await form.validate_verification_code(code, CollectingDispatcher(), tracker, domain)
    seen += dump_prefix(redis_url, redis_prefix)
    token = SESSIONS.token(sender, None, sender)
    assert token
    assert len(seen) == 3  # one entry at a time: the pending number, then the token
    secrets = [resident, resident[-4:] + resident[:6], code, PHONE, token, sender]
    for key, value in seen:
        for secret in secrets:
            assert secret.encode() not in key and secret.encode() not in value
    await ActionEndChat().run(CollectingDispatcher(), tracker, domain)
    assert dump_prefix(redis_url, redis_prefix) == []


# ---- Redis down: "try later", no code sent, no crash ----------------------------
@sqlite_only
async def test_a_redis_that_is_down_ends_the_inquiry_with_try_later(
    backend: Backend, resident: str, closed_redis_url: str, action_env, domain
) -> None:
    action_env({"SHEBAO_REDIS_URL": closed_redis_url, "SHEBAO_REDIS_SECRET": SECRET})
    sender = sender_id("t", 10)
    form = ValidateContributionInquiryForm()
    dispatcher = CollectingDispatcher()
    tracker = tracker_for(sender)
    assert (
        await form.required_slots(inquiry.FORM_SLOTS, dispatcher, tracker, domain) == []
    )
    slots = await form.validate_id_number(resident, dispatcher, tracker, domain)
    assert slots["inquiry_failure"] == "unavailable" and slots["id_number"] is None
    assert backend.outbox_codes(resident) == []  # no SMS for a check that cannot go on
    slots = await form.validate_verification_code("123456", dispatcher, tracker, domain)
    assert slots["inquiry_failure"] == "unavailable"
    events = await ActionFetchContributions().run(
        dispatcher, tracker_for(sender), domain
    )
    assert {"name": "inquiry_outcome", "value": "unavailable"} in [
        {k: e.get(k) for k in ("name", "value")} for e in events
    ]
    await ActionResetInquiry().run(dispatcher, tracker, domain)  # no exception
    await ActionEndChat().run(dispatcher, tracker, domain)
