"""The backend declares its own dependencies, pinned like everything else, and no Rasa."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> dict:
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_backend_requirements_agree_with_the_constraints_and_leave_out_rasa() -> None:
    backend = pins(ROOT / "backend" / "requirements.in")
    constraints = pins(ROOT / "constraints.txt")
    assert backend, "backend/requirements.in lists nothing"
    assert not {name for name in backend if name.startswith("rasa")}
    assert {
        name: version
        for name, version in backend.items()
        if constraints.get(name) != version
    } == {}
