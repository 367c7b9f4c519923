"""The Official Account's custom menu (自定义菜单): which CLICK key asks what.

``menu.json`` next to this file is the body the operator uploads with WeChat's
menu API (``POST https://api.weixin.qq.com/cgi-bin/menu/create?access_token=…``),
unchanged.  Each ``click`` button's ``key`` is the Rasa intent payload it asks
(``/ask_individual_payment``); the channel sends that payload to Rasa, with the
user's language, when WeChat reports the CLICK event.  Only keys of this file
are accepted; ``view`` buttons open a web page and get no answer.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, Union

MENU_FILE = Path(__file__).with_name("menu.json")
# An intent payload without entities: "/" and the intent name.
_KEY = re.compile(r"^/[a-z][a-z0-9_]{0,63}$")
# WeChat's limits: 3 top-level buttons, 5 under each.
MAX_TOP, MAX_SUB = 3, 5


class MenuError(ValueError):
    """The menu file is not a menu the channel can serve."""


def _buttons(menu: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    top = menu.get("button")
    if not isinstance(top, list) or not 1 <= len(top) <= MAX_TOP:
        raise MenuError(f"menu needs 1-{MAX_TOP} top-level buttons")
    for button in top:
        if not isinstance(button, dict) or not button.get("name"):
            raise MenuError("every button needs a name")
        subs = button.get("sub_button")
        if subs is None:
            yield button
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB:
            raise MenuError(f"{button['name']}: 1-{MAX_SUB} sub-buttons")
        for sub in subs:
            if not isinstance(sub, dict) or not sub.get("name"):
                raise MenuError("every button needs a name")
            yield sub


def load_menu(path: Union[str, Path] = MENU_FILE) -> Dict[str, str]:
    """CLICK key -> Rasa payload (the key itself), checked against the format."""
    try:
        menu = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MenuError(f"cannot read the menu {path}: {exc}") from exc
    if not isinstance(menu, dict):
        raise MenuError("the menu is a JSON object with a `button` list")
    clicks: Dict[str, str] = {}
    for button in _buttons(menu):
        kind = button.get("type")
        if kind == "click":
            key = button.get("key")
            if not isinstance(key, str) or not _KEY.match(key):
                raise MenuError(
                    f"{button['name']}: a click key is an intent payload "
                    f"such as /ask_check_payment, not {key!r}"
                )
            clicks[key] = key
        elif kind == "view":
            if not str(button.get("url", "")).startswith("https://"):
                raise MenuError(f"{button['name']}: a view button needs an https url")
        else:
            raise MenuError(f"{button['name']}: type {kind!r} is not click or view")
    return clicks
