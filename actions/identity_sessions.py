"""The secrets of each conversation's verification, behind the storage seam.

Only what must not go into a slot lives here: the resident's ID number between
the "ID" turn and the "code" turn (for as long as the code is valid), and the
backend's access token after a correct code (for ``verified_ttl``).  Everything
else about the inquiry — why it stopped, the masked phone, the results — is in
slots, where stories, ``rasa test`` and staff can see it.

State goes through a :class:`common.storage.Storage` under the ``identity``
namespace: this process's memory by default, Redis when ``SHEBAO_REDIS_URL``
is set (``common.redis_storage.storage_from_env``), so a verification started
on one action server is completed on another.  The ID number has to wait
there: the backend's ``/verification/check`` needs it with the code, and no
token exists yet.  In Redis the keys are hashed and the values sealed, and
the entry lives only as long as the code.  Lifetimes are wall-clock times,
which every replica shares.  A storage that cannot be reached raises
:class:`~common.storage.StorageUnavailable`; the inquiry then says "try later".
"""

from __future__ import annotations

import time
from typing import Callable, Optional

from common.redis_storage import storage_from_env
from common.storage import Storage

NAMESPACE = "identity"
_PENDING = "pending:"
_TOKEN = "token:"


class IdentitySessions:
    """Per-conversation pending ID numbers and verified tokens, each with a lifetime."""

    def __init__(
        self,
        storage: Optional[Storage] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._given = storage
        self._created: Optional[Storage] = None
        self._clock = clock

    @property
    def _storage(self) -> Storage:
        """The given storage, else the environment's, chosen on first use (not at import)."""
        if self._given is not None:
            return self._given
        if self._created is None:
            self._created = storage_from_env(NAMESPACE)
        return self._created

    def reset(self) -> None:
        """Choose the storage from the environment again on next use (for tests)."""
        self._created = None

    def code_sent(self, sender_id: str, id_number: str, ttl: float) -> None:
        """A code went to ``id_number``'s phone; keep the number while the code is valid."""
        until = self._clock() + ttl
        self._storage.set(
            _PENDING + sender_id,
            {"id_number": id_number, "wrong": 0, "until": until},
            ttl,
        )

    def pending_id_number(self, sender_id: str) -> Optional[str]:
        """The ID number awaiting its code, if the code is still valid."""
        pending = self._storage.get(_PENDING + sender_id)
        return pending["id_number"] if pending else None

    def wrong_code(self, sender_id: str) -> int:
        """Count a wrong code for the pending verification; how many so far."""
        key = _PENDING + sender_id
        pending = self._storage.get(key)
        if not pending:
            return 0
        pending = {**pending, "wrong": pending["wrong"] + 1}
        # Read-modify-write: Rasa's lock store serialises a conversation's turns.
        remaining = pending["until"] - self._clock()
        self._storage.set(key, pending, remaining)
        return int(pending["wrong"])

    def verified(
        self,
        sender_id: str,
        token: str,
        ttl: float,
        channel: Optional[str] = None,
        client: Optional[str] = None,
    ) -> None:
        """The code was right: keep the token for follow-ups, drop the ID number.

        The token is bound to the channel the code was typed on and to the
        client that typed it (the channel's fingerprint of its address, or the
        WeChat OpenID): the same conversation from elsewhere must verify again.
        """
        self._storage.delete(_PENDING + sender_id)
        self._storage.set(
            _TOKEN + sender_id,
            {"token": token, "channel": channel, "client": client},
            ttl,
        )

    def token(
        self,
        sender_id: str,
        channel: Optional[str] = None,
        client: Optional[str] = None,
    ) -> Optional[str]:
        """The access token, while valid, only on its own channel and for its own client."""
        value = self._storage.get(_TOKEN + sender_id)
        if not value or value["channel"] != channel or value["client"] != client:
            return None
        return str(value["token"])

    def forget_pending(self, sender_id: str) -> None:
        """The inquiry stopped before the code: the ID number is no longer needed."""
        self._storage.delete(_PENDING + sender_id)

    def forget_token(self, sender_id: str) -> None:
        """The backend no longer accepts the token (or the resident ended the chat)."""
        self._storage.delete(_TOKEN + sender_id)

    def end(self, sender_id: str) -> None:
        """Forget everything this conversation proved."""
        self.forget_pending(sender_id)
        self.forget_token(sender_id)


# The action server's one store, created at import but touching nothing outside.
SESSIONS = IdentitySessions()
