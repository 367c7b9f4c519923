"""Start the real assistant (all its processes) on free ports for a test run."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Mapping, Optional

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
    )
    return build_stack(settings, extra_env=extra_env, with_web=with_web).start()
