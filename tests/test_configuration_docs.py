"""The README's configuration tables are the code's, not a hand-kept copy.

Every environment variable a deployable reads must have a row in README.md,
and where the code's default is a literal, the row shows that literal — so a
changed default or a new variable cannot go undocumented.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actions", "backend", "bot", "common", "console", "tools", "web")
ENV_HELPERS = {"env_str", "env_int", "env_float", "env_bool", "env_list", "env_secret"}
VARIABLE = re.compile(
    r"^(SHEBAO|BACKEND|WECHAT|RASA|WEB|ACTIONS|CONSOLE)_[A-Z0-9_]+$|^DATABASE_URL$"
)
# Rasa's own switches, set by the Makefile and the launcher
NOT_SETTINGS = {"RASA_CACHE_DIRECTORY", "RASA_TELEMETRY_ENABLED"}


def env_reads() -> Iterator[Tuple[str, Optional[object], Path]]:
    """(variable, literal default or None, file) for every read in our packages."""
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id in ENV_HELPERS
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    default = node.args[1] if len(node.args) > 1 else None
                    literal = (
                        default.value if isinstance(default, ast.Constant) else None
                    )
                    yield str(node.args[0].value), literal, path
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if VARIABLE.match(node.value) and node.value not in NOT_SETTINGS:
                        yield node.value, None, path
    for name in ("endpoints.yml", "credentials.yml"):
        text = (REPO_ROOT / name).read_text(encoding="utf-8")
        for variable in re.findall(r"\$\{([A-Z0-9_]+)\}", text):
            if VARIABLE.match(variable):
                yield variable, None, REPO_ROOT / name


def readme_rows() -> Dict[str, str]:
    """Variable -> its README table row, for rows whose first cell names one variable."""
    rows = {}
    for line in (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([A-Z0-9_]+)` \|", line)
        if match:
            rows[match.group(1)] = line
    return rows


def test_every_variable_the_code_reads_is_documented() -> None:
    rows = readme_rows()
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    missing = sorted(
        {
            f"{name} ({path.relative_to(REPO_ROOT)})"
            for name, _, path in env_reads()
            if name not in rows and f"`{name}`" not in readme
        }
    )
    assert missing == []


def test_documented_defaults_are_the_codes() -> None:
    rows = readme_rows()
    wrong = []
    for name, default, path in env_reads():
        if default in (None, "") or name not in rows:
            continue
        default_cell = rows[name].split("|")[2]
        if f"`{default}`" not in default_cell:
            wrong.append(
                f"{name}: code says {default!r} ({path.name}), README {default_cell.strip()}"
            )
    assert sorted(set(wrong)) == []


def test_the_scan_finds_reads() -> None:
    """Guard the guard: the scan sees settings of several deployables."""
    names = {name for name, _, _ in env_reads()}
    assert {
        "SHEBAO_ENV",
        "BACKEND_SECRET",
        "SHEBAO_BACKEND_URL",
        "WECHAT_TOKEN",
    } <= names
