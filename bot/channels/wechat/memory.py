"""Per-user memory of the WeChat channel: the last reply's buttons and the language.

The state goes through the storage seam (:class:`common.storage.Storage`,
:class:`~common.storage.MemoryStorage` by default) under the namespaces
``wechat:buttons:`` and ``wechat:lang:``.  With the in-process default each
Sanic worker has its own memory, which is why the channel is meant to run with
one worker (Rasa's default) unless a shared storage is plugged in.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from bot.channels.wechat.constants import (
    BUTTONS_NAMESPACE,
    DEFAULT_LANGUAGE,
    LANGUAGE_NAMESPACE,
)
from common.storage import MemoryStorage, Storage

DEFAULT_LANGUAGE_TTL_SECONDS = 7 * 24 * 3600.0


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
            self.storage.set(key, list(buttons), self.buttons_ttl)
        else:
            self.storage.delete(key)

    def button(self, openid: str, number: int) -> Optional[Dict[str, Any]]:
        """The button numbered ``number`` (1-based) in the last reply, if any."""
        buttons = self.storage.get(BUTTONS_NAMESPACE + openid) or []
        if 1 <= number <= len(buttons):
            return dict(buttons[number - 1])
        return None

    def remember_language(self, openid: str, language: Optional[str]) -> None:
        """Keep the user's language, so the numbered options are rendered in it."""
        if language:
            self.storage.set(LANGUAGE_NAMESPACE + openid, language, self.language_ttl)

    def language(self, openid: str) -> str:
        """The language last seen for this user, or the default."""
        value = self.storage.get(LANGUAGE_NAMESPACE + openid)
        return value if isinstance(value, str) and value else DEFAULT_LANGUAGE
