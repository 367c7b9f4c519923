"""The WeChat Official Account (公众号) input channel.

Register it in ``credentials.yml`` as ``bot.channels.wechat.WeChatInput:``; WeChat
then calls ``http://<host>:5005/webhooks/wechat/webhook``:

* ``GET``: the URL check (signature, timestamp, nonce, echostr).
* ``POST``: a message or event, plain or AES-encrypted (safe mode).  Forged,
  stale, malformed or hostile requests get a 4xx with a stable ``reason`` and
  never reach Rasa (see :mod:`bot.channels.wechat.protocol`).

A text message goes to Rasa, cleaned like every channel's
(:func:`common.text.clean_user_text`), with the sender id ``wechat:<OpenID>``
(replies go to the bare OpenID).  If Rasa
answers within the reply budget (4.5 s by default; WeChat gives up after 5 s),
the answer goes back as a passive XML reply; otherwise the channel answers
``success`` at once and delivers the answer through the customer-service API
(:mod:`bot.channels.wechat.api`).  WeChat's retries of the same message share
the first processing (:mod:`bot.channels.wechat.dedup`), on whichever Rasa
replica they arrive.  Settings: :mod:`bot.channels.wechat.config`; outside
``SHEBAO_ENV=development`` the channel refuses to start with development
secrets or without safe mode.  Replay guard, dedup and per-user memory share
one :class:`common.storage.Storage` in the ``wechat`` namespace: this
process's memory, or Redis with ``SHEBAO_REDIS_URL``
(:func:`common.redis_storage.storage_from_env`).  A user over the message rate
limit (:mod:`bot.channels.rate_limit`, per OpenID: every callback comes from
WeChat's servers, so there is no client address to count) gets a polite passive
reply instead of a Rasa turn — WeChat still gets its 200.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import (
    CollectingOutputChannel,
    InputChannel,
    OutputChannel,
    UserMessage,
)
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.rate_limit import MessageRateLimiter, rate_limited_notice
from bot.channels.wechat.api import (
    WeChatApiClient,
    WeChatApiError,
    WeChatCustomerServiceOutput,
)
from bot.channels.wechat.config import WeChatSettings
from bot.channels.wechat.constants import (
    CHANNEL_NAME,
    STORAGE_NAMESPACE,
    SUCCESS,
    sender_id_of,
)
from bot.channels.wechat.dedup import Deduplicator, Followed, Job
from bot.channels.wechat.memory import UserMemory
from bot.channels.wechat.menu import load_menu
from bot.channels.wechat.protocol import (
    Incoming,
    RequestRejected,
    SignedParams,
    WeChatProtocol,
)
from bot.channels.wechat.render import (
    IMAGE_NOTICE,
    LOCATION_NOTICE,
    TEXT_ONLY_NOTICE,
    TROUBLE_NOTICE,
    RenderedReply,
    language_of,
    numeric_choice,
    render_messages,
)
from common.language import detect_language
from common.redaction import redact_text
from common.redis_storage import storage_from_env
from common.storage import Storage
from common.text import clean_user_text

logger = logging.getLogger(__name__)

WELCOME_EVENTS = frozenset({"subscribe", "subscribe_scan"})
TEXT_TYPES = frozenset({"text", "voice"})
# Non-text messages with an answer of their own (others get TEXT_ONLY_NOTICE).
MEDIA_NOTICES = {"image": IMAGE_NOTICE, "location": LOCATION_NOTICE}

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class _ReplyCollector(CollectingOutputChannel):
    """Collects Rasa's messages for one WeChat message, one entry per response.

    Rasa's collector splits texts at blank lines; WeChat shows a response's
    paragraphs best together, so texts are kept whole.
    """

    async def send_text_message(
        self, recipient_id: Text, text: Text, **kwargs: Any
    ) -> None:
        await self._persist_message(self._message(recipient_id, text=text))


def mask_openid(openid: str) -> str:
    """An OpenID shortened for logs: enough to correlate, not to address the user."""
    return f"{openid[:4]}…{openid[-4:]}" if len(openid) > 10 else "…"


def error_response(rejected: RequestRejected) -> HTTPResponse:
    """The JSON error body, in the shape of Rasa's own API errors."""
    return response.json(
        {
            "status": "failure",
            "reason": rejected.reason,
            "message": rejected.message,
            "code": rejected.status,
        },
        status=rejected.status,
    )


class WeChatInput(InputChannel):
    """Rasa input channel for a WeChat Official Account callback URL."""

    @classmethod
    def name(cls) -> Text:
        """The channel name used in ``credentials.yml`` and the webhook URL."""
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "WeChatInput":
        """Build from ``credentials.yml``, with environment variables taking
        precedence."""
        return cls(WeChatSettings.load(credentials))

    def __init__(
        self,
        settings: Optional[WeChatSettings] = None,
        storage: Optional[Storage] = None,
        rate_limiter: Optional[MessageRateLimiter] = None,
    ) -> None:
        self.settings = settings or WeChatSettings.load()
        mode = self.settings.require_deployable()  # WeChatConfigError if unsafe
        self.storage: Storage = (
            storage if storage is not None else storage_from_env(STORAGE_NAMESPACE)
        )
        self.protocol = WeChatProtocol(self.settings, self.storage)
        self.api = WeChatApiClient(
            self.settings.api_base_url,
            self.settings.app_id,
            self.settings.app_secret,
            self.settings.api_timeout_seconds,
        )
        self.memory = UserMemory(
            self.settings.buttons_ttl_seconds, storage=self.storage
        )
        self.jobs: Deduplicator[RenderedReply] = Deduplicator(storage=self.storage)
        self.rate_limiter = rate_limiter or MessageRateLimiter.from_env()
        # The custom menu's CLICK keys (menu.json, the file uploaded to WeChat).
        self.menu: Dict[str, str] = load_menu()
        if self.settings.uses_dev_secrets:
            logger.warning(
                "wechat channel uses development credentials (SHEBAO_ENV=%s); set "
                "WECHAT_TOKEN, WECHAT_APP_ID and WECHAT_APP_SECRET for a real "
                "official account",
                mode,
            )

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The customer-service API, for messages Rasa sends outside a request."""
        return WeChatCustomerServiceOutput(
            self.api, self.memory, self.settings.max_reply_bytes
        )

    # ---- HTTP -----------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The GET verification and POST message routes WeChat calls."""
        module = inspect.getmodule(self)
        webhook = Blueprint(
            f"custom_webhook_{type(self).__name__}",
            module.__name__ if module else None,
        )

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            try:
                echostr = self.protocol.verify_url(request.args)
            except RequestRejected as rejected:
                logger.warning("wechat.verify.rejected reason=%s", rejected.reason)
                return error_response(rejected)
            logger.info("wechat.verify.ok")
            return response.text(echostr)

        @webhook.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            started = time.monotonic()
            try:
                body = await self._read_body(request)
                incoming, params = self.protocol.open_request(request.args, body)
            except RequestRejected as rejected:
                logger.warning("wechat.request.rejected reason=%s", rejected.reason)
                return error_response(rejected)
            job, first = self.jobs.claim(
                incoming.dedup_key, lambda: self._process(incoming, on_new_message)
            )
            logger.info(
                "wechat.request.accepted user=%s type=%s%s key=%s %s",
                mask_openid(incoming.openid),
                incoming.msg_type,
                f"/{incoming.event}" if incoming.event else "",
                # the key names the user: the log shows the masked OpenID only
                incoming.dedup_key.replace(
                    incoming.openid, mask_openid(incoming.openid)
                ),
                "first"
                if first
                else f"retry#{job.requests - 1}"
                + (
                    " (claimed by another replica)" if isinstance(job, Followed) else ""
                ),
            )
            if isinstance(job, Followed):
                return await self._answer_followed(job, incoming, params, started)
            return await self._answer(job, incoming, params, started)

        @webhook.listener("after_server_stop")
        async def close_api(app: Any, loop: Any) -> None:
            await self.api.close()

        return webhook

    async def _read_body(self, request: Request) -> bytes:
        """The body, read no further than the size limit (413 beyond it)."""
        limit = self.settings.max_body_bytes
        too_large = RequestRejected(
            413, "payload_too_large", "request body is too large"
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        if request.stream is None:  # body already read by Sanic
            body = request.body or b""
            if len(body) > limit:
                raise too_large
            return body
        chunks: List[bytes] = []
        size = 0
        while True:
            chunk = await request.stream.read()
            if chunk is None:
                break
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    # ---- answering within WeChat's 5 seconds ----------------------------------
    async def _answer(
        self,
        job: Job[RenderedReply],
        incoming: Incoming,
        params: SignedParams,
        started: float,
    ) -> HTTPResponse:
        """A passive reply if the job finishes within the budget, else ``success``."""
        remaining = self.settings.reply_budget_seconds - (time.monotonic() - started)
        if not job.decided and not job.task.done() and remaining > 0:
            try:
                await asyncio.wait({job.task}, timeout=remaining)
            except asyncio.CancelledError:
                # WeChat hung up early (Sanic cancels the handler): the answer
                # must not be lost, so the customer-service API delivers it.
                self._defer(job, incoming.openid)
                raise
        if job.deferred:  # the customer-service API delivers (or already did)
            return response.text(SUCCESS)
        if job.passive:  # decided by another request for this message
            return self._passive_reply(job, incoming, params)
        # Rasa's turn is partly CPU-bound and can hold the event loop past the
        # timeout above, so the clock decides: a passive reply after the budget
        # may reach a WeChat that has already hung up.
        in_time = time.monotonic() - started <= self.settings.reply_budget_seconds
        if job.task.done() and in_time:
            joined = job.task.result().joined  # _process never raises
            if len(joined.encode("utf-8")) <= self.settings.max_reply_bytes:
                self.jobs.chose_passive(job, joined)
                return self._passive_reply(job, incoming, params)
        self._defer(job, incoming.openid)
        return response.text(SUCCESS)

    async def _answer_followed(
        self,
        job: Followed,
        incoming: Incoming,
        params: SignedParams,
        started: float,
    ) -> HTTPResponse:
        """A retry of a message another replica runs: its passive text, else ``success``.

        The owner delivers a deferred answer, so nothing is delivered from here.
        """
        remaining = self.settings.reply_budget_seconds - (time.monotonic() - started)
        if not job.decision.done() and remaining > 0:
            await asyncio.wait({job.decision}, timeout=remaining)
        in_time = time.monotonic() - started <= self.settings.reply_budget_seconds
        if in_time and job.decision.done() and not job.decision.cancelled():
            text = job.decision.result()
            if text:
                return self._passive_text(text, incoming, params)
        return response.text(SUCCESS)

    def _passive_reply(
        self, job: Job[RenderedReply], incoming: Incoming, params: SignedParams
    ) -> HTTPResponse:
        return self._passive_text(job.task.result().joined, incoming, params)

    def _passive_text(
        self, text: str, incoming: Incoming, params: SignedParams
    ) -> HTTPResponse:
        if not text:  # nothing to say (e.g. unsubscribe)
            return response.text(SUCCESS)
        xml = self.protocol.render_reply(incoming, text, params)
        logger.info("wechat.reply.passive user=%s", mask_openid(incoming.openid))
        return response.text(xml, content_type="application/xml; charset=utf-8")

    def _defer(self, job: Job[RenderedReply], openid: str) -> None:
        """Hand the job's answer to the customer-service API (once)."""
        if job.decided:
            return
        self.jobs.chose_deferred(job)
        job.delivery = asyncio.ensure_future(self._deliver(job, openid))
        job.delivery.add_done_callback(lambda _: self.jobs.keep(job))

    async def _deliver(self, job: Job[RenderedReply], openid: str) -> None:
        reply = await job.task
        output = self.get_output_channel()
        assert output is not None
        try:
            for text in reply.texts:
                await output.send_text_message(openid, text)
        except WeChatApiError as exc:
            logger.error(
                "wechat.reply.customer_service_failed user=%s errcode=%s error=%s",
                mask_openid(openid),
                exc.errcode,
                exc,
            )
            return
        except Exception:
            logger.exception(
                "wechat.reply.customer_service_failed user=%s", mask_openid(openid)
            )
            return
        logger.info(
            "wechat.reply.customer_service user=%s messages=%d",
            mask_openid(openid),
            len(reply.texts),
        )

    # ---- what each kind of message becomes ------------------------------------
    async def _process(
        self, incoming: Incoming, on_new_message: OnNewMessage
    ) -> RenderedReply:
        """The reply to one WeChat message (never raises)."""
        openid = incoming.openid
        try:
            if incoming.msg_type == "event":
                if incoming.event in WELCOME_EVENTS:
                    language = self.memory.language(openid)
                    # The assistant's own greeting, in the user's language
                    # (the payload's entity fills the `language` slot).
                    payload = '/greet{"language": "%s"}' % language
                    return await self._ask_rasa(incoming, payload, on_new_message)
                if incoming.event == "click" and incoming.event_key in self.menu:
                    # A menu button: its intent, answered in the user's language.
                    language = self.memory.language(openid)
                    payload = '%s{"language": "%s"}' % (
                        self.menu[incoming.event_key],
                        language,
                    )
                    return await self._ask_rasa(incoming, payload, on_new_message)
                # unsubscribe, VIEW (a link opened), unknown keys, location
                # reports: "success", no answer
                return RenderedReply()
            text = clean_user_text(incoming.text)
            if incoming.msg_type in TEXT_TYPES and text.strip():
                self.memory.remember_language(openid, detect_language(text))
                number = numeric_choice(text)
                button = self.memory.button(openid, number) if number else None
                if button is not None:
                    text = str(button["payload"])
                return await self._ask_rasa(incoming, text, on_new_message)
            language = self.memory.language(openid)
            notice = MEDIA_NOTICES.get(incoming.msg_type, TEXT_ONLY_NOTICE)
            return RenderedReply([notice[language]])
        except Exception:
            logger.exception("wechat.process.failed user=%s", mask_openid(openid))
            return RenderedReply([TROUBLE_NOTICE[self.memory.language(openid)]])

    async def _ask_rasa(
        self, incoming: Incoming, text: str, on_new_message: OnNewMessage
    ) -> RenderedReply:
        openid = incoming.openid
        # Counted once per message: WeChat's retries share this job.
        verdict = await self.rate_limiter.allow(CHANNEL_NAME, sender_id_of(openid))
        if not verdict.allowed:
            return RenderedReply([rate_limited_notice(self.memory.language(openid))])
        logger.debug(
            "wechat.rasa.message user=%s text=%s",
            mask_openid(openid),
            redact_text(text),
        )
        collector = _ReplyCollector()
        message = UserMessage(
            text,
            collector,
            sender_id_of(openid),
            input_channel=CHANNEL_NAME,
            message_id=incoming.msg_id or None,
            metadata={
                "wechat": {"msg_type": incoming.msg_type, "event": incoming.event}
            },
        )
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("wechat.rasa.failed user=%s", mask_openid(openid))
            if not collector.messages:
                return RenderedReply([TROUBLE_NOTICE[self.memory.language(openid)]])
        language = self.memory.language(openid)
        reply = render_messages(collector.messages, language)
        self.memory.remember_buttons(openid, reply.buttons)
        if reply.texts:
            self.memory.remember_language(openid, language_of(reply.texts[0], language))
        return reply
