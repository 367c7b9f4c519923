"""Small in-process memories of the WeChat channel, each bounded in size and age.

They live in the Rasa server process: with several Sanic workers each worker
has its own, which is why the channel is meant to run with one worker (Rasa's
default).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Callable, Dict, Generic, List, Optional, Tuple, TypeVar

from bot.channels.wechat_render import DEFAULT_LANGUAGE

V = TypeVar("V")


class TtlCache(Generic[V]):
    """A dict whose entries expire after ``ttl`` seconds; oldest go first when full."""

    def __init__(
        self,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._items: "OrderedDict[str, Tuple[float, V]]" = OrderedDict()

    def get(self, key: str) -> Optional[V]:
        item = self._items.get(key)
        if item is None:
            return None
        stored_at, value = item
        if self._clock() - stored_at > self.ttl:
            del self._items[key]
            return None
        return value

    def set(self, key: str, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (self._clock(), value)
        self.prune()

    def pop(self, key: str) -> Optional[V]:
        item = self._items.pop(key, None)
        return None if item is None else item[1]

    def prune(self, keep: Callable[[V], bool] = lambda value: False) -> None:
        """Drop expired entries, then the oldest while over size.

        ``keep`` protects entries that must outlive their age (running work).
        """
        now = self._clock()
        for key, (stored_at, value) in list(self._items.items()):
            if now - stored_at <= self.ttl:
                break  # insertion order: the rest are younger
            if not keep(value):
                del self._items[key]
        if len(self._items) > self.max_entries:
            for key, (_, value) in list(self._items.items()):
                if len(self._items) <= self.max_entries:
                    break
                if not keep(value):
                    del self._items[key]

    def __len__(self) -> int:
        return len(self._items)


class UserMemory:
    """Per-OpenID state: the last reply's buttons and the language last written in."""

    def __init__(self, buttons_ttl: float, language_ttl: float = 7 * 24 * 3600) -> None:
        self._buttons: TtlCache[List[Dict[str, Any]]] = TtlCache(buttons_ttl)
        self._languages: TtlCache[str] = TtlCache(language_ttl, max_entries=100_000)

    def remember_buttons(self, openid: str, buttons: List[Dict[str, Any]]) -> None:
        """Keep the options just shown; a reply without options forgets old ones."""
        if buttons:
            self._buttons.set(openid, list(buttons))
        else:
            self._buttons.pop(openid)

    def button(self, openid: str, number: int) -> Optional[Dict[str, Any]]:
        """The button numbered ``number`` (1-based) in the last reply, if any."""
        buttons = self._buttons.get(openid) or []
        if 1 <= number <= len(buttons):
            return buttons[number - 1]
        return None

    def remember_language(self, openid: str, language: Optional[str]) -> None:
        if language:
            self._languages.set(openid, language)

    def language(self, openid: str) -> str:
        return self._languages.get(openid) or DEFAULT_LANGUAGE
