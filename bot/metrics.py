"""Turn metrics and operations endpoints of the Rasa server.

* :class:`TurnMetrics` is the last component of the NLU pipeline
  (``config.yml``): it trains nothing and counts every parsed message —
  ``shebao_rasa_turns_total`` by language, ``shebao_rasa_fallbacks_total`` (the
  ``nlu_fallback`` intent) and ``shebao_rasa_handoffs_total`` (the
  ``request_human`` intent, typed or a button payload ``/request_human``).
* :class:`OpsInput` is a tiny input channel (``credentials.yml``) that opens no
  conversation; it serves

  - ``GET /webhooks/ops/metrics``: Prometheus metrics (labels are intent and
    language words only, never text or sender ids);
  - ``GET /webhooks/ops/ready``: 200 once the model is loaded and the tracker
    store's database answers, else 503 (readiness);

  liveness is Rasa's own ``GET /`` ("Hello from Rasa").

  Rasa builds its channels after it has set up logging (and replaced the
  console handler with coloredlogs'), so this is also where the Rasa server
  applies ``SHEBAO_LOG_FORMAT=json`` (:func:`common.log_format.apply_log_format`)
  and, once more, :func:`common.warnings_policy.quiet_library_deprecations`
  (Rasa's ``filterwarnings("once", UserWarning)`` came after it, and pyparsing's
  deprecations are UserWarnings too).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from prometheus_client import Counter
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from common.log_format import apply_log_format
from common.metrics import exposition
from common.warnings_policy import quiet_library_deprecations

logger = logging.getLogger(__name__)

HANDOFF_INTENT = "request_human"
LANGUAGES = frozenset({"zh", "en"})
READY_TIMEOUT = 3.0
_PAYLOAD_INTENT = re.compile(r"^\s*/(\w+)")

TURNS = Counter(
    "shebao_rasa_turns_total",
    "messages the NLU pipeline parsed, by language",
    ["language"],
)
FALLBACKS = Counter(
    "shebao_rasa_fallbacks_total",
    "messages classified as nlu_fallback, by language",
    ["language"],
)
HANDOFFS = Counter(
    "shebao_rasa_handoffs_total",
    "requests for a person (request_human), by language",
    ["language"],
)


def _language(message: Message) -> str:
    for entity in message.get(ENTITIES) or []:
        if entity.get("entity") == "language" and entity.get("value") in LANGUAGES:
            return str(entity["value"])
    return "unknown"


def _intent(message: Message) -> Optional[str]:
    payload = _PAYLOAD_INTENT.match(message.get(TEXT) or "")
    if payload:  # a button payload: Rasa's RegexMessageHandler sets this intent
        return payload.group(1)
    intent = message.get(INTENT) or {}
    name = intent.get(INTENT_NAME_KEY)
    return str(name) if name else None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class TurnMetrics(GraphComponent):
    """Counts turns, fallbacks and handoffs; changes nothing in the message."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> GraphComponent:
        """Nothing to configure or load: the component only counts."""
        return cls()

    def process(self, messages: List[Message]) -> List[Message]:
        """Count the turn, fallback and handoff, leaving the message untouched."""
        for message in messages:
            try:
                language = _language(message)
                intent = _intent(message)
                TURNS.labels(language=language).inc()
                if intent == DEFAULT_NLU_FALLBACK_INTENT_NAME:
                    FALLBACKS.labels(language=language).inc()
                elif intent == HANDOFF_INTENT:
                    HANDOFFS.labels(language=language).inc()
            except Exception:  # noqa: BLE001 - metrics never break a turn
                logger.debug("turn metrics failed", exc_info=True)
        return messages


def _tracker_store_engine(agent: Any) -> Any:
    store = getattr(agent, "tracker_store", None)
    inner = getattr(store, "_tracker_store", store)  # FailSafeTrackerStore wraps it
    return getattr(inner, "engine", None)


def _ping(engine: Any) -> None:
    import sqlalchemy as sa

    with engine.connect() as connection:
        connection.execute(sa.text("SELECT 1"))


async def readiness(agent: Any) -> Optional[str]:
    """``None`` when ready, else what is missing."""
    if agent is None or not agent.is_ready():
        return "model not loaded"
    engine = _tracker_store_engine(agent)
    if engine is not None:
        try:
            await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(None, _ping, engine),
                READY_TIMEOUT,
            )
        except Exception:  # noqa: BLE001 - any failure means "not ready"
            return "tracker store unreachable"
    return None


class OpsInput(InputChannel):
    """``/webhooks/ops/metrics`` and ``/webhooks/ops/ready`` (no conversations)."""

    @classmethod
    def name(cls) -> Text:
        """The channel name, giving the ``/webhooks/ops/...`` URLs."""
        return "ops"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        """Rasa builds channels at startup before any traffic, so logging is set up
        here."""
        apply_log_format()
        quiet_library_deprecations()
        return cls()

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        """The metrics and readiness routes, outside the conversation channels."""
        ops = Blueprint("ops_webhook", __name__)

        @ops.get("/metrics")
        async def metrics(_: Request) -> HTTPResponse:
            body, content_type = exposition()
            return HTTPResponse(body, content_type=content_type)

        @ops.get("/ready")
        async def ready(request: Request) -> HTTPResponse:
            problem = await readiness(getattr(request.app.ctx, "agent", None))
            if problem:
                return response.json(
                    {"status": "unavailable", "reason": problem}, status=503
                )
            return response.json({"status": "ok"})

        @ops.get("/live")
        async def live(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        return ops
