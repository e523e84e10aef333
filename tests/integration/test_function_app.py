"""function_app imports with nothing reachable and registers exactly our routes."""

from __future__ import annotations

import json
import os

from tests.support import ROOT
from tests.support.processes import run_python

EXPECTED_ROUTES = {
    ("health", "health", ("GET",)),
    ("api_index", "api", ("GET",)),
    ("openapi_document", "openapi.json", ("GET",)),
    ("jwks", ".well-known/jwks.json", ("GET",)),
    ("docs_swagger_ui", "docs", ("GET",)),
    ("docs_redoc", "redoc", ("GET",)),
    ("docs_asset", "docs/assets/{name}", ("GET",)),
    ("route_not_found", "{*path}", ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")),
    ("auth_register", "api/v1/auth/register", ("POST",)),
    ("auth_verify_email", "api/v1/auth/verify-email", ("POST",)),
    ("auth_resend_verification", "api/v1/auth/verify-email/resend", ("POST",)),
    ("auth_login", "api/v1/auth/login", ("POST",)),
    ("auth_refresh", "api/v1/auth/refresh", ("POST",)),
    ("auth_logout", "api/v1/auth/logout", ("POST",)),
    ("auth_password_reset_request", "api/v1/auth/password/reset/request", ("POST",)),
    ("auth_password_reset_confirm", "api/v1/auth/password/reset/confirm", ("POST",)),
    ("auth_password_reset_request_deprecated", "api/v1/auth/password-reset/request", ("POST",)),
    ("auth_password_reset_confirm_deprecated", "api/v1/auth/password-reset/confirm", ("POST",)),
    ("auth_password_change", "api/v1/auth/password/change", ("POST",)),
    ("auth_mfa_verify", "api/v1/auth/mfa/verify", ("POST",)),
    ("auth_reauthenticate", "api/v1/auth/reauthenticate", ("POST",)),
    ("mfa_totp_start", "api/v1/auth/mfa/totp", ("POST",)),
    ("mfa_totp_confirm", "api/v1/auth/mfa/totp/confirm", ("POST",)),
    ("mfa_totp_remove", "api/v1/auth/mfa/totp", ("DELETE",)),
    ("mfa_recovery_codes_regenerate", "api/v1/auth/mfa/recovery-codes", ("POST",)),
    ("users_me", "api/v1/users/me", ("GET",)),
    ("users_update_me", "api/v1/users/me", ("PATCH",)),
    ("users_my_sessions", "api/v1/users/me/sessions", ("GET",)),
    ("users_end_my_session", "api/v1/users/me/sessions/{session_id:guid}", ("DELETE",)),
    ("users_end_my_other_sessions", "api/v1/users/me/sessions", ("DELETE",)),
    ("users_export_me", "api/v1/users/me/export", ("GET",)),
    ("users_erase_me", "api/v1/users/me", ("DELETE",)),
    ("users_erase", "api/v1/users/{user_id:guid}/erase", ("POST",)),
    ("legal_documents_current", "api/v1/legal-documents", ("GET",)),
    ("legal_documents_publish", "api/v1/legal-documents/{kind}", ("PUT",)),
    ("consents_mine", "api/v1/users/me/consents", ("GET",)),
    ("consents_accept", "api/v1/users/me/consents", ("POST",)),
    ("consents_withdraw", "api/v1/users/me/consents/{kind}", ("DELETE",)),
    ("users_list", "api/v1/users", ("GET",)),
    ("users_create", "api/v1/users", ("POST",)),
    ("users_get", "api/v1/users/{user_id:guid}", ("GET",)),
    ("users_update", "api/v1/users/{user_id:guid}", ("PATCH",)),
    ("users_deactivate", "api/v1/users/{user_id:guid}", ("DELETE",)),
    ("users_activate", "api/v1/users/{user_id:guid}/activate", ("POST",)),
    ("users_change_role", "api/v1/users/{user_id:guid}/role", ("PATCH",)),
    ("users_verify_email", "api/v1/users/{user_id:guid}/verify-email", ("POST",)),
    ("invitations_create", "api/v1/invitations", ("POST",)),
    ("invitations_list", "api/v1/invitations", ("GET",)),
    ("invitations_resend", "api/v1/invitations/{invitation_id:guid}/resend", ("POST",)),
    ("invitations_revoke", "api/v1/invitations/{invitation_id:guid}", ("DELETE",)),
    ("invitations_inspect", "api/v1/invitations/inspect", ("POST",)),
    ("invitations_accept", "api/v1/invitations/accept", ("POST",)),
    ("roles_list", "api/v1/roles", ("GET",)),
    ("audit_logs_list", "api/v1/audit-logs", ("GET",)),
    ("event_register", "api/v1/events/{event_id:guid}", ("PUT",)),
    ("event_get", "api/v1/events/{event_id:guid}", ("GET",)),
    ("user_events_list", "api/v1/users/{user_id:guid}/events", ("GET",)),
    ("user_events_assign", "api/v1/users/{user_id:guid}/events/{event_id:guid}", ("PUT",)),
    ("user_events_unassign", "api/v1/users/{user_id:guid}/events/{event_id:guid}", ("DELETE",)),
    ("event_members_list", "api/v1/events/{event_id:guid}/members", ("GET",)),
    ("authz_check", "api/v1/authz/check", ("POST",)),
    ("email_outbox_drain", None, ()),
    ("retention_purge", None, ()),
}

_PROBE = """
import json, time
started = time.perf_counter()
import function_app
elapsed = time.perf_counter() - started
routes = []
for f in function_app.app.get_functions():
    t = f.get_trigger()
    methods = getattr(t, "methods", None) or []
    names = sorted(str(getattr(m, "value", m)) for m in methods)
    routes.append([f.get_function_name(), getattr(t, "route", None), names])
print(json.dumps({"routes": routes, "seconds": elapsed}))
"""


def test_imports_without_services_and_registers_expected_routes() -> None:
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql+pg8000://nobody@127.0.0.1:1/none",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }
    done = run_python("-c", _PROBE, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    routes = {(name, route, tuple(methods)) for name, route, methods in report["routes"]}
    assert routes == EXPECTED_ROUTES
    print(f"import function_app: {report['seconds'] * 1000:.0f} ms")


def test_import_does_not_touch_services_or_settings() -> None:
    """No settings at all: the import must still succeed (settings are read on first request)."""
    unset = ("DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY", "JWT_SIGNING_KEYS")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = run_python("-c", "import function_app", env=env)
    assert done.returncode == 0, done.stderr


def test_route_prefix_gives_the_designed_paths() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    prefix = host["extensions"]["http"]["routePrefix"]
    paths = {"/" + "/".join(p for p in (prefix, route) if p) for _, route, _ in EXPECTED_ROUTES if route}
    assert {"/health", "/openapi.json", "/api", "/.well-known/jwks.json"} <= paths
    assert not any(path.lstrip("/").lower().startswith(("admin", "runtime")) for path in paths)
