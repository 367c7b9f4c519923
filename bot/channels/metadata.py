"""What a channel may pass to Rasa as message metadata: a short allow-list.

Metadata is stored with every user event, so whatever a client puts there ends
up in the transcript.  Channels keep only the keys listed here, as short plain
strings (anything else — nested objects, huge values, unknown keys — is
dropped, never stored), and add what the *server* knows about the client.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Dict, Optional

from common.language import SUPPORTED_LANGUAGES

# key -> accepted values (None: any short string)
ALLOWED_KEYS: Dict[str, Optional[frozenset]] = {
    "language": frozenset(SUPPORTED_LANGUAGES),
}
MAX_VALUE_CHARS = 64
CLIENT_KEY = "client"


def channel_metadata(raw: Any, client: Optional[str] = None) -> Dict[str, Any]:
    """The allowed part of ``raw`` plus the server-side ``client`` fingerprint."""
    kept: Dict[str, Any] = {}
    if isinstance(raw, dict):
        for key, allowed in ALLOWED_KEYS.items():
            value = raw.get(key)
            if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
                continue
            if allowed is None or value in allowed:
                kept[key] = value
    if client:
        kept[CLIENT_KEY] = client
    return kept


def client_fingerprint(address: str, secret: str) -> Optional[str]:
    """A stable, non-reversible name for a client address (rate limits, not tracking)."""
    if not address:
        return None
    digest = hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()
    return "ip-" + digest[:24]
