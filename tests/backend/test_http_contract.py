"""HTTP-level contract: JSON errors for routing, size and server failures, the
health route, and an OpenAPI document that matches the routes and validators."""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, Iterator, Set, Tuple

import pytest
import requests

from backend import schemas
from backend.app import create_app
from backend.openapi import build_openapi
from tests.support.backend import (
    ADMIN_TOKEN,
    PRODUCTION_CLIENT_SECRET,
    Backend,
    BackendFactory,
    LiveServer,
    person_body,
    sqlite_only,
    unique_id_number,
)


def test_health(backend: Backend) -> None:
    response = backend.request("GET", "/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@sqlite_only
def test_unknown_route_is_json_404(backend: Backend) -> None:
    for path in ("/nope", "/api/v1/persons/x", "/api/v2/persons", "/api/v1/me"):
        response = backend.request("GET", path)
        assert response.status_code == 404, path
        assert response.json() == {"error": "not_found", "message": "No such resource."}


@sqlite_only
@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("GET", "/api/v1/persons", "POST"),
        ("DELETE", "/api/v1/verification/start", "POST"),
        ("POST", "/api/v1/me/contributions", "GET"),
        ("PUT", "/health", "GET"),
    ],
)
def test_wrong_method_is_json_405(
    backend: Backend, method: str, path: str, allowed: str
) -> None:
    response = backend.request(method, path)
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response.headers["Allow"] == allowed


@sqlite_only
def test_oversized_body_is_413(backend: Backend) -> None:
    body = person_body(unique_id_number(), name="x" * 70_000)
    response = backend.request("POST", "/api/v1/persons", body, token=ADMIN_TOKEN)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


@sqlite_only
def test_oversized_chunked_body_is_413(backend: Backend) -> None:
    chunks: Iterator[bytes] = (b"x" * 8192 for _ in range(16))
    response = backend.request("POST", "/api/v1/verification/start", data=chunks)
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"


def test_body_just_under_the_limit_is_parsed(backend: Backend) -> None:
    padding = " " * (64 * 1024 - 200)
    raw = '{"id_number": "11010519491231002X"' + padding + "}"
    response = backend.request("POST", "/api/v1/verification/start", data=raw.encode())
    assert response.status_code == 200


@sqlite_only
def test_unreachable_database_is_503_not_500(make_backend: BackendFactory) -> None:
    backend = make_backend(database_url="postgresql://postgres@127.0.0.1:1/none")
    health = backend.request("GET", "/health")
    assert health.status_code == 503 and health.json()["error"] == "service_unavailable"
    start = backend.start(unique_id_number())
    assert start.status_code == 503 and start.json()["error"] == "service_unavailable"


@sqlite_only
def test_unexpected_exception_is_json_500_and_logged_redacted(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(backend.settings)

    async def explode(request: Any, id_number: str) -> None:
        raise RuntimeError("lookup failed for 11010519491231002X / 13812341234")

    app.add_route(explode, "/explode/<id_number:str>")
    server = LiveServer(app).start()
    try:
        with caplog.at_level(logging.ERROR, logger="backend"):
            response = requests.get(
                f"{server.url}/explode/11010519491231002X", timeout=5
            )
    finally:
        server.stop()
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "Something went wrong on our side.",
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RuntimeError" in logged and "110105********002X" in logged
    assert "11010519491231002X" not in logged and "13812341234" not in logged


# ---- the OpenAPI document --------------------------------------------------------
def test_openapi_is_served(backend: Backend) -> None:
    response = backend.request("GET", "/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json() == build_openapi(development=True)
    assert response.json()["openapi"].startswith("3.0")


def _documented(document: Dict[str, Any]) -> Set[Tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }


def _served(app: Any) -> Set[Tuple[str, str]]:
    routes = set()
    for route in app.router.routes:
        path = "/" + re.sub(r"<(\w+)(:[^>]*)?>", r"{\1}", route.path)
        for method in route.methods:
            routes.add((method, path))
    return routes


@sqlite_only
@pytest.mark.parametrize("mode", ["development", "production"])
def test_openapi_documents_exactly_the_routes(backend: Backend, mode: str) -> None:
    from dataclasses import replace

    app = create_app(
        replace(backend.settings, mode=mode, client_secret=PRODUCTION_CLIENT_SECRET)
    )
    app.router.finalize()
    assert _served(app) == _documented(build_openapi(development=mode == "development"))


def _objects(schema: Any) -> Iterator[Dict[str, Any]]:
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" in schema:
            yield schema
        for value in schema.values():
            yield from _objects(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _objects(item)


def test_request_schemas_are_the_enforced_ones_and_closed() -> None:
    paths = build_openapi(development=True)["paths"]

    def body(path: str) -> Dict[str, Any]:
        return paths[path]["post"]["requestBody"]["content"]["application/json"][
            "schema"
        ]

    assert body("/api/v1/persons") is schemas.PERSON_IN
    assert body("/api/v1/persons/{id_number}/contributions") is schemas.CONTRIBUTION_IN
    assert body("/api/v1/verification/start") is schemas.VERIFICATION_START_IN
    assert body("/api/v1/verification/check") is schemas.VERIFICATION_CHECK_IN
    for path in paths:
        for operation in paths[path].values():
            request = operation.get("requestBody", {}).get("content", {})
            for media in request.values():
                for obj in _objects(media["schema"]):
                    assert obj["additionalProperties"] is False, path
            for status, response in operation["responses"].items():
                # Prometheus scrapes text; everything else answers JSON.
                media = "text/plain" if path == "/metrics" else "application/json"
                assert media in response["content"], (path, status)


def test_every_documented_error_code_is_listed() -> None:
    text = str(build_openapi(development=True))
    for code in (
        "malformed_json",
        "invalid_body",
        "unknown_field",
        "missing_field",
        "invalid_field",
        "invalid_id_number",
        "unauthorized",
        "forbidden",
        "person_exists",
        "person_not_found",
        "contribution_exists",
        "body_too_large",
        "rate_limited",
        "wrong_code",
        "code_expired",
        "no_active_code",
        "code_locked",
        "invalid_token",
        "token_expired",
        "service_unavailable",
    ):
        assert code in text, code
