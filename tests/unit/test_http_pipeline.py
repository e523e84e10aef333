"""The request pipeline every trigger shares, in-process (over HTTP: tests/integration/test_http_pipeline.py)."""

from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Callable
from typing import Any

import azure.functions as func
import pytest
import redis
from pydantic import EmailStr, Field
from sqlalchemy.exc import OperationalError

from shared.errors import ValidationFailedError
from shared.http.endpoint import EndpointSpec, Reply, run_pipeline
from shared.http.request import client_ip_from, validate_model
from shared.models import DocumentKind
from shared.schemas.common import RequestModel
from shared.services.principal import Principal
from tests.support.messages import check_error_body


class Signup(RequestModel):
    email: EmailStr
    age: int = Field(ge=18)
    name: str = Field(min_length=1, max_length=20)


def echo(body: Signup) -> Reply:
    return Reply(body, status=201)


def call(
    handler: Callable[..., Any], body: bytes = b"{}", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], dict[str, Any]]:
    spec = EndpointSpec(name="probe", method="POST", route="probe", summary="probe", tags=("test",), handler=handler)
    request = func.HttpRequest("POST", "/probe", headers=headers or {"Content-Type": "application/json"}, body=body)
    response = run_pipeline(spec, request)
    check_error_body(response.status_code, response.get_body(), spec.name)
    payload = json.loads(response.get_body()) if response.get_body() else {}
    return response.status_code, dict(response.headers), payload


def test_valid_body_reaches_the_handler() -> None:
    status, headers, body = call(echo, b'{"email":"A@Example.org","age":30,"name":"  Ann "}')
    assert status == 201
    assert body["name"] == "  Ann " and body["age"] == 30
    assert headers["X-Request-ID"]


@pytest.mark.parametrize("raw", [b"{not json", b"", b"   ", b'{"a":1,"a":2}', b"[1,2", b'{"n": NaN}', b"\xff\xfe"])
def test_malformed_json_is_400(raw: bytes) -> None:
    status, _, body = call(echo, raw)
    assert status == 400
    assert body["error"]["code"] == "INVALID_JSON"


def _nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize("depth", [33, 500, 100_000])
@pytest.mark.parametrize("kind", ["array", "object"])
def test_json_nested_deeper_than_32_levels_is_400_and_logs_no_traceback(
    depth: int, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """500 to 960 levels used to reach a recursive walk and answer 500, with a 249 KB traceback logged."""
    with caplog.at_level(logging.DEBUG):
        status, _, body = call(echo, _nested(depth, kind))
    assert (status, body["error"]["code"]) == (400, "INVALID_JSON")
    assert "32 levels" in body["error"]["message"]
    assert not [record for record in caplog.records if record.exc_info or record.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (_nested(32, "object"), 422),  # 32 levels parse (and then fail validation)
        (_nested(32, "array"), 422),
        # brackets inside a string, after an escaped quote, are text
        (b'{"email":"a@example.org","age":30,"name":"\\"' + b"[{" * 40 + b'"}', 422),
        # a string ending in an escaped backslash ends there: the brackets after it count
        (b'{"name":"\\\\","x":' + _nested(33, "array") + b"}", 400),
    ],
    ids=["32-objects", "32-arrays", "brackets-after-an-escaped-quote", "brackets-after-an-escaped-backslash"],
)
def test_json_depth_is_counted_outside_strings_only(raw: bytes, status: int) -> None:
    assert call(echo, raw)[0] == status


def test_the_unstorable_string_scan_walks_any_depth_without_recursion() -> None:
    """Every walk over caller input is a loop: a structure deeper than Python's recursion limit is fine."""
    deep: Any = "nul\x00"
    for _ in range(3 * sys.getrecursionlimit()):
        deep = [deep]
    with pytest.raises(ValidationFailedError) as raised:
        validate_model(Signup, {"email": "a@example.org", "age": 30, "name": "x", "deep": deep})
    assert raised.value.details is not None
    field = raised.value.details["fields"][0]
    assert field["type"] == "string_characters" and field["field"].startswith("deep.0.0.0")


def test_validation_errors_name_each_field_without_echoing_input() -> None:
    status, _, body = call(echo, b'{"email":"nope","age":3,"name":"secret-value-xyz-that-is-long","extra":1}')
    assert status == 422
    error = body["error"]
    assert error["code"] == "VALIDATION_ERROR"
    fields = {item["field"] for item in error["details"]["fields"]}
    assert fields == {"email", "age", "name", "extra"}
    assert "secret-value-xyz" not in json.dumps(body)


@pytest.mark.parametrize("payload", [b"[]", b'"text"', b"42", b"null"])
def test_non_object_body_is_422(payload: bytes) -> None:
    status, _, body = call(echo, payload)
    assert status == 422 and body["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("value", ["nul\\u0000byte", "lone\\ud800"])
def test_unstorable_characters_are_422(value: str) -> None:
    status, _, body = call(echo, ('{"email":"a@example.org","age":30,"name":"' + value + '"}').encode())
    assert status == 422
    assert body["error"]["details"]["fields"][0]["field"] == "name"


def test_oversized_body_is_413() -> None:
    status, _, body = call(echo, b'{"name":"' + b"x" * (1024 * 1024 + 10) + b'"}')
    assert status == 413
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_wrong_content_type_is_415() -> None:
    status, _, body = call(echo, b"email=a", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415
    assert body["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_unexpected_exception_is_500_with_nothing_leaked(caplog: pytest.LogCaptureFixture) -> None:
    def broken(body: Signup) -> None:
        raise RuntimeError("SELECT password_hash FROM users -- internal detail")

    with caplog.at_level(logging.ERROR, logger="augeo.http"):
        status, headers, body = call(broken, b'{"email":"a@example.org","age":30,"name":"x"}')
    assert status == 500
    assert body["error"]["code"] == "INTERNAL_ERROR"
    assert "password_hash" not in json.dumps(body) and "RuntimeError" not in json.dumps(body)
    assert body["error"]["request_id"] == headers["X-Request-ID"]
    assert any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize(
    "failure",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.TimeoutError("Timeout reading from socket"),
        OperationalError("SELECT 1", {}, Exception("could not connect")),
    ],
)
def test_dependency_failure_is_503(failure: Exception) -> None:
    def down(body: Signup) -> None:
        raise failure

    status, headers, body = call(down, b'{"email":"a@example.org","age":30,"name":"x"}')
    assert status == 503
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert headers["Retry-After"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("10.0.0.1, 203.0.113.9", "203.0.113.9"),
        ("spoofed, 198.51.100.7:51234", "198.51.100.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::2", "2001:db8::2"),
        ("not-an-ip", None),
        ("", None),
    ],
)
def test_client_ip_is_the_right_most_forwarded_entry(header: str, expected: str | None) -> None:
    assert client_ip_from({"x-forwarded-for": header} if header else {}) == expected


def test_route_parameters_reach_the_handler_parsed() -> None:
    seen: list[object] = []

    def show(user_id: uuid.UUID) -> Reply:
        seen.append(user_id)
        return Reply({})

    spec = EndpointSpec(
        name="probe_id", method="GET", route="probe/{user_id:guid}", summary="p", tags=("test",), handler=show
    )
    wanted = uuid.uuid4()
    request = func.HttpRequest("GET", f"/probe/{wanted}", body=b"", route_params={"user_id": str(wanted).upper()})
    assert run_pipeline(spec, request).status_code == 200
    assert seen == [wanted]


def test_an_enum_route_parameter_is_parsed_or_a_422_naming_it() -> None:
    seen: list[object] = []

    def show(kind: DocumentKind) -> Reply:
        seen.append(kind)
        return Reply({})

    spec = EndpointSpec(
        name="probe_kind", method="GET", route="probe/{kind}", summary="p", tags=("test",), handler=show
    )
    good = func.HttpRequest("GET", "/probe/privacy_policy", body=b"", route_params={"kind": "privacy_policy"})
    assert run_pipeline(spec, good).status_code == 200
    assert seen == [DocumentKind.PRIVACY_POLICY]
    bad = run_pipeline(spec, func.HttpRequest("GET", "/probe/x", body=b"", route_params={"kind": "cookie_policy"}))
    assert bad.status_code == 422
    assert json.loads(bad.get_body())["error"]["details"]["fields"][0]["field"] == "kind"
    assert seen == [DocumentKind.PRIVACY_POLICY], "the handler never ran"


@pytest.mark.parametrize(
    ("route", "handler_source", "options"),
    [
        ("probe/{kind:alpha}", "def handler(kind: DocumentKind) -> None: ...", {}),  # an enum takes no constraint
        ("probe/{user_id:guid}", "def handler(user_id: str) -> None: ...", {}),  # a guid is a UUID
        ("probe/{user_id}", "def handler(user_id: uuid.UUID) -> None: ...", {}),  # a UUID needs :guid
        ("probe/{user_id:guid}", "def handler() -> None: ...", {}),  # a route parameter nobody takes
        ("probe", "def handler(body: dict) -> None: ...", {}),  # a body must be a model
        ("probe", "def handler(caller: Principal) -> None: ...", {}),  # a caller needs auth=True
        ("probe", "def handler(request: object) -> None: ...", {}),  # nothing provides 'request'
        # a caller who may be nobody goes with bearer_optional, and bearer_optional with one
        ("probe", "def handler(caller: Principal | None) -> None: ...", {}),
        ("probe", "def handler(caller: Principal | None) -> None: ...", {"auth": True}),
        ("probe", "def handler(caller: Principal) -> None: ...", {"bearer_optional": True}),
        ("probe", "def handler(caller: Principal | None) -> None: ...", {"auth": True, "bearer_optional": True}),
    ],
)
def test_a_signature_the_pipeline_cannot_serve_fails_at_declaration(
    route: str, handler_source: str, options: dict[str, Any]
) -> None:
    namespace: dict[str, Any] = {"uuid": uuid, "Principal": Principal, "DocumentKind": DocumentKind}
    exec(handler_source, namespace)  # noqa: S102 (a fixed, local source)
    with pytest.raises(TypeError):
        EndpointSpec(
            name="bad", method="GET", route=route, summary="b", tags=("test",), handler=namespace["handler"], **options
        )


def test_an_optional_bearer_route_without_a_token_gets_nobody() -> None:
    """No Authorization header: the handler runs with ``caller=None`` (nothing is looked up)."""
    seen: list[object] = []

    def show(caller: Principal | None) -> Reply:
        seen.append(caller)
        return Reply({})

    spec = EndpointSpec(
        name="probe_optional",
        method="GET",
        route="probe",
        summary="p",
        tags=("test",),
        handler=show,
        bearer_optional=True,
    )
    assert run_pipeline(spec, func.HttpRequest("GET", "/probe", body=b"")).status_code == 200
    assert seen == [None]


def test_a_body_of_many_unknown_keys_gets_a_small_answer() -> None:
    """1 MB of unknown keys once answered 8.8 MB: now 20 fields and how many there were."""
    keys = {f"k{i}": 0 for i in range(60_000)}
    payload = json.dumps({"email": "a@example.org", "age": 30, "name": "x", **keys}).encode()
    status, _, body = call(echo, payload)
    assert status == 422
    details = body["error"]["details"]
    assert len(details["fields"]) == 20 and details["fields_total"] == 60_000
    assert len(json.dumps(body)) < 5_000


def test_a_few_field_errors_are_all_listed_without_a_total() -> None:
    status, _, body = call(echo, b'{"email":"nope","age":3}')
    assert status == 422
    assert {item["field"] for item in body["error"]["details"]["fields"]} == {"email", "age", "name"}
    assert "fields_total" not in body["error"]["details"]


def test_a_deprecated_route_is_the_same_operation_under_a_name_of_its_own() -> None:
    spec = EndpointSpec(
        name="probe_echo",
        method="POST",
        route="probe/echo",
        summary="echo",
        tags=("test",),
        handler=echo,
        deprecated_routes=("probe/old-echo", "probe/older-echo"),
    )
    old, older = spec.deprecated_specs()
    assert (old.name, old.route, old.deprecated) == ("probe_echo_deprecated", "probe/old-echo", True)
    assert (older.name, older.route) == ("probe_echo_deprecated_2", "probe/older-echo")
    assert old.handler is spec.handler and old.request_model is spec.request_model
    assert old.operation == older.operation == spec.operation == "probe_echo"
    assert old.deprecated_routes == () and not spec.deprecated
    assert old.description is not None and old.description.startswith("Deprecated: use POST /probe/echo.")
    request = func.HttpRequest("POST", "/probe/old-echo", headers={"Content-Type": "application/json"}, body=b"{}")
    assert run_pipeline(old, request).status_code == 422, "the same validation"


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 200), (b" \r\n\t", 200), (b"{}", 200), (b"{ }\n", 200), (b'{"is_active": false}', 422), (b"[]", 422)],
)
def test_an_operation_that_takes_no_body_refuses_one_before_its_handler(body: bytes, status: int) -> None:
    called: list[bool] = []

    def activate() -> Reply:
        called.append(True)
        return Reply({})

    spec = EndpointSpec(name="probe_none", method="POST", route="probe", summary="p", tags=("test",), handler=activate)
    request = func.HttpRequest("POST", "/probe", headers={"Content-Type": "application/json"}, body=body)
    response = run_pipeline(spec, request)
    assert response.status_code == status
    assert called == ([True] if status == 200 else [])
    if status == 422:
        error = json.loads(response.get_body())["error"]
        assert error["details"]["fields"] == [{"field": "body", "message": "must be empty", "type": "body_not_allowed"}]
