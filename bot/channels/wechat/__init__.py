"""WeChat Official Account (公众号) channel for Rasa.

``credentials.yml`` registers it as ``bot.channels.wechat.WeChatInput``.  The
modules: :mod:`.channel` (the input channel and its webhook), :mod:`.protocol`
(signatures, decryption, XML screening and parsing, passive replies),
:mod:`.api` (customer-service API client and output channel), :mod:`.render`
(Rasa replies as WeChat text), :mod:`.memory` (per-user buttons and language),
:mod:`.dedup` (one processing per message), :mod:`.config` (settings) and
:mod:`.constants`.
"""

from bot.channels.wechat.channel import WeChatInput

__all__ = ["WeChatInput"]
