"""Names and fixed values every module of the WeChat channel shares.

They live here, imported by all and importing nothing of the channel, so that
no module has to import the channel (or another sibling) just for a name.
"""

from __future__ import annotations

from common.language import ZH

CHANNEL_NAME = "wechat"
# WeChat users are addressed in Chinese until they write English.
DEFAULT_LANGUAGE = ZH
# A WeChat user's Rasa sender id is ``wechat:<OpenID>``: ids of different
# channels cannot collide, and replies go to the bare OpenID.
SENDER_PREFIX = f"{CHANNEL_NAME}:"
SUCCESS = "success"  # WeChat's "received, no passive reply" answer

# The channel's namespace in the storage seam (common.storage; in Redis,
# SHEBAO_REDIS_PREFIX + "wechat:"), and its kinds of keys within it.
STORAGE_NAMESPACE = CHANNEL_NAME
DEDUP_NAMESPACE = "dedup:"
REPLY_NAMESPACE = "reply:"
BUTTONS_NAMESPACE = "buttons:"
LANGUAGE_NAMESPACE = "lang:"
REPLAY_NAMESPACE = "replay:"


def sender_id_of(openid: str) -> str:
    """The Rasa sender id of the WeChat user ``openid``."""
    return SENDER_PREFIX + openid


def openid_of(sender_id: str) -> str:
    """The OpenID to address for a Rasa sender id (bare OpenIDs pass through)."""
    return (
        sender_id[len(SENDER_PREFIX) :]
        if sender_id.startswith(SENDER_PREFIX)
        else sender_id
    )
