"""Schemathesis hooks: authenticate as a real super admin through the real login.

Loaded by the schemathesis CLI (``SCHEMATHESIS_HOOKS``) in .venv-contract. The
token is fetched again every few seconds: the stateful phase may legitimately
end the session it is using (``DELETE /api/v1/users/me/sessions/{id}``).
"""

import json
import os
import urllib.request

import schemathesis


@schemathesis.auth(refresh_interval=3)
class SuperAdminLogin:
    def get(self, case, context):
        body = json.dumps({"email": os.environ["ST_EMAIL"], "password": os.environ["ST_PASSWORD"]}).encode()
        request = urllib.request.Request(
            os.environ["ST_BASE_URL"] + "/api/v1/auth/login",
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())["access_token"]

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
