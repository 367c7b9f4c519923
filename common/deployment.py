"""The deployment-wide switch ``SHEBAO_ENV`` and the checks production makes.

``SHEBAO_ENV=development`` (what ``make run`` and the tests set) allows the
committed development secrets, the dev outbox and debug settings.  Anything
else — including an unset variable — is production: every service then
refuses to start with a development secret or an unsafe setting, and says
which variable to change.  Defaulting to production means a forgotten
variable fails closed.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable, Mapping, Optional

from common.env import ConfigError, env_str

DEVELOPMENT = "development"
PRODUCTION = "production"
MIN_SECRET_CHARS = 32
MIN_SECRET_DISTINCT = 8


class UnsafeForProduction(ConfigError):
    """A setting that development tolerates and production must not."""


def deployment_env(environ: Optional[Mapping[str, str]] = None) -> str:
    """``development`` or ``production`` (the default)."""
    value = env_str("SHEBAO_ENV", PRODUCTION, environ).strip().lower()
    if value not in (DEVELOPMENT, PRODUCTION):
        raise ConfigError("SHEBAO_ENV must be 'development' or 'production'")
    return value


def is_development(environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether development conveniences are allowed."""
    return deployment_env(environ) == DEVELOPMENT


def secret_problem(
    name: str, value: str, dev_values: Iterable[str] = ()
) -> Optional[str]:
    """Why ``value`` is not a production secret for variable ``name``, if it is not."""
    if not value:
        return f"{name} is not set"
    if value in set(dev_values):
        return f"{name} is a development default"
    if len(value) < MIN_SECRET_CHARS:
        return f"{name} is shorter than {MIN_SECRET_CHARS} characters"
    if len(set(value)) < MIN_SECRET_DISTINCT:
        return f"{name} has fewer than {MIN_SECRET_DISTINCT} distinct characters"
    return None


def require_production_secret(
    name: str,
    value: str,
    dev_values: Iterable[str] = (),
    environ: Optional[Mapping[str, str]] = None,
) -> None:
    """Raise :class:`UnsafeForProduction` for a weak secret outside development."""
    if is_development(environ):
        return
    problem = secret_problem(name, value, dev_values)
    if problem:
        raise UnsafeForProduction(
            f"{problem} (SHEBAO_ENV is production; set {name}, "
            "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (``127.0.0.0/8``, ``::1``)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
