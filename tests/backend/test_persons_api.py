"""Registering people and recording payments: admin auth, validation, conflicts."""

from __future__ import annotations

import json

import pytest

from tests.support.backend import (
    ADMIN_TOKEN,
    Backend,
    contribution_body,
    person_body,
    sqlite_only,
    unique_id_number,
)

PERSONS = "/api/v1/persons"


def contributions_path(id_number: str) -> str:
    return f"{PERSONS}/{id_number}/contributions"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_create_person_returns_masked_record(backend: Backend) -> None:
    id_number = unique_id_number()
    response = backend.request(
        "POST", PERSONS, person_body(id_number), token=ADMIN_TOKEN
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body == {
        "masked_id_number": id_number[:6] + "********" + id_number[-4:],
        "name": "测试居民",
        "residency_type": "urban",
        "region": "上城区",
        "masked_phone": "138****1234",
        "enrollment": {
            "scheme": "urban_resident_medical",
            "status": "active",
            "since": "2024-01-01",
            "monthly_amount": "35.00",
        },
    }
    assert id_number not in response.text and "13812341234" not in response.text


def test_lower_case_x_is_accepted_and_normalized(backend: Backend) -> None:
    id_number = "11010519491231002X"
    backend.create_person(id_number.lower())
    response = backend.request(
        "POST", PERSONS, person_body(id_number), token=ADMIN_TOKEN
    )
    assert_error(response, 409, "person_exists")


def test_create_requires_a_bearer_token(backend: Backend) -> None:
    response = backend.request("POST", PERSONS, person_body(unique_id_number()))
    assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@sqlite_only
@pytest.mark.parametrize(
    "header", ["Basic dGVzdDp0ZXN0", "Bearer", "Bearer    ", "token"]
)
def test_malformed_authorization_is_401(backend: Backend, header: str) -> None:
    response = backend.request(
        "POST",
        PERSONS,
        person_body(unique_id_number()),
        headers={"Authorization": header},
    )
    assert_error(response, 401, "unauthorized")


def test_create_with_wrong_token_is_forbidden(backend: Backend) -> None:
    response = backend.request(
        "POST", PERSONS, person_body(unique_id_number()), token="not-the-admin"
    )
    assert_error(response, 403, "forbidden")


def test_person_token_is_not_an_admin_token(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    token = backend.login(id_number)
    response = backend.request(
        "POST", contributions_path(id_number), contribution_body("2025-01"), token=token
    )
    assert_error(response, 403, "forbidden")


def test_duplicate_person_conflicts(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    response = backend.request(
        "POST", PERSONS, person_body(id_number), token=ADMIN_TOKEN
    )
    assert_error(response, 409, "person_exists")


@sqlite_only
@pytest.mark.parametrize(
    "bad_id",
    [
        "110105194912310021",  # wrong check character (should be X)
        "11010519491231002",  # 17 characters
        "1101051949123100211",  # 19 characters
        "110105194913310028",  # month 13
        "11010519490230002X",  # 30 February
        "110105 19491231002X",  # space inside
        "11010519491231002Y",
        "",
    ],
)
def test_invalid_id_numbers_are_rejected(backend: Backend, bad_id: str) -> None:
    response = backend.request("POST", PERSONS, person_body(bad_id), token=ADMIN_TOKEN)
    body = assert_error(response, 400, "invalid_id_number")
    assert body["field"] == "id_number"


def test_id_number_of_wrong_type_is_invalid_id_number(backend: Backend) -> None:
    response = backend.request(
        "POST",
        PERSONS,
        person_body(110105194912310020),
        token=ADMIN_TOKEN,  # type: ignore[arg-type]
    )
    assert_error(response, 400, "invalid_id_number")


def test_unknown_field_is_named(backend: Backend) -> None:
    body = person_body(unique_id_number(), nickname="小王")
    response = backend.request("POST", PERSONS, body, token=ADMIN_TOKEN)
    assert assert_error(response, 400, "unknown_field")["field"] == "nickname"


def test_unknown_nested_field_is_named(backend: Backend) -> None:
    body = person_body(unique_id_number())
    body["enrollment"]["discount"] = "0.5"
    response = backend.request("POST", PERSONS, body, token=ADMIN_TOKEN)
    assert (
        assert_error(response, 400, "unknown_field")["field"] == "enrollment.discount"
    )


def test_missing_field_is_named(backend: Backend) -> None:
    body = person_body(unique_id_number())
    del body["phone"]
    response = backend.request("POST", PERSONS, body, token=ADMIN_TOKEN)
    assert assert_error(response, 400, "missing_field")["field"] == "phone"


@sqlite_only
@pytest.mark.parametrize(
    "field, value",
    [
        ("name", 42),
        ("name", ""),
        ("name", "x" * 65),
        ("name", "bad\u0000name"),
        ("name", "trailing\n"),
        ("residency_type", "suburban"),
        ("phone", "12345678901"),
        ("phone", "1381234123"),
        ("region", None),
    ],
)
def test_wrong_types_and_values_are_invalid_field(
    backend: Backend, field: str, value: object
) -> None:
    body = person_body(unique_id_number(), **{field: value})
    response = backend.request("POST", PERSONS, body, token=ADMIN_TOKEN)
    assert assert_error(response, 400, "invalid_field")["field"] == field


@sqlite_only
@pytest.mark.parametrize(
    "field, value",
    [
        ("monthly_amount", 35.0),  # a float: amounts are decimal strings
        ("monthly_amount", "35.001"),
        ("monthly_amount", "-1"),
        ("since", "2024-02-30"),
        ("since", "2024/01/01"),
        ("scheme", "private"),
        ("status", "frozen"),
    ],
)
def test_invalid_enrollment_fields(backend: Backend, field: str, value: object) -> None:
    body = person_body(unique_id_number())
    body["enrollment"][field] = value
    response = backend.request("POST", PERSONS, body, token=ADMIN_TOKEN)
    assert (
        assert_error(response, 400, "invalid_field")["field"] == f"enrollment.{field}"
    )


@sqlite_only
@pytest.mark.parametrize(
    "raw", [b"{", b"not json", b"\xff\xfe", b"", b'{"a": "\\ud800"}']
)
def test_malformed_json(backend: Backend, raw: bytes) -> None:
    response = backend.request(
        "POST",
        PERSONS,
        data=raw,
        token=ADMIN_TOKEN,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "malformed_json")


@sqlite_only
@pytest.mark.parametrize("document", [[], "text", 3, None])
def test_json_that_is_not_an_object(backend: Backend, document: object) -> None:
    response = backend.request(
        "POST", PERSONS, data=json.dumps(document), token=ADMIN_TOKEN
    )
    assert_error(response, 400, "invalid_body")


def test_record_contribution(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    response = backend.request(
        "POST",
        contributions_path(id_number),
        contribution_body("2025-03", amount="35.5", channel="alipay"),
        token=ADMIN_TOKEN,
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "period": "2025-03",
        "amount": "35.50",
        "paid_on": "2025-03-15",
        "channel": "alipay",
        "status": "paid",
    }


def test_amounts_are_exact_decimals(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(
        id_number,
        enrollment={
            "scheme": "urban_resident_medical",
            "since": "2025-01-01",
            "monthly_amount": "0.10",
        },
    )
    for month in ("01", "02", "03"):
        backend.pay(id_number, f"2025-{month}", amount="0.10")
    backend.pay(id_number, "2025-04", amount="99999999.99")
    summary = backend.summary(backend.login(id_number), 2025).json()
    assert summary["total_paid"] == "100000000.29"  # not 100000000.28999999
    assert summary["arrears"]["amount"] == "0.20"  # May and June at 0.10


def test_contribution_for_unknown_person(backend: Backend) -> None:
    response = backend.request(
        "POST",
        contributions_path(unique_id_number()),
        contribution_body("2025-01"),
        token=ADMIN_TOKEN,
    )
    assert_error(response, 404, "person_not_found")


def test_contribution_with_invalid_path_id(backend: Backend) -> None:
    response = backend.request(
        "POST",
        contributions_path("110105194912310021"),
        contribution_body("2025-01"),
        token=ADMIN_TOKEN,
    )
    assert_error(response, 400, "invalid_id_number")


def test_contribution_requires_admin(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    response = backend.request(
        "POST", contributions_path(id_number), contribution_body("2025-01")
    )
    assert_error(response, 401, "unauthorized")


def test_duplicate_period_conflicts(backend: Backend) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    backend.pay(id_number, "2025-01")
    response = backend.request(
        "POST",
        contributions_path(id_number),
        contribution_body("2025-01"),
        token=ADMIN_TOKEN,
    )
    assert_error(response, 409, "contribution_exists")


@sqlite_only
@pytest.mark.parametrize(
    "field, value",
    [
        ("period", "2025-13"),
        ("period", "2025-1"),
        ("amount", "abc"),
        ("amount", 35),
        ("paid_on", "yesterday"),
        ("channel", "cash"),
        ("status", "maybe"),
    ],
)
def test_invalid_contribution_fields(
    backend: Backend, field: str, value: object
) -> None:
    id_number = unique_id_number()
    backend.create_person(id_number)
    body = contribution_body("2025-01")
    body[field] = value
    response = backend.request(
        "POST", contributions_path(id_number), body, token=ADMIN_TOKEN
    )
    assert assert_error(response, 400, "invalid_field")["field"] == field
