"""The WeChat customer-service message API, for answers that miss the 5-second window.

:class:`WeChatApiClient` fetches an access token from ``/cgi-bin/token``, keeps
it until shortly before it expires, and sends text through
``/cgi-bin/message/custom/send``.  :class:`WeChatCustomerServiceOutput` is the
Rasa ``OutputChannel`` on top of it: the slow path of the channel uses it, and
so does Rasa when it sends to a WeChat user outside a request (reminders,
``/conversations/{id}/trigger_intent?output_channel=wechat``).  Rasa addresses
a WeChat user by the sender id ``wechat:<OpenID>``; the API gets the bare OpenID.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Callable, Dict, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import OutputChannel

from bot.channels.wechat.constants import CHANNEL_NAME, openid_of
from bot.channels.wechat.memory import UserMemory
from bot.channels.wechat.render import plain_text, render_messages, split_for_wechat

logger = logging.getLogger(__name__)

# errcodes that mean "this access token is no good": fetch a new one and retry once
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# refresh this long before WeChat says the token expires (at most half its life)
TOKEN_REFRESH_MARGIN_SECONDS = 300.0


class WeChatApiError(Exception):
    """The WeChat API refused a call or could not be reached."""

    def __init__(self, message: str, errcode: Optional[int] = None) -> None:
        super().__init__(message)
        self.errcode = errcode


class WeChatApiClient:
    """A small asynchronous client for the two API calls the channel needs."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        timeout_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._app_id = app_id
        self._app_secret = app_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._clock = clock
        self._session: Optional[aiohttp.ClientSession] = None
        self._token: Optional[str] = None
        self._token_expires_at = 0.0
        self._token_lock: Optional[asyncio.Lock] = None

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use, inside the server's event loop (never at import).
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        """Release the HTTP session at shutdown."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def access_token(self) -> str:
        """A valid access token, from the cache or freshly fetched."""
        if self._token and self._clock() < self._token_expires_at:
            return self._token
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:  # one fetch even when many sends wait
            if self._token and self._clock() < self._token_expires_at:
                return self._token
            data = await self._call(
                "GET",
                "/cgi-bin/token",
                params={
                    "grant_type": "client_credential",
                    "appid": self._app_id,
                    "secret": self._app_secret,
                },
            )
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatApiError("token response without access_token")
            expires_in = float(data.get("expires_in") or 7200)
            margin = min(TOKEN_REFRESH_MARGIN_SECONDS, expires_in / 2)
            self._token = token
            self._token_expires_at = self._clock() + expires_in - margin
            logger.info("wechat.api.token_refreshed expires_in=%s", int(expires_in))
            return token

    def invalidate_token(self) -> None:
        """Forget the cached token so the next call fetches one (after WeChat rejects
        it)."""
        self._token = None
        self._token_expires_at = 0.0

    async def send_text(self, openid: str, content: str) -> None:
        """Send one customer-service text message to ``openid``."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        for attempt in (1, 2):
            token = await self.access_token()
            try:
                await self._call(
                    "POST",
                    "/cgi-bin/message/custom/send",
                    params={"access_token": token},
                    payload=body,
                )
                return
            except WeChatApiError as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1:
                    self.invalidate_token()
                    continue
                raise

    async def _call(
        self,
        method: str,
        path: str,
        params: Dict[str, str],
        payload: Optional[Dict[str, Any]] = None,
    ) -> Dict[str, Any]:
        """One API call; errcode != 0 and transport failures raise WeChatApiError.

        The query string carries the secret or the token, so only ``path`` is
        ever logged.
        """
        kwargs: Dict[str, Any] = {"params": params}
        if payload is not None:
            # WeChat shows \\uXXXX escapes literally: send real UTF-8.
            kwargs["data"] = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        try:
            async with self._http().request(
                method, self.base_url + path, **kwargs
            ) as resp:
                if resp.status != 200:
                    raise WeChatApiError(f"{path}: HTTP {resp.status}")
                data = json.loads(await resp.read())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise WeChatApiError(f"{path}: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise WeChatApiError(f"{path}: unexpected answer")
        errcode = int(data.get("errcode") or 0)
        if errcode:
            raise WeChatApiError(
                f"{path}: errcode {errcode} {data.get('errmsg', '')}", errcode
            )
        return data


class WeChatCustomerServiceOutput(OutputChannel):
    """Sends Rasa's messages to a WeChat user through the customer-service API.

    ``recipient_id`` is the Rasa sender id (``wechat:<OpenID>``) or a bare OpenID.
    """

    def __init__(
        self, api: WeChatApiClient, memory: UserMemory, max_reply_bytes: int
    ) -> None:
        self.api = api
        self.memory = memory
        self.max_reply_bytes = max_reply_bytes

    @classmethod
    def name(cls) -> Text:
        """The channel name used in ``credentials.yml`` and the webhook URL."""
        return CHANNEL_NAME

    async def send_text_message(
        self, recipient_id: Text, text: Text, **kwargs: Any
    ) -> None:
        """Send plain text, split to fit WeChat's per-message size limit."""
        openid = openid_of(recipient_id)
        for piece in split_for_wechat(plain_text(text), self.max_reply_bytes):
            await self.api.send_text(openid, piece)

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        **kwargs: Any,
    ) -> None:
        """WeChat has no buttons: send numbered options and remember them for the
        reply."""
        openid = openid_of(recipient_id)
        reply = render_messages(
            [{"text": text, "buttons": buttons}], self.memory.language(openid)
        )
        self.memory.remember_buttons(openid, reply.buttons)
        for rendered in reply.texts:
            await self.send_text_message(recipient_id, rendered)

    async def send_image_url(
        self, recipient_id: Text, image: Text, **kwargs: Any
    ) -> None:
        """Send the image URL as text; customer-service images need uploaded media."""
        await self.send_text_message(recipient_id, image)

    async def send_attachment(
        self, recipient_id: Text, attachment: Text, **kwargs: Any
    ) -> None:
        """Send the attachment URL as text, the one form every WeChat client shows."""
        await self.send_text_message(recipient_id, attachment)

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        """Custom payloads have no WeChat form, so they are skipped (and logged at
        debug)."""
        logger.debug("wechat.output.custom_json_skipped")
