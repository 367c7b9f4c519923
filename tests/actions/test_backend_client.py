"""``BackendClient`` against a real backend, a closed port, a slow server and a
broken one."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import date
from decimal import Decimal
from typing import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from actions.backend_client import (
    BackendClient,
    BackendRequestError,
    BackendUnavailable,
    CodeExpired,
    CodeLocked,
    ContributionSummary,
    InvalidIdNumber,
    RateLimited,
    TokenRejected,
    VerificationStarted,
    WrongCode,
)
from tests.support.backend import Backend, BackendFactory, unique_id_number, wrong_code

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[BackendClient]:
    async with BackendClient(backend.url) as client:
        yield client


async def fake_server(handler: Handler) -> tuple:
    """A tiny local HTTP server answering every request with ``handler``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


def test_construction_is_lazy() -> None:
    client = BackendClient("http://127.0.0.1:9", timeout=1.0)  # no loop, no I/O
    assert client._session is None


async def test_full_flow(backend: Backend, client: BackendClient) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number, phone="13912345678")
    backend.pay(
        id_number, "2025-02", amount="35.50", channel="bank", paid_on="2025-02-03"
    )

    started = await client.start_verification(
        f" {id_number[:6]} {id_number[6:].lower()} "
    )
    assert started == VerificationStarted(masked_phone="139****5678", expires_in=300)
    token = await client.check_code(id_number, backend.outbox_codes(id_number)[-1])

    summary = await client.contributions(token, 2025)
    assert isinstance(summary, ContributionSummary)
    assert summary.year == 2025 and summary.residency_type == "urban"
    assert summary.masked_id_number == id_number[:6] + "********" + id_number[-4:]
    assert summary.enrollment.since == date(2024, 1, 1)
    assert summary.enrollment.monthly_amount == Decimal("35.00")
    assert summary.paid_months == ("2025-02",)
    assert summary.total_paid == Decimal("35.50")
    assert summary.arrears.count == 5 and summary.arrears.amount == Decimal("175.00")
    assert summary.last_payment is not None and summary.last_payment.channel == "bank"
    assert summary.last_payment.paid_on == date(2025, 2, 3)

    default_year = await client.contributions(token)
    assert default_year.year == 2025  # the backend's clock says June 2025


async def test_wrong_then_locked(backend: Backend, client: BackendClient) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    await client.start_verification(id_number)
    code = backend.outbox_codes(id_number)[-1]
    for expected in (4, 3, 2, 1, 0):
        with pytest.raises(WrongCode) as wrong:
            await client.check_code(id_number, wrong_code(code))
        assert wrong.value.remaining_attempts == expected
    with pytest.raises(CodeLocked):
        await client.check_code(id_number, code)


async def test_expired_and_missing_codes(
    backend: Backend, client: BackendClient
) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    with pytest.raises(CodeExpired) as missing:
        await client.check_code(id_number, "123456")
    assert missing.value.code == "no_active_code"
    await client.start_verification(id_number)
    backend.clock.advance(minutes=5)
    with pytest.raises(CodeExpired) as expired:
        await client.check_code(id_number, backend.outbox_codes(id_number)[-1])
    assert expired.value.code == "code_expired"


async def test_client_key_gives_each_conversation_its_budget(
    make_backend: BackendFactory,
) -> None:
    backend = make_backend(starts_per_client=1)
    secret = backend.settings.client_secret
    async with BackendClient(backend.url, client_secret=secret) as client:
        await client.start_verification(unique_id_number(), client_key="sender-1")
        with pytest.raises(RateLimited):
            await client.start_verification(unique_id_number(), client_key="sender-1")
        await client.start_verification(unique_id_number(), client_key="发送者-2")


async def test_rate_limited(backend: Backend, client: BackendClient) -> None:
    id_number = unique_id_number()
    for _ in range(3):
        await client.start_verification(id_number)
    with pytest.raises(RateLimited) as limited:
        await client.start_verification(id_number)
    assert limited.value.retry_after == 600


async def test_invalid_inputs(backend: Backend, client: BackendClient) -> None:
    with pytest.raises(InvalidIdNumber):
        await client.start_verification("110105194912310021")
    with pytest.raises(BackendRequestError) as bad_code:
        await client.check_code(unique_id_number(), "12ab56")
    assert bad_code.value.code == "invalid_field" and bad_code.value.status == 400


async def test_bad_tokens(backend: Backend, client: BackendClient) -> None:
    with pytest.raises(TokenRejected) as rejected:
        await client.contributions("not-a-real-token-0123456789", 2025)
    assert rejected.value.code == "invalid_token"
    id_number = unique_id_number()
    backend.create_person(id_number)
    token = backend.login(id_number)
    backend.clock.advance(minutes=15)
    with pytest.raises(TokenRejected) as expired:
        await client.contributions(token, 2025)
    assert expired.value.code == "token_expired"


async def test_health(backend: Backend, client: BackendClient) -> None:
    assert await client.health() is True


async def test_unreachable_backend() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with BackendClient(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(BackendUnavailable):
            await client.start_verification("11010519491231002X")
        assert await client.health() is False


async def test_slow_backend_times_out_after_three_seconds() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3.5)
        return web.json_response(
            {"sent": True, "masked_phone": "138****1234", "expires_in": 300}
        )

    runner, url = await fake_server(slow)
    try:
        async with BackendClient(url) as client:  # the default timeout: 3 s
            began = time.monotonic()
            with pytest.raises(BackendUnavailable):
                await client.start_verification("11010519491231002X")
            assert 2.9 <= time.monotonic() - began < 3.5
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    "status, body, content_type",
    [
        (500, '{"error": "internal_error", "message": "x"}', "application/json"),
        (503, "<html>Service Unavailable</html>", "text/html"),
        (502, "", "text/plain"),
        (200, "not json", "text/plain"),
        (200, "[1, 2]", "application/json"),
        (200, '{"unexpected": true}', "application/json"),
    ],
)
async def test_broken_answers_mean_unavailable(
    status: int, body: str, content_type: str
) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=status, text=body, content_type=content_type)

    runner, url = await fake_server(broken)
    try:
        async with BackendClient(url, timeout=1.0) as client:
            with pytest.raises(BackendUnavailable):
                await client.start_verification("11010519491231002X")
            with pytest.raises(BackendUnavailable):
                await client.contributions("some-token", 2025)
    finally:
        await runner.cleanup()


async def test_session_survives_a_new_event_loop(backend: Backend) -> None:
    """One client object can be reused from another loop (as across tests)."""
    client = BackendClient(backend.url)
    assert await client.health()
    first_session = client._session

    def in_another_loop() -> bool:
        return asyncio.run(client.health())

    assert await asyncio.get_running_loop().run_in_executor(None, in_another_loop)
    assert client._session is not first_session
    await client.close()
    if first_session is not None and not first_session.closed:
        await first_session.close()
