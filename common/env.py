"""The one way to read configuration from environment variables.

Every process builds one typed settings object from these helpers when it
starts (``BackendSettings.from_env()``, ``ActionSettings.from_env()``, ...);
nothing reads ``os.environ`` at import time.  An unset *or empty* variable
means "use the documented default", and a value that does not parse names the
variable in the error instead of failing later with a bare ``ValueError``.

Secrets may instead come from a file (:func:`env_secret`): ``<NAME>_FILE``
names a file holding the value (Docker/Kubernetes secrets, systemd
credentials), so a secret need not sit in the environment of every process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Optional, Tuple, TypeVar

T = TypeVar("T")

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names it."""


def _raw(name: str, environ: Optional[Mapping[str, str]]) -> Optional[str]:
    value = (os.environ if environ is None else environ).get(name)
    return value if value not in (None, "") else None


def env_str(
    name: str, default: str, environ: Optional[Mapping[str, str]] = None
) -> str:
    """The variable's text, or ``default`` when it is unset or empty."""
    value = _raw(name, environ)
    return default if value is None else value


def _parsed(
    name: str,
    default: T,
    convert: Callable[[str], T],
    kind: str,
    environ: Optional[Mapping[str, str]],
) -> T:
    value = _raw(name, environ)
    if value is None:
        return default
    try:
        return convert(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, not {value!r}") from None


def env_int(
    name: str, default: int, environ: Optional[Mapping[str, str]] = None
) -> int:
    """The variable as an integer, or ``default``."""
    return _parsed(name, default, int, "an integer", environ)


def env_float(
    name: str, default: float, environ: Optional[Mapping[str, str]] = None
) -> float:
    """The variable as a number, or ``default``."""
    return _parsed(name, default, float, "a number", environ)


def env_bool(
    name: str, default: bool, environ: Optional[Mapping[str, str]] = None
) -> bool:
    """The variable as a yes/no switch (1/0, true/false, yes/no, on/off)."""
    value = _raw(name, environ)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be one of true/false, yes/no, on/off, 1/0")


def env_list(
    name: str, default: str, environ: Optional[Mapping[str, str]] = None
) -> Tuple[str, ...]:
    """A comma-separated variable as a tuple of its non-empty, stripped items."""
    return tuple(
        item.strip()
        for item in env_str(name, default, environ).split(",")
        if item.strip()
    )


def secret_file_variable(name: str) -> str:
    """The variable that may name a file holding secret ``name`` (``<NAME>_FILE``)."""
    return f"{name}_FILE"


def env_secret(
    name: str, default: str, environ: Optional[Mapping[str, str]] = None
) -> str:
    """A secret from ``name``, or from the file ``<NAME>_FILE`` names, or ``default``.

    Surrounding whitespace of the file (its trailing newline) is dropped.  Both
    variables set, an unreadable file or an empty one are configuration errors
    naming the variable: a secret that silently fell back to a development
    default would only be caught later, if at all.
    """
    file_variable = secret_file_variable(name)
    value = _raw(name, environ)
    path = _raw(file_variable, environ)
    if path is None:
        return default if value is None else value
    if value is not None:
        raise ConfigError(f"set {name} or {file_variable}, not both")
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ConfigError(f"{file_variable}: cannot read {path} ({reason})") from None
    if not text:
        raise ConfigError(f"{file_variable}: {path} is empty")
    return text
