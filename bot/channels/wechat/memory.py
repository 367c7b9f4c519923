"""Per-user memory of the WeChat channel: the last reply's buttons and the language.

The state goes through the storage seam (:class:`common.storage.Storage`,
:class:`~common.storage.MemoryStorage` by default) under the keys
``buttons:<OpenID>`` and ``lang:<OpenID>`` of the channel's namespace.  With
the in-process default each Sanic worker has its own memory, which is why the
channel is meant to run with one worker (Rasa's default) unless a shared
storage (Redis, ``SHEBAO_REDIS_URL``) is plugged in.

A shared storage out of reach costs only convenience: a typed number is sent
to Rasa as typed, and the language is the default until Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, TypeVar

from bot.channels.wechat.constants import (
    BUTTONS_NAMESPACE,
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMESPACE,
)
from common.storage import MemoryStorage, Storage, StorageUnavailable

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_LANGUAGE_TTL_SECONDS = 7 * 24 * 3600.0


def _or(fallback: T, call: Callable[[], T]) -> T:
    """``call()``, or ``fallback`` with a warning when the storage is out of reach."""
    try:
        return call()
    except StorageUnavailable:
        logger.warning("wechat.memory.storage_unavailable")
        return fallback


class UserMemory:
    """Per-OpenID state: the last reply's buttons and the language last written in."""

    def __init__(
        self,
        buttons_ttl: float,
        language_ttl: float = DEFAULT_LANGUAGE_TTL_SECONDS,
        storage: Optional[Storage] = None,
    ) -> None:
        self.buttons_ttl = buttons_ttl
        self.language_ttl = language_ttl
        self.storage: Storage = storage if storage is not None else MemoryStorage()

    def remember_buttons(self, openid: str, buttons: List[Dict[str, Any]]) -> None:
        """Keep the options just shown; a reply without options forgets old ones."""
        key = BUTTONS_NAMESPACE + openid
        if buttons:
            _or(None, lambda: self.storage.set(key, list(buttons), self.buttons_ttl))
        else:
            _or(None, lambda: self.storage.delete(key))

    def button(self, openid: str, number: int) -> Optional[Dict[str, Any]]:
        """The button numbered ``number`` (1-based) in the last reply, if any."""
        buttons = _or(None, lambda: self.storage.get(BUTTONS_NAMESPACE + openid)) or []
        if 1 <= number <= len(buttons):
            return dict(buttons[number - 1])
        return None

    def remember_language(self, openid: str, language: Optional[str]) -> None:
        """Keep the user's language, so the numbered options are rendered in it."""
        if language:
            key = LANGUAGE_NAMESPACE + openid
            _or(None, lambda: self.storage.set(key, language, self.language_ttl))

    def language(self, openid: str) -> str:
        """The language last seen for this user, or the default."""
        value = _or(None, lambda: self.storage.get(LANGUAGE_NAMESPACE + openid))
        return value if isinstance(value, str) and value else DEFAULT_LANGUAGE
