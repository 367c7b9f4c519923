"""The package map is the architecture: each deployable imports only what it may.

- ``common`` (shared helpers) imports none of our packages and no framework;
- ``backend`` (the contribution service) imports only ``common`` and nothing of Rasa;
- ``bot`` (Rasa server plug-ins), ``actions`` (action server) and ``web`` (the
  widget's server) never import the backend or each other's internals;
- ``console`` (the staff review console) imports only ``common`` and nothing
  of Rasa: it reads the tracker store's tables, not Rasa's code;
- ``tools`` (launcher, developer CLIs) may use everything;
- the Redis client is imported in one place, the storage seam's Redis side
  (``common/redis_storage.py``): everything else reaches Redis through it, so
  what a deployable writes there is always hashed and sealed;
- the rate-limit library (``limits``, which writes to Redis itself) is used by
  one module, ``bot/channels/rate_limit.py``, which gives it only hashed keys.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OURS = {"actions", "backend", "bot", "common", "console", "tools", "web"}

# package -> our packages it may import
ALLOWED: Dict[str, Set[str]] = {
    "common": set(),
    "backend": {"common"},
    "actions": {"common"},
    "bot": {"common"},
    "web": {"common"},
    "console": {"common"},
}
# package -> third-party top-level modules it must not import
FORBIDDEN_LIBRARIES: Dict[str, Set[str]] = {
    "common": {"rasa", "rasa_sdk", "sanic", "sqlalchemy", "aiohttp"},
    "backend": {"rasa", "rasa_sdk"},
    "web": {"rasa", "rasa_sdk", "sqlalchemy"},
    "console": {"rasa", "rasa_sdk"},
}

# third-party module -> the only files of ours that may import it
ONLY_IN: Dict[str, Set[str]] = {
    "redis": {"common/redis_storage.py"},
    "limits": {"bot/channels/rate_limit.py"},
}


def imports(package: str) -> Iterator[Tuple[Path, str]]:
    """(file, imported top-level module) for every import in ``package``."""
    for path in sorted((REPO_ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield path, node.module.split(".")[0]


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_its_deployable_may(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    wrong = sorted(
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path, module in imports(package)
        if module in OURS and module not in allowed
    )
    assert wrong == []


@pytest.mark.parametrize("package", sorted(FORBIDDEN_LIBRARIES))
def test_package_does_not_depend_on_frameworks_it_does_not_run_on(package: str) -> None:
    wrong = sorted(
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path, module in imports(package)
        if module in FORBIDDEN_LIBRARIES[package]
    )
    assert wrong == []


@pytest.mark.parametrize("module", sorted(ONLY_IN))
def test_a_confined_library_is_imported_only_where_it_belongs(module: str) -> None:
    wrong = sorted(
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for package in sorted(OURS - {"tools"})
        for path, imported in imports(package)
        if imported == module
        and path.relative_to(REPO_ROOT).as_posix() not in ONLY_IN[module]
    )
    assert wrong == []


def test_the_graph_check_sees_imports() -> None:
    """Guard the guard: the walker finds the imports it should."""
    found = {module for _, module in imports("actions")}
    assert {"rasa_sdk", "common"} <= found
    assert "redis" in {module for _, module in imports("common")}
