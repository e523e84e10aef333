"""Drive the API with the client that openapi-python-client generated from /openapi.json.

Run by tests/integration/test_contract.py with .venv-contract's Python and the generated
package ``augeo_client`` on PYTHONPATH. Two steps, because the verification
token arrives by email in between:

    client_flow.py register              register FLOW_EMAIL
    client_flow.py verify-and-sign-in    verify FLOW_TOKEN, login, /users/me, refresh, turn a
                                         second factor on, sign in in two steps, logout
"""

import base64
import hashlib
import hmac
import os
import struct
import sys
import time

import httpx
from augeo_client import AuthenticatedClient, Client
from augeo_client.api.auth import (
    auth_login,
    auth_logout,
    auth_mfa_verify,
    auth_refresh,
    auth_register,
    auth_verify_email,
)
from augeo_client.api.mfa import mfa_totp_confirm, mfa_totp_start
from augeo_client.api.users import users_me
from augeo_client.models import (
    LoginRequest,
    MfaChallengeResponse,
    MfaVerifyRequest,
    RefreshRequest,
    RegisterRequest,
    TokenRequest,
    TotpCodeRequest,
)

BASE_URL = os.environ["AUGEO_URL"]
EMAIL = os.environ["FLOW_EMAIL"]
PASSWORD = "Gala-evening-2026"
# Connect from the test's own loopback address, as a browser on its own IP would.
HTTPX_ARGS = {"transport": httpx.HTTPTransport(local_address=os.environ["FLOW_IP"])}


def expect(response, status: int, step: str):
    print(step, response.status_code)
    if response.status_code != status:
        sys.exit(f"{step}: expected {status}, got {response.status_code}: {response.content[:300]!r}")
    return response.parsed


def totp_now(secret: str) -> str:
    """RFC 6238, as an authenticator app computes it (SHA-1, 30 s, 6 digits)."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def register() -> None:
    client = Client(base_url=BASE_URL, httpx_args=HTTPX_ARGS)
    body = RegisterRequest(email=EMAIL, password=PASSWORD, first_name="Client", last_name="Flow")
    created = expect(auth_register.sync_detailed(client=client, body=body), 201, "register")
    assert created.user.email == EMAIL and created.user.email_verified is False


def verify_and_sign_in() -> None:
    client = Client(base_url=BASE_URL, httpx_args=HTTPX_ARGS)
    verified = expect(
        auth_verify_email.sync_detailed(client=client, body=TokenRequest(token=os.environ["FLOW_TOKEN"])), 200, "verify"
    )
    assert verified.user.is_active is True
    tokens = expect(
        auth_login.sync_detailed(client=client, body=LoginRequest(email=EMAIL, password=PASSWORD)), 200, "login"
    )
    signed_in = AuthenticatedClient(base_url=BASE_URL, token=tokens.access_token, httpx_args=HTTPX_ARGS)
    me = expect(users_me.sync_detailed(client=signed_in), 200, "me")
    assert me.email == EMAIL and me.role == "donor"
    fresh = expect(
        auth_refresh.sync_detailed(client=client, body=RefreshRequest(refresh_token=tokens.refresh_token)),
        200,
        "refresh",
    )
    assert fresh.refresh_token != tokens.refresh_token
    signed_in = AuthenticatedClient(base_url=BASE_URL, token=fresh.access_token, httpx_args=HTTPX_ARGS)
    recovery_codes = turn_on_a_second_factor(signed_in)
    expect(auth_logout.sync_detailed(client=signed_in), 204, "logout")
    expect(users_me.sync_detailed(client=signed_in), 401, "me after logout")
    sign_in_in_two_steps(client, recovery_codes[0])


def turn_on_a_second_factor(signed_in: AuthenticatedClient) -> list[str]:
    enrolment = expect(mfa_totp_start.sync_detailed(client=signed_in), 200, "mfa enrolment")
    body = TotpCodeRequest(code=totp_now(enrolment.secret))
    confirmed = expect(mfa_totp_confirm.sync_detailed(client=signed_in, body=body), 200, "mfa confirm")
    assert len(confirmed.recovery_codes) == 10
    return list(confirmed.recovery_codes)


def sign_in_in_two_steps(client: Client, recovery_code: str) -> None:
    login = LoginRequest(email=EMAIL, password=PASSWORD)
    challenge = expect(auth_login.sync_detailed(client=client, body=login), 200, "login, first step")
    assert isinstance(challenge, MfaChallengeResponse) and challenge.mfa_required is True
    second = MfaVerifyRequest(mfa_token=challenge.mfa_token, recovery_code=recovery_code)
    tokens = expect(auth_mfa_verify.sync_detailed(client=client, body=second), 200, "login, second step")
    signed_in = AuthenticatedClient(base_url=BASE_URL, token=tokens.access_token, httpx_args=HTTPX_ARGS)
    expect(users_me.sync_detailed(client=signed_in), 200, "me after two steps")


if __name__ == "__main__":
    {"register": register, "verify-and-sign-in": verify_and_sign_in}[sys.argv[1]]()
