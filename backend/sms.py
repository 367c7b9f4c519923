"""The HTTP SMS gateway adapter: one JSON POST per one-time code.

``HttpSmsSender`` posts ``{"phone": ..., "template_id": ..., "params": {"code":
...}}`` to ``BACKEND_SMS_URL`` with ``Authorization: Bearer
<BACKEND_SMS_API_KEY>``.  A 2xx answer is a delivery; 5xx, 429, timeouts and
connection errors are retried with exponential backoff (``backoff``,
``2*backoff``, ``4*backoff`` ... at most ``max_backoff``), at most
``BACKEND_SMS_RETRIES`` times after the first attempt; any other 4xx is not
retried (the request itself is wrong: a bad key or template).  A delivery that
finally fails is logged with the masked phone, the attempts and the last
status or error type, at ERROR — never the number, the code or the gateway's answer
(which may echo both) — and counted in ``shebao_backend_sms_failures_total``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Optional

import aiohttp

from backend.metrics import SMS_DELIVERIES, SMS_FAILURES
from backend.senders import CodeMessage
from common.identity import mask_phone

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
RETRYABLE_STATUS = frozenset({429}) | frozenset(range(500, 600))


class HttpSmsSender:
    """Delivers codes through an HTTP SMS gateway (see the module docstring)."""

    def __init__(
        self,
        url: str,
        api_key: str,
        template_id: str,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not url or not template_id:
            raise ValueError("an SMS gateway needs a URL and a template id")
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise ValueError("timeout must be positive, retries and backoff >= 0")
        self.url = url
        self.template_id = template_id
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._api_key = api_key
        self._sleep = sleep
        self._session: Optional[aiohttp.ClientSession] = None

    def __repr__(self) -> str:  # never the key
        return f"HttpSmsSender(url={self.url!r}, template_id={self.template_id!r})"

    def body(self, message: CodeMessage) -> Dict[str, Any]:
        """The JSON the gateway receives."""
        return {
            "phone": message.phone,
            "template_id": self.template_id,
            "params": {"code": message.code},
        }

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        return float(min(self.max_backoff, self.backoff * (2 ** (attempt - 1))))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Authorization": f"Bearer {self._api_key}"},
            )
        return self._session

    async def close(self) -> None:
        """Release the HTTP session at shutdown."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def _attempt(self, message: CodeMessage) -> Optional[str]:
        """``None`` on success, else why (``status 503``, ``TimeoutError``),
        prefixed ``retry:`` when another attempt may succeed."""
        try:
            async with self._client().post(self.url, json=self.body(message)) as answer:
                await answer.read()
                if 200 <= answer.status < 300:
                    return None
                reason = f"status {answer.status}"
                return (
                    f"retry:{reason}" if answer.status in RETRYABLE_STATUS else reason
                )
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            return f"retry:{type(exc).__name__}"

    async def send(self, message: CodeMessage) -> None:
        """Deliver ``message``; a final failure is logged and counted here (the
        resident can ask for a new code), never raised."""
        reason = "not attempted"
        attempts = 0
        for attempt in range(self.retries + 1):
            if attempt:
                await self._sleep(self.delay(attempt))
            attempts += 1
            result = await self._attempt(message)
            if result is None:
                SMS_DELIVERIES.inc()
                return
            reason = result.removeprefix("retry:")
            if not result.startswith("retry:"):
                break
        SMS_FAILURES.labels(reason=reason.split(" ")[0]).inc()
        logger.error(
            "SMS delivery to %s failed after %d attempt(s): %s",
            mask_phone(message.phone),
            attempts,
            reason,
        )
