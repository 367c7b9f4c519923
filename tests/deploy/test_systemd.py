"""The systemd units (deploy/systemd/), checked offline.

- one unit per deployable, replicas as templated units (``shebao-rasa@PORT``);
- every secret a service refuses to start without reaches its unit as a
  systemd credential read through ``<NAME>_FILE`` (only where the reader
  follows ``_FILE``, as tools/scaled.py decides) or through a secrets
  environment file, never as a value in the unit or on the command line;
- every setting the units and ``shebao.env.example`` set is a variable the
  code reads (the same names as the README and the Kubernetes ConfigMap);
- ``systemd-analyze verify`` accepts them, where it is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Set, Tuple

import pytest

from tests.deploy.test_manifests import SECRETS_BY_DEPLOYMENT
from tests.test_configuration_docs import env_reads
from tools.scaled import SECRETS

REPO_ROOT = Path(__file__).resolve().parents[2]
UNITS = REPO_ROOT / "deploy" / "systemd"
UNIT_OF = {
    "rasa": "shebao-rasa@.service",
    "actions": "shebao-actions@.service",
    "backend": "shebao-backend@.service",
    "web": "shebao-web.service",
    "console": "shebao-console.service",
}
# Sanic's own switch (the resident's address behind nginx), not ours.
NOT_OURS = {"SANIC_REAL_IP_HEADER"}
Unit = Dict[str, List[Tuple[str, str]]]


def parse(path: Path) -> Unit:
    """Sections -> (key, value) in order (keys repeat: Environment=, ...)."""
    sections: Unit = {}
    current = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections.setdefault(current, [])
            continue
        key, _, value = line.partition("=")
        sections[current].append((key, value))
    return sections


def values(unit: Unit, key: str) -> List[str]:
    return [v for k, v in unit.get("Service", []) if k == key]


def environment(unit: Unit) -> Dict[str, str]:
    return dict(item.split("=", 1) for item in values(unit, "Environment"))


def secrets_files(unit: Unit) -> Set[str]:
    """Keys of the secrets environment files the unit reads (their examples)."""
    keys: Set[str] = set()
    for path in values(unit, "EnvironmentFile"):
        name = Path(path.lstrip("-")).name
        if name.endswith(".secrets.env"):
            example = UNITS / f"{name}.example"
            assert example.exists(), f"{example.name} is missing"
            keys |= {
                line.split("=", 1)[0]
                for line in example.read_text(encoding="utf-8").splitlines()
                if line and not line.startswith("#")
            }
    return keys


def test_every_deployable_has_a_unit_and_replicas_are_templates() -> None:
    for name in UNIT_OF.values():
        unit = parse(UNITS / name)
        assert values(unit, "User") == ["shebao"], name
        assert values(unit, "NoNewPrivileges") == ["yes"], name
        assert ("WantedBy", "shebao.target") in unit["Install"], name
    for kind in ("rasa", "actions", "backend"):  # one instance per loopback port
        assert "%i" in " ".join(v for _, v in parse(UNITS / UNIT_OF[kind])["Service"])


@pytest.mark.parametrize("kind", sorted(UNIT_OF))
def test_every_secret_reaches_its_unit_without_a_value_in_it(kind: str) -> None:
    unit = parse(UNITS / UNIT_OF[kind])
    env = environment(unit)
    credentials = {v.split(":", 1)[0] for v in values(unit, "LoadCredential")}
    from_files = secrets_files(unit)
    for name in SECRETS_BY_DEPLOYMENT[kind]:
        if name in credentials:
            assert env.get(f"{name}_FILE") == f"%d/{name}", name
            # only a reader that follows <NAME>_FILE gets a file
            assert SECRETS[kind][name] is True, name
        else:
            assert name in from_files, f"{kind}: {name} reaches no process"
        assert name not in env, f"{kind}: {name} has a value in the unit"
    command = " ".join(values(unit, "ExecStart"))
    assert not [n for n in SECRETS_BY_DEPLOYMENT[kind] if n in command]


def test_settings_are_variables_the_code_reads() -> None:
    read = {name for name, _, _ in env_reads()}
    example = UNITS / "shebao.env.example"
    shared = {
        line.split("=", 1)[0]
        for line in example.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    }
    in_units = {
        name for path in UNITS.glob("*.service") for name in environment(parse(path))
    }
    settings = shared | {re.sub(r"_FILE$", "", name) for name in in_units}
    assert settings - read - NOT_OURS == set()
    secrets = set().union(*SECRETS_BY_DEPLOYMENT.values())
    assert not (shared | in_units) & secrets  # a secret only as <NAME>_FILE
    assert "BACKEND_MODE=production" in example.read_text(encoding="utf-8")


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for path in UNITS.iterdir():
        if path.suffix in (".service", ".target"):
            shutil.copy(path, tmp_path / path.name)
    names = []
    for kind in ("rasa", "actions", "backend"):
        instance = tmp_path / UNIT_OF[kind].replace("@", "@5000")
        instance.symlink_to(tmp_path / UNIT_OF[kind])
        names.append(instance.name)
    names += [p.name for p in tmp_path.iterdir() if "@" not in p.name]
    result = subprocess.run(
        [analyze, "verify", "--man=no", *[str(tmp_path / n) for n in names]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        # the units name the deployment's paths, not this machine's
        if line.strip() and "is not executable" not in line
    ]
    assert problems == []
