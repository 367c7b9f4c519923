"""The one settings helper: defaults for unset or empty variables, typed values, clear errors."""

from __future__ import annotations

import pytest

from common.env import ConfigError, env_bool, env_float, env_int, env_list, env_str


def test_unset_and_empty_mean_the_documented_default() -> None:
    assert env_str("X", "d", {}) == "d"
    assert env_str("X", "d", {"X": ""}) == "d"
    assert env_int("X", 5, {"X": ""}) == 5
    assert env_float("X", 1.5, {}) == 1.5
    assert env_bool("X", True, {}) is True
    assert env_list("X", "a, b,,", {}) == ("a", "b")


def test_values_are_typed() -> None:
    assert env_int("X", 0, {"X": " 42 "}) == 42
    assert env_float("X", 0.0, {"X": "0.25"}) == 0.25
    assert [env_bool("X", False, {"X": w}) for w in ("1", "YES", "on", "true")] == [
        True
    ] * 4
    assert [env_bool("X", True, {"X": w}) for w in ("0", "no", "Off", "false")] == [
        False
    ] * 4


@pytest.mark.parametrize(
    "call",
    [
        lambda: env_int("BACKEND_PORT", 1, {"BACKEND_PORT": "eighty"}),
        lambda: env_float(
            "SHEBAO_BACKEND_TIMEOUT", 1.0, {"SHEBAO_BACKEND_TIMEOUT": "soon"}
        ),
        lambda: env_bool("FLAG", False, {"FLAG": "maybe"}),
    ],
)
def test_a_malformed_value_names_its_variable(call) -> None:
    with pytest.raises(ConfigError) as raised:
        call()
    assert any(
        name in str(raised.value)
        for name in ("BACKEND_PORT", "SHEBAO_BACKEND_TIMEOUT", "FLAG")
    )
