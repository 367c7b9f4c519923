"""Start the real assistant (all its processes) on free ports for a test run."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Mapping, Optional

import requests

from backend.settings import DEV_ADMIN_TOKEN
from common.identity import make_id_number
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


def stored_tracker(stack: Stack, sender_id: str) -> dict:
    """A conversation as Rasa's HTTP API returns it (``sender_id`` with its channel prefix)."""
    response = requests.get(
        # not percent-encoded: Rasa does not decode the id (":" would become %3A)
        f"{stack.rasa_url}/conversations/{sender_id}/tracker",
        params={"token": stack.rasa_token},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def register_resident(stack: Stack, phone: str = "13712345678") -> str:
    """A new insured person in the stack's backend; their ID number.

    Urban, enrolled since 2024-01 at ¥350/month, paid 2024 and 2025-01..06.
    Each test gets its own, so the backend's per-ID limits never interfere.
    """
    id_number = make_id_number(
        "440305",
        "1985%02d%02d" % (random.randint(1, 12), random.randint(1, 28)),
        "%03d" % random.randint(0, 999),
    )
    admin = {"Authorization": f"Bearer {DEV_ADMIN_TOKEN}"}
    body = {
        "id_number": id_number,
        "name": "测试居民",
        "residency_type": "urban",
        "region": "深圳市南山区",
        "phone": phone,
        "enrollment": {
            "scheme": "urban_resident_medical",
            "since": "2024-01-01",
            "monthly_amount": "350.00",
        },
    }
    response = requests.post(
        f"{stack.backend_url}/api/v1/persons", json=body, headers=admin, timeout=10
    )
    assert response.status_code == 201, response.text
    months = [f"2024-{m:02d}" for m in range(1, 13)] + [
        f"2025-{m:02d}" for m in range(1, 7)
    ]
    for period in months:
        response = requests.post(
            f"{stack.backend_url}/api/v1/persons/{id_number}/contributions",
            json={
                "period": period,
                "amount": "350.00",
                "paid_on": f"{period}-15",
                "channel": "wechat",
            },
            headers=admin,
            timeout=10,
        )
        assert response.status_code == 201, response.text
    return id_number
