"""Schemathesis hooks: authenticate as a real super admin through the real login.

Loaded by the schemathesis CLI (``SCHEMATHESIS_HOOKS``) in .venv-contract. The
token is fetched again every few seconds: the stateful phase may legitimately
end the session it is using (``DELETE /api/v1/users/me/sessions/{id}``). The
fuzzer publishes legal documents too (it is a super admin): when a version it
published asks everyone to accept it again, the sign-in accepts the current
versions, as a person would, so the rest of the run is not only 403s.
"""

import json
import os
import urllib.request

import schemathesis


@schemathesis.auth(refresh_interval=3)
class SuperAdminLogin:
    def get(self, case, context):
        signed_in = _call(
            "POST", "/api/v1/auth/login", {"email": os.environ["ST_EMAIL"], "password": os.environ["ST_PASSWORD"]}
        )
        token = signed_in["access_token"]
        if signed_in.get("consent_required"):
            for document in _call("GET", "/api/v1/legal-documents")["items"]:
                _call(
                    "POST",
                    "/api/v1/users/me/consents",
                    {"kind": document["kind"], "version": document["version"]},
                    token,
                )
        return token

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _call(method, path, body=None, token=None):
    """One JSON call to the app under test; its JSON answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(os.environ["ST_BASE_URL"] + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")
