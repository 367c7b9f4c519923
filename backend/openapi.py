"""The OpenAPI 3.0 document served at ``GET /api/v1/openapi.json``.

Hand-assembled, but from the very schemas ``backend.schemas`` enforces on
requests, and checked against the running service by the schemathesis tests
(no 5xx, every response matches its declared status and schema).
"""

from __future__ import annotations

from typing import Any, Dict, List

from backend import schemas

API_PREFIX = "/api/v1"
ID_NUMBER_PARAM = {
    "name": "id_number",
    "in": "path",
    "required": True,
    "schema": schemas.ID_NUMBER,
}


def _json(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str, codes: List[str]) -> Dict[str, Any]:
    return {
        "description": f"{description} (error: {', '.join(codes)})",
        "content": _json({"$ref": "#/components/schemas/Error"}),
    }


def _ok(description: str, schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def _body(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"required": True, "content": _json(schema)}


BAD_BODY = [
    "malformed_json",
    "invalid_body",
    "unknown_field",
    "missing_field",
    "invalid_field",
    "invalid_id_number",
]
TOO_LARGE = _error("Body larger than the limit", ["body_too_large"])
RATE_LIMITED = {
    **_error("Too many codes requested", ["rate_limited"]),
    "headers": {
        "Retry-After": {
            "required": True,
            "description": "Seconds until a new request may succeed.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def build_openapi(development: bool = False) -> Dict[str, Any]:
    """The API description; the dev outbox appears only in development mode."""
    paths: Dict[str, Any] = {
        "/health": {
            "get": {
                "operationId": "health",
                "summary": "Readiness: the service and its database answer",
                "responses": {
                    "200": _ok("The service and its database answer", schemas.HEALTH),
                    "503": _error("Database unreachable", ["service_unavailable"]),
                },
            }
        },
        "/health/ready": {
            "get": {
                "operationId": "healthReady",
                "summary": "Readiness probe (the same check as /health)",
                "responses": {
                    "200": _ok("The service and its database answer", schemas.HEALTH),
                    "503": _error("Database unreachable", ["service_unavailable"]),
                },
            }
        },
        "/health/live": {
            "get": {
                "operationId": "healthLive",
                "summary": "Liveness probe: the process serves HTTP",
                "responses": {"200": _ok("The process answers", schemas.HEALTH)},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (no personal data)",
                "responses": {
                    "200": {
                        "description": "Prometheus text exposition format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        f"{API_PREFIX}/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "responses": {"200": _ok("OpenAPI 3.0 document", {"type": "object"})},
            }
        },
        f"{API_PREFIX}/persons": {
            "post": {
                "operationId": "createPerson",
                "summary": "Register an insured person with their enrolment (admin)",
                "security": [{"adminToken": []}],
                "requestBody": _body(schemas.PERSON_IN),
                "responses": {
                    "201": _ok("Created", schemas.PERSON_OUT),
                    "400": _error("Invalid body", BAD_BODY),
                    "401": _error("No bearer token", ["unauthorized"]),
                    "403": _error("Not the admin token", ["forbidden"]),
                    "409": _error("ID number already registered", ["person_exists"]),
                    "413": TOO_LARGE,
                },
            }
        },
        f"{API_PREFIX}/persons/{{id_number}}/contributions": {
            "post": {
                "operationId": "recordContribution",
                "summary": "Record one month's contribution for a person (admin)",
                "security": [{"adminToken": []}],
                "parameters": [ID_NUMBER_PARAM],
                "requestBody": _body(schemas.CONTRIBUTION_IN),
                "responses": {
                    "201": _ok("Recorded", schemas.contribution_out()),
                    "400": _error("Invalid ID number or body", BAD_BODY),
                    "401": _error("No bearer token", ["unauthorized"]),
                    "403": _error("Not the admin token", ["forbidden"]),
                    "404": _error("Unknown person", ["person_not_found"]),
                    "409": _error("Period already recorded", ["contribution_exists"]),
                    "413": TOO_LARGE,
                },
            }
        },
        f"{API_PREFIX}/verification/start": {
            "post": {
                "operationId": "startVerification",
                "summary": "Send a 6-digit one-time code to the phone on file",
                "description": "Answers the same way, at once, whether or "
                "not the ID number is on file (the masked phone of an unknown ID "
                "is a stable decoy); the code is delivered after the answer.",
                "parameters": [
                    {
                        "name": "X-Client-Key",
                        "in": "header",
                        "required": False,
                        "description": "Opaque key naming the resident (a "
                        "server-side identity), believed only together with the "
                        "shared secret BACKEND_CLIENT_SECRET in "
                        "X-Shebao-Client-Secret (the action server): the "
                        "per-client rate limit then counts per key, not per address.",
                        "schema": {"type": "string", "maxLength": 200},
                    }
                ],
                "requestBody": _body(schemas.VERIFICATION_START_IN),
                "responses": {
                    "200": _ok(
                        "Code sent (or pretended to be)", schemas.VERIFICATION_STARTED
                    ),
                    "400": _error("Invalid body", BAD_BODY),
                    "413": TOO_LARGE,
                    "429": RATE_LIMITED,
                },
            }
        },
        f"{API_PREFIX}/verification/check": {
            "post": {
                "operationId": "checkVerification",
                "summary": "Exchange the code for a short-lived token for that person",
                "requestBody": _body(schemas.VERIFICATION_CHECK_IN),
                "responses": {
                    "200": _ok("Verified", schemas.TOKEN_ISSUED),
                    "400": _error("Invalid body", BAD_BODY),
                    "401": _error(
                        "Code wrong, expired or never requested",
                        ["wrong_code", "code_expired", "no_active_code"],
                    ),
                    "403": _error("Too many wrong codes", ["code_locked"]),
                    "413": TOO_LARGE,
                },
            }
        },
        f"{API_PREFIX}/me/contributions": {
            "get": {
                "operationId": "myContributions",
                "summary": "The token holder's contributions and arrears for a year",
                "security": [{"personToken": []}],
                "parameters": [
                    {
                        "name": "year",
                        "in": "query",
                        "required": False,
                        "description": "Defaults to the current year (Asia/Shanghai).",
                        "schema": schemas.YEAR,
                    }
                ],
                "responses": {
                    "200": _ok("Summary", schemas.CONTRIBUTION_SUMMARY),
                    "400": _error("Invalid year", ["invalid_field"]),
                    "401": _error(
                        "Missing, unknown or expired token",
                        ["unauthorized", "invalid_token", "token_expired"],
                    ),
                },
            }
        },
    }
    if development:
        paths[f"{API_PREFIX}/dev/outbox"] = {
            "get": {
                "operationId": "devOutbox",
                "summary": "Codes sent to an ID number (development mode only)",
                "parameters": [
                    {
                        "name": "id_number",
                        "in": "query",
                        "required": True,
                        "schema": schemas.ID_NUMBER,
                    }
                ],
                "responses": {
                    "200": _ok("Messages, oldest first", schemas.OUTBOX),
                    "400": _error(
                        "Invalid ID number", ["invalid_id_number", "missing_field"]
                    ),
                },
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Shebao contribution backend",
            "version": "1.0.0",
            "description": "Insured persons, contributions and arrears, with "
            "SMS-code verification. Every error is "
            '{"error": "<stable_code>", "message": "..."}.',
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": schemas.ERROR},
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "BACKEND_ADMIN_TOKEN",
                },
                "personToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Token from POST /api/v1/verification/check",
                },
            },
        },
    }
