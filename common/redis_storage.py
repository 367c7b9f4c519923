"""The storage seam in Redis, shared by every replica of a deployable.

``storage_from_env(namespace)`` is the one way callers get their
:class:`~common.storage.Storage`: :class:`RedisStorage` when
``SHEBAO_REDIS_URL`` is set, else a :class:`~common.storage.MemoryStorage` of
this process (one replica, as before).

Nothing readable goes to Redis.  A key is ``SHEBAO_REDIS_PREFIX`` + namespace
+ ``:`` + a keyed hash of the caller's key (callers key by conversation or
OpenID, and a web sender id is a session credential), and a value is its JSON
sealed with AES-GCM, bound to its key, both under keys derived from
``SHEBAO_REDIS_SECRET``.  So a Redis dump, a replica or a monitor shows no ID
number, token, sender id or reply, and a value cannot be moved to another key.
Every replica that shares the state must have the same secret.

Every command has a short socket timeout; a Redis that is down or slow raises
:class:`~common.storage.StorageUnavailable` (the callers degrade), and
redis-py's pool reconnects on the next command once Redis is back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple, TypeVar

import redis
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from common.deployment import require_production_secret
from common.env import env_secret, env_str
from common.storage import MemoryStorage, Storage, StorageUnavailable
from common.tokens import as_bytes

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PREFIX = "shebao:"
DEV_REDIS_SECRET = "shebao-development-redis-secret"
# Seconds one Redis command may take (connecting included) before the caller
# degrades: the storage seam is synchronous and runs on the event loop.
SOCKET_TIMEOUT_SECONDS = 1.0
_NONCE_BYTES = 12

_clients: Dict[str, "redis.Redis"] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class RedisSettings:
    """Where the shared state lives and the secret that hides it."""

    url: str = ""
    prefix: str = DEFAULT_PREFIX
    secret: str = DEV_REDIS_SECRET

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> "RedisSettings":
        """``SHEBAO_REDIS_URL`` (empty: no Redis), ``SHEBAO_REDIS_PREFIX``,
        ``SHEBAO_REDIS_SECRET``."""
        return cls(
            url=env_secret("SHEBAO_REDIS_URL", "", environ),
            prefix=env_str("SHEBAO_REDIS_PREFIX", DEFAULT_PREFIX, environ),
            secret=env_secret("SHEBAO_REDIS_SECRET", DEV_REDIS_SECRET, environ),
        )

    def check_for_production(self, environ: Optional[Mapping[str, str]] = None) -> None:
        """With Redis in use, refuse the development secret outside development."""
        if self.url:
            require_production_secret(
                "SHEBAO_REDIS_SECRET", self.secret, (DEV_REDIS_SECRET,), environ
            )


def _derived(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so the key hash and the cipher never share one."""
    return hmac.new(as_bytes(secret), purpose.encode(), hashlib.sha256).digest()


def key_digest(secret: str, key: str) -> str:
    """The keyed hash that stands for ``key`` in Redis (also the lock store's)."""
    mac = hmac.new(_derived(secret, "shebao redis keys v1"), as_bytes(key), "sha256")
    return mac.hexdigest()[:32]


def redis_client(url: str) -> "redis.Redis":
    """The process's client (and connection pool) for ``url``, created on first use.

    Creating it opens no connection; redis-py connects on the first command.
    """
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
                health_check_interval=30,
            )
            _clients[url] = client
        return client


class RedisStorage:
    """:class:`~common.storage.Storage` in Redis: hashed keys, sealed JSON values.

    TTLs are Redis's own (``SET PX``), so every replica sees the same expiry;
    :meth:`add` is ``SET NX PX``, atomic across replicas.
    """

    def __init__(self, client: "redis.Redis", prefix: str, secret: str) -> None:
        self.client = client
        self.prefix = prefix
        self._secret = secret
        self._cipher = AESGCM(_derived(secret, "shebao redis values v1"))

    def redis_key(self, key: str) -> str:
        """The Redis key that holds ``key``'s value."""
        return self.prefix + key_digest(self._secret, key)

    def get(self, key: str) -> Optional[Any]:
        """The live value at ``key``, or ``None`` (also for one that does not open)."""
        name = self.redis_key(key)
        data = self._run(lambda: self.client.get(name))
        if data is None:
            return None
        try:
            nonce, sealed = data[:_NONCE_BYTES], data[_NONCE_BYTES:]
            plain = self._cipher.decrypt(nonce, sealed, name.encode())
            return json.loads(plain)
        except (InvalidTag, ValueError):
            # Another secret (rotated, or a foreign writer): as good as absent.
            logger.warning("redis_storage.unreadable_value prefix=%s", self.prefix)
            return None

    def set(self, key: str, value: Any, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds; a non-positive TTL deletes the key."""
        if ttl <= 0:
            self.delete(key)
            return
        name = self.redis_key(key)
        data = self._seal(name, value)
        self._run(lambda: self.client.set(name, data, px=_milliseconds(ttl)))

    def add(self, key: str, value: Any, ttl: float) -> bool:
        """``SET NX``: store ``value`` only if ``key`` is absent; whether it did."""
        if ttl <= 0:
            return False
        name = self.redis_key(key)
        data = self._seal(name, value)
        done = self._run(
            lambda: self.client.set(name, data, px=_milliseconds(ttl), nx=True)
        )
        return bool(done)

    def delete(self, key: str) -> None:
        """Forget ``key``; a missing key is not an error."""
        name = self.redis_key(key)
        self._run(lambda: self.client.delete(name))

    def _seal(self, name: str, value: Any) -> bytes:
        plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._cipher.encrypt(nonce, plain, name.encode())

    @staticmethod
    def _run(command: Any) -> Any:
        return run_command(command)


def run_command(command: Callable[[], T]) -> T:
    """``command()``, with any Redis failure raised as StorageUnavailable."""
    try:
        return command()
    except redis.RedisError as exc:
        # No key in the message: the caller logs what it needs.
        raise StorageUnavailable(f"redis: {type(exc).__name__}") from None


def update_atomically(
    client: "redis.Redis",
    name: str,
    change: Callable[[Optional[bytes]], Tuple[T, Optional[bytes], float]],
) -> T:
    """Read-modify-write of one key as an optimistic transaction (WATCH/MULTI/EXEC).

    ``change(old)`` returns ``(result, new, ttl)``: ``new`` is stored for
    ``ttl`` seconds, or the key is deleted when ``new`` is ``None``.  When
    another client writes the key in between, ``change`` runs again on the
    fresh value, so no update is lost.  Raises StorageUnavailable.
    """
    try:
        with client.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)
                    result, new, ttl = change(pipe.get(name))
                    pipe.multi()
                    if new is None:
                        pipe.delete(name)
                    else:
                        pipe.set(name, new, px=_milliseconds(ttl))
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
    except redis.RedisError as exc:
        raise StorageUnavailable(f"redis: {type(exc).__name__}") from None


def _milliseconds(ttl: float) -> int:
    return max(1, int(ttl * 1000))


def storage_from_env(
    namespace: str, environ: Optional[Mapping[str, str]] = None
) -> Storage:
    """The storage for ``namespace``: shared Redis if configured, else this process's."""
    settings = RedisSettings.from_env(environ)
    if not settings.url:
        return MemoryStorage()
    settings.check_for_production(environ)
    return RedisStorage(
        redis_client(settings.url), f"{settings.prefix}{namespace}:", settings.secret
    )
