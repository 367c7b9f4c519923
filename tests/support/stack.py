"""Start the real assistant (all its processes) on free ports for a test run."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, Optional

import requests

from tools.devstack import Stack, build_stack, free_port
from tools.settings import StackSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_stack(
    extra_env: Optional[Mapping[str, str]] = None, with_web: bool = True
) -> Stack:
    """Start the assistant with the trained model in ``var/models``.

    Each stack gets its own run folder (tracker database, backend database,
    logs) so stacks with different settings can run side by side.
    """
    runs = REPO_ROOT / "var" / "test-runs"
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="stack-", dir=runs))
    settings = StackSettings(
        var_dir=run_dir,
        host="127.0.0.1",
        rasa_port=free_port(),
        actions_port=free_port(),
        backend_port=free_port(),
        web_port=free_port(),
        model_path=REPO_ROOT / "var" / "models",
        console_port=free_port(),
    )
    # Browsers may reach Rasa from the stack's demo page and from one spare
    # port a test can serve its own page on; every other origin is refused.
    spare_web_port = free_port()
    origins = f"http://127.0.0.1:{settings.web_port},http://127.0.0.1:{spare_web_port}"
    stack = build_stack(
        settings,
        extra_env={"SHEBAO_CORS_ORIGINS": origins, **(extra_env or {})},
        with_web=with_web,
        enable_api=True,
    )
    stack.spare_web_port = spare_web_port
    return stack.start()


def latest_code(stack: Stack, id_number: str) -> str:
    """The newest code the backend's development outbox holds for ``id_number``."""
    response = requests.get(
        f"{stack.backend_url}/api/v1/dev/outbox",
        params={"id_number": id_number},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["messages"][-1]["code"]
