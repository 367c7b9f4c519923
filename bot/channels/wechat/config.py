"""Settings of the WeChat Official Account channel.

Each setting is read, in this order, from the environment variable, the
channel's block in ``credentials.yml`` and a development default, so
``make run`` works with nothing set up (plain mode, dev token) while an
operator keeps the secrets in the environment.  The environment wins so that
tests and deployments can override a committed credentials block.

The development defaults are committed to the repository, so the channel
refuses them unless development mode is explicit (``SHEBAO_ENV=development``;
unset means ``production``): see :meth:`WeChatSettings.require_deployable`.
Production also requires safe mode (an EncodingAESKey) behind HTTPS.

=============================  ==========================  ========================
environment variable           credentials.yml key         development default
=============================  ==========================  ========================
WECHAT_TOKEN                   token                       ``shebao-dev-token``
WECHAT_APP_ID                  app_id                      ``wxshebaodev0000000``
WECHAT_APP_SECRET              app_secret                  ``shebao-dev-secret``
WECHAT_ENCODING_AES_KEY        encoding_aes_key            empty: plain mode only
WECHAT_API_BASE_URL            api_base_url                ``https://api.weixin.qq.com``
WECHAT_REPLY_BUDGET_SECONDS    reply_budget_seconds        ``4.5``
WECHAT_TIMESTAMP_TOLERANCE     timestamp_tolerance         ``300`` (seconds)
WECHAT_MAX_BODY_BYTES          max_body_bytes              ``65536``
WECHAT_MAX_REPLY_BYTES         max_reply_bytes             ``2048``
WECHAT_BUTTONS_TTL_SECONDS     buttons_ttl_seconds         ``1800``
WECHAT_API_TIMEOUT_SECONDS     api_timeout_seconds         ``10``
=============================  ==========================  ========================

The three secrets (token, AppSecret, EncodingAESKey) may also come from a file
named by ``<NAME>_FILE`` (``WECHAT_APP_SECRET_FILE=/run/secrets/...``).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, TypeVar

from common.env import ConfigError, env_secret, env_str

DEV_TOKEN = "shebao-dev-token"
DEV_APP_ID = "wxshebaodev0000000"
DEV_APP_SECRET = "shebao-dev-secret"
DEFAULT_API_BASE_URL = "https://api.weixin.qq.com"
# May instead come from a file named by ``<NAME>_FILE`` (common.env.env_secret).
SECRET_VARIABLES = frozenset(
    {"WECHAT_TOKEN", "WECHAT_APP_SECRET", "WECHAT_ENCODING_AES_KEY"}
)
DEVELOPMENT = "development"
PRODUCTION = "production"

T = TypeVar("T")


class WeChatConfigError(ValueError):
    """A setting has a value the channel cannot work with."""


@dataclass(frozen=True)
class WeChatSettings:
    """Everything the channel needs; see the module docstring for sources."""

    token: str = DEV_TOKEN
    app_id: str = DEV_APP_ID
    app_secret: str = DEV_APP_SECRET
    encoding_aes_key: str = ""
    api_base_url: str = DEFAULT_API_BASE_URL
    reply_budget_seconds: float = 4.5
    timestamp_tolerance: int = 300
    max_body_bytes: int = 64 * 1024
    max_reply_bytes: int = 2048
    buttons_ttl_seconds: float = 1800.0
    api_timeout_seconds: float = 10.0

    @property
    def safe_mode(self) -> bool:
        """An EncodingAESKey is configured: encrypted requests are accepted."""
        return bool(self.encoding_aes_key)

    @property
    def uses_dev_secrets(self) -> bool:
        """Whether a committed development secret is in use (refused outside
        development)."""
        return self.token == DEV_TOKEN or self.app_secret == DEV_APP_SECRET

    def require_deployable(self, environ: Optional[Mapping[str, str]] = None) -> str:
        """The deployment mode (``SHEBAO_ENV``), after refusing unsafe settings.

        Outside development mode the committed development secrets, a missing
        token and plain mode are refused with a :class:`WeChatConfigError`
        naming the variable to set.
        """
        mode = env_str("SHEBAO_ENV", PRODUCTION, environ).strip().lower()
        if mode == DEVELOPMENT:
            return mode
        hint = f"(SHEBAO_ENV={mode}; SHEBAO_ENV=development allows it for local runs)"
        if not self.token or self.token == DEV_TOKEN:
            raise WeChatConfigError(
                "WECHAT_TOKEN must be set to the official account's own token: the "
                f"committed development token is refused {hint}"
            )
        if self.app_secret == DEV_APP_SECRET:
            raise WeChatConfigError(
                "WECHAT_APP_SECRET must be set to the official account's AppSecret: "
                f"the committed development secret is refused {hint}"
            )
        if not self.safe_mode:
            raise WeChatConfigError(
                "WECHAT_ENCODING_AES_KEY must be set: production requires safe mode "
                "(安全模式, encrypted callbacks) and an HTTPS callback URL "
                f"{hint}"
            )
        return mode

    def __post_init__(self) -> None:
        if not self.token:
            raise WeChatConfigError("WECHAT_TOKEN must not be empty")
        if self.encoding_aes_key and not _valid_aes_key(self.encoding_aes_key):
            raise WeChatConfigError(
                "WECHAT_ENCODING_AES_KEY must be the 43-character key shown on the "
                "WeChat admin page (base64 of 32 bytes without the trailing '=')"
            )
        if not self.api_base_url.startswith(("http://", "https://")):
            raise WeChatConfigError("WECHAT_API_BASE_URL must be an http(s) URL")
        if self.reply_budget_seconds < 0 or self.reply_budget_seconds >= 5:
            raise WeChatConfigError(
                "WECHAT_REPLY_BUDGET_SECONDS must be in [0, 5): WeChat gives up "
                "after 5 seconds"
            )
        if self.timestamp_tolerance <= 0 or self.max_body_bytes <= 0:
            raise WeChatConfigError("tolerance and body limit must be positive")
        if self.max_reply_bytes < 64:
            raise WeChatConfigError("WECHAT_MAX_REPLY_BYTES must be at least 64")

    @classmethod
    def load(
        cls,
        credentials: Optional[Mapping[str, Any]] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> "WeChatSettings":
        """Settings from the environment, then ``credentials``, then defaults."""
        creds = dict(credentials or {})
        unknown = sorted(set(creds) - set(cls.__dataclass_fields__))
        if unknown:  # a misspelt key would silently fall back to a default
            raise WeChatConfigError(f"unknown WeChat credentials key(s): {unknown}")
        env = os.environ if environ is None else environ
        defaults = cls()

        def pick(key: str, var: str, convert: Callable[[Any], T], default: T) -> T:
            raw: Any = env.get(var)
            if var in SECRET_VARIABLES:
                try:
                    raw = env_secret(var, "", env)
                except ConfigError as exc:
                    raise WeChatConfigError(str(exc)) from None
            if raw in (None, ""):
                raw = creds.get(key)
            if raw is None or raw == "":
                return default
            try:
                return convert(raw)
            except (TypeError, ValueError) as exc:
                raise WeChatConfigError(f"{var} / {key}: invalid value") from exc

        return cls(
            token=pick("token", "WECHAT_TOKEN", str, defaults.token),
            app_id=pick("app_id", "WECHAT_APP_ID", str, defaults.app_id),
            app_secret=pick(
                "app_secret", "WECHAT_APP_SECRET", str, defaults.app_secret
            ),
            encoding_aes_key=pick(
                "encoding_aes_key", "WECHAT_ENCODING_AES_KEY", str, ""
            ),
            api_base_url=pick(
                "api_base_url", "WECHAT_API_BASE_URL", str, defaults.api_base_url
            ).rstrip("/"),
            reply_budget_seconds=pick(
                "reply_budget_seconds",
                "WECHAT_REPLY_BUDGET_SECONDS",
                float,
                defaults.reply_budget_seconds,
            ),
            timestamp_tolerance=pick(
                "timestamp_tolerance",
                "WECHAT_TIMESTAMP_TOLERANCE",
                int,
                defaults.timestamp_tolerance,
            ),
            max_body_bytes=pick(
                "max_body_bytes", "WECHAT_MAX_BODY_BYTES", int, defaults.max_body_bytes
            ),
            max_reply_bytes=pick(
                "max_reply_bytes",
                "WECHAT_MAX_REPLY_BYTES",
                int,
                defaults.max_reply_bytes,
            ),
            buttons_ttl_seconds=pick(
                "buttons_ttl_seconds",
                "WECHAT_BUTTONS_TTL_SECONDS",
                float,
                defaults.buttons_ttl_seconds,
            ),
            api_timeout_seconds=pick(
                "api_timeout_seconds",
                "WECHAT_API_TIMEOUT_SECONDS",
                float,
                defaults.api_timeout_seconds,
            ),
        )


def _valid_aes_key(key: str) -> bool:
    if len(key) != 43:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False
