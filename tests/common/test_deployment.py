"""SHEBAO_ENV and the production checks every service makes."""

from __future__ import annotations

import pytest

from common.deployment import (
    UnsafeForProduction,
    deployment_env,
    is_loopback,
    require_production_secret,
    secret_problem,
)
from common.env import ConfigError

STRONG = "0123456789abcdef0123456789abcdef"


def test_production_is_the_default_and_typos_fail() -> None:
    assert deployment_env({}) == "production"
    assert deployment_env({"SHEBAO_ENV": "Development"}) == "development"
    with pytest.raises(ConfigError):
        deployment_env({"SHEBAO_ENV": "prod"})


@pytest.mark.parametrize(
    "value, problem",
    [
        ("", "not set"),
        ("dev", "development default"),
        ("short", "shorter"),
        ("a" * 40, "distinct"),
    ],
)
def test_weak_secrets_are_named(value: str, problem: str) -> None:
    reason = secret_problem("MY_SECRET", value, ("dev",))
    assert reason and "MY_SECRET" in reason and problem in reason


def test_production_refuses_and_development_allows() -> None:
    with pytest.raises(UnsafeForProduction, match="MY_SECRET"):
        require_production_secret("MY_SECRET", "dev", ("dev",), {})
    require_production_secret(
        "MY_SECRET", "dev", ("dev",), {"SHEBAO_ENV": "development"}
    )
    require_production_secret("MY_SECRET", STRONG, ("dev",), {})


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("example.org", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
