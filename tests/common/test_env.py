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


# ---- secrets from files (<NAME>_FILE) --------------------------------------


def test_a_secret_comes_from_the_variable_or_from_its_file(tmp_path) -> None:
    from common.env import env_secret

    secret = tmp_path / "token"
    secret.write_text("s3cret-from-a-file\n", encoding="utf-8")
    assert env_secret("TOKEN", "dev", {}) == "dev"
    assert env_secret("TOKEN", "dev", {"TOKEN": "from-env"}) == "from-env"
    assert env_secret("TOKEN", "dev", {"TOKEN_FILE": str(secret)}) == (
        "s3cret-from-a-file"
    )
    # an empty variable is unset, as everywhere
    assert env_secret("TOKEN", "dev", {"TOKEN": "", "TOKEN_FILE": str(secret)}) == (
        "s3cret-from-a-file"
    )


@pytest.mark.parametrize("case", ["both", "missing", "empty", "directory", "binary"])
def test_a_bad_secret_file_is_an_error_naming_the_variable(tmp_path, case) -> None:
    """Never a silent fall-back to the development default."""
    from common.env import env_secret

    path = tmp_path / "token"
    environ = {"TOKEN_FILE": str(path)}
    if case == "both":
        path.write_text("value", encoding="utf-8")
        environ["TOKEN"] = "other"
    elif case == "empty":
        path.write_text(" \n", encoding="utf-8")
    elif case == "directory":
        path.mkdir()
    elif case == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="TOKEN_FILE|TOKEN or TOKEN_FILE") as raised:
        env_secret("TOKEN", "dev", environ)
    assert "dev" not in str(raised.value).replace(str(tmp_path), "")
