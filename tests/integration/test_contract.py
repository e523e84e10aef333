"""The API contract: the OpenAPI document is complete and true, fuzzed, and usable by a real client.

schemathesis and openapi-python-client run from .venv-contract (``make test``
builds it) against the local server of this test session, over real HTTP.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from shared.config import get_settings
from shared.http.endpoint import ENDPOINTS
from tests.support import ROOT, contract_observer, processes
from tests.support.accounts import Account, make_user
from tests.support.contract_observer import UndocumentedResponseError, check_response
from tests.support.emails import deliver_emails, token_from_last_email
from tests.support.legal import nothing_published
from tests.support.network import fresh_ip
from tests.support.settings import settings_changed

CONTRACT_BIN = ROOT / ".venv-contract" / "bin"
SCHEMATHESIS_SEED = 20261125
SCHEMATHESIS_MAX_EXAMPLES = 25


def _tool(name: str) -> Path:
    path = CONTRACT_BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make .venv-contract/.installed` (make test does)")
    return path


@pytest.fixture(scope="module")
def document(base_url: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/openapi.json")
    assert response.status_code == 200
    return cast(dict[str, Any], response.json())


def test_document_lists_exactly_the_registered_routes(
    document: dict[str, Any], functions: dict[str, Callable[..., Any]]
) -> None:
    assert functions  # the app is loaded and its routes registered
    registered = {(spec.path, spec.method.lower()) for spec in ENDPOINTS if spec.include_in_schema}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == registered, {
        "missing from the document": registered - documented,
        "documented but not registered": documented - registered,
    }
    assert document["openapi"] == "3.1.0"


def test_every_operation_is_described(document: dict[str, Any]) -> None:
    tag_names = {tag["name"] for tag in document["tags"]}
    operation_ids = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation["summary"] and operation["tags"], where
            assert set(operation["tags"]) <= tag_names, where
            operation_ids.append(operation["operationId"])
            for status, response in operation["responses"].items():
                assert "X-Request-ID" in response.get("headers", {}), (where, status)
            assert "422" in operation["responses"], where  # a body where none is taken is refused
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= set(operation["responses"]), where
    assert len(operation_ids) == len(set(operation_ids))
    assert all(tag.get("description") for tag in document["tags"])


# Routes that read the credentials they accept themselves: each alternative, and none
# ({}: a refresh token in the body will do).
READ_THEIR_OWN_CREDENTIALS: dict[str, list[dict[str, list[str]]]] = {
    "auth_refresh": [{"refreshCookie": []}, {}],
    "auth_logout": [{"bearerAuth": []}, {"refreshCookie": []}, {}],
}


def test_protected_operations_declare_bearer_401_and_503(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    cookie = document["components"]["securitySchemes"]["refreshCookie"]
    assert (cookie["type"], cookie["in"], cookie["name"]) == ("apiKey", "cookie", get_settings().refresh_cookie_name)
    protected = 0
    for spec in ENDPOINTS:
        if not spec.include_in_schema:
            continue
        operation = document["paths"][spec.path][spec.method.lower()]
        if spec.auth:
            protected += 1
            assert operation["security"] == [{"bearerAuth": []}]
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
            assert "503" in operation["responses"]
        elif spec.bearer_optional:
            assert operation["security"] == [{}, {"bearerAuth": []}], "anonymous, or with a bearer token"
        elif spec.name in READ_THEIR_OWN_CREDENTIALS:
            assert operation["security"] == READ_THEIR_OWN_CREDENTIALS[spec.name]
            assert {"401", "403", "503"} <= set(operation["responses"])
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        else:
            assert operation["security"] == []
        if "429" in operation["responses"]:
            assert "Retry-After" in operation["responses"]["429"]["headers"]
    assert protected >= 15


def test_the_first_reset_routes_are_the_same_operations_marked_deprecated(document: dict[str, Any]) -> None:
    for step in ("request", "confirm"):
        current = document["paths"][f"/api/v1/auth/password/reset/{step}"]["post"]
        old = document["paths"][f"/api/v1/auth/password-reset/{step}"]["post"]
        assert old["deprecated"] is True and "deprecated" not in current
        assert old["operationId"] == current["operationId"] + "_deprecated"
        assert old["requestBody"] == current["requestBody"] and old["responses"] == current["responses"]
        assert old["description"].startswith(f"Deprecated: use POST /api/v1/auth/password/reset/{step}.")
    deprecated = {
        path for path, item in document["paths"].items() for operation in item.values() if "deprecated" in operation
    }
    assert deprecated == {"/api/v1/auth/password-reset/request", "/api/v1/auth/password-reset/confirm"}


def test_request_schemas_state_the_rules(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    password = schemas["RegisterRequest"]["properties"]["password"]
    assert password["minLength"] == 8 and password["maxLength"] == 128 and password["pattern"]
    assert schemas["RegisterRequest"]["properties"]["email"]["format"] == "email"
    assert schemas["RegisterRequest"]["additionalProperties"] is False
    assert schemas["RoleChangeRequest"]["then"]["required"] == ["npo_id"]
    examples = [p for s in schemas.values() for p in s.get("properties", {}).values() if "examples" in p]
    assert examples, "fields carry examples"


def test_every_response_the_suite_receives_is_checked_against_the_document(
    client: httpx.Client, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The observer is on the clients the fixtures give, and it fails a request whose answer the
    document does not allow (here: the document is told login never answers 401)."""
    assert check_response in client.event_hooks["response"]
    assert check_response in account.http.event_hooks["response"]
    assert account.login(password="Wrong-password-1").status_code == 401
    narrowed = tuple(
        (
            template,
            replace(op, error_codes={**op.error_codes, 401: frozenset({"OTHER"})}) if op.name == "auth_login" else op,
        )
        for template, op in contract_observer.operations()
    )
    monkeypatch.setattr(contract_observer, "operations", lambda: narrowed)
    with pytest.raises(UndocumentedResponseError, match="answered 401 with code INVALID_CREDENTIALS"):
        account.login(password="Wrong-password-1")


def _run(command: list[str | Path], env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    return processes.run(*command, env=env, timeout=timeout)


@pytest.mark.slow
def test_schemathesis_finds_no_server_error_and_no_schema_violation(base_url: str, client: httpx.Client) -> None:
    """All checks, positive and negative data, stateful phase, signed in as a real super admin."""
    admin = make_user(client, "super_admin")
    env = {
        **os.environ,
        "ST_BASE_URL": base_url,
        "ST_EMAIL": admin.email,
        "ST_PASSWORD": admin.password,
        "SCHEMATHESIS_HOOKS": "tests.support.contract.schemathesis_hooks",
        "PYTHONPATH": str(ROOT),
    }
    # The limits the fuzzer's own sign-in (every few seconds) would meet are lifted. Those of bad
    # emailed tokens and failed refreshes are made small instead, so that every run meets their 429s
    # (verify-email, password-reset/confirm, invitations/inspect and accept, refresh) and checks them
    # against the document.
    limits = {
        **{
            name: "1000000"
            for name in (
                "RATE_LIMIT_LOGIN_PER_IP",
                "RATE_LIMIT_LOGIN_PER_ACCOUNT",
                "RATE_LIMIT_REGISTER_PER_IP",
                "RATE_LIMIT_EMAIL_PER_IP",
                "RATE_LIMIT_EMAIL_PER_ADDRESS",
                "RATE_LIMIT_LOGIN_SUCCESS_PER_ACCOUNT",
                "RATE_LIMIT_INVITATIONS_PER_USER",
                "RATE_LIMIT_PASSWORD_CHANGE_PER_USER",
                "MAX_SESSIONS_PER_USER",
            )
        },
        "RATE_LIMIT_TOKEN_PER_IP": "8",
        "RATE_LIMIT_REFRESH_PER_IP": "8",
    }
    command: list[str | Path] = [
        _tool("schemathesis"),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        # DELETE /api/v1/users/{id} deactivates (a soft delete): the account stays
        # visible to admins and POST .../activate restores it, so a 200 after the DELETE is
        # the contract. use_after_free assumes a hard delete; every other check runs.
        "--exclude-checks",
        "use_after_free",
        "--mode",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--seed",
        str(SCHEMATHESIS_SEED),
        "--max-examples",
        str(SCHEMATHESIS_MAX_EXAMPLES),
        "--request-timeout",
        "30",
        "--no-shrink",
    ]
    # It publishes legal documents too (as the super admin it is): none is left for the rest of the suite.
    with settings_changed(**limits), nothing_published():
        done = _run(command, env, timeout=900)
    summary = "\n".join(done.stdout.splitlines()[-25:])
    print(summary)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    generated = re.search(r"(\d+) generated", done.stdout)
    assert generated and int(generated.group(1)) > 500, summary


@pytest.mark.slow
def test_generated_client_drives_the_account_flow(base_url: str, document: dict[str, Any], tmp_path: Path) -> None:
    """openapi-python-client builds a typed client from the document; the client registers,
    verifies (token from the file email), signs in, reads /users/me, refreshes and signs out."""
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(document))
    package = tmp_path / "augeo_client"
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
    generated = _run(
        [_tool("openapi-python-client"), "generate", "--path", spec, "--output-path", package, "--meta", "none"],
        env,
        timeout=300,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert (package / "api" / "auth" / "auth_register.py").exists()

    email = f"client-{os.urandom(4).hex()}@example.org"
    flow = ROOT / "tests" / "support" / "contract" / "client_flow.py"
    run_env = {
        **os.environ,
        "PYTHONPATH": str(tmp_path),
        "AUGEO_URL": base_url,
        "FLOW_EMAIL": email,
        "FLOW_IP": fresh_ip(),
    }
    first = _run([_tool("python"), flow, "register"], run_env, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    deliver_emails()
    run_env["FLOW_TOKEN"] = token_from_last_email(email, "confirm")
    second = _run([_tool("python"), flow, "verify-and-sign-in"], run_env, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "logout 204" in second.stdout
