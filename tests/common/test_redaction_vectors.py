"""The shared redaction test vectors (``redaction_vectors.json``), Python side.

The same file is run through the widget's JavaScript implementation in
``tests/security/test_widget_storage.py``, so both mask the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import pytest

from common.redaction import redact_text

VECTORS_PATH = Path(__file__).with_name("redaction_vectors.json")


def load_vectors() -> List[Dict[str, str]]:
    return json.loads(VECTORS_PATH.read_text(encoding="utf-8"))


VECTORS = load_vectors()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vector: Dict[str, str]) -> None:
    assert redact_text(vector["input"]) == vector["expected"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector_is_idempotent(vector: Dict[str, str]) -> None:
    assert redact_text(vector["expected"]) == vector["expected"]
