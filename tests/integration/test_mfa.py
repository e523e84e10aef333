"""The second factor and recent authentication, with a clock the tests hold still.

TOTP codes are computed here with pyotp from the secret the enrolment returns,
at times the test chooses (``shared.clock.now`` is set for the app too), so
drift, reuse within a step and expiry are decided, not waited for.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pyotp
import pytest
from sqlalchemy import func, select

from shared.config import get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AuthorizationError
from shared.models import AuditLog, RecoveryCode, Session, TotpFactor, User
from shared.services import mfa
from shared.services.caller import authenticate
from shared.services.sessions import open_session
from shared.services.sign_in_state import AuthenticationMethod
from tests.support.accounts import PASSWORD, Account, Actor, enrol_second_factor, make_user
from tests.support.concurrency import locks_held
from tests.support.network import client_from
from tests.support.processes import run_cli
from tests.support.settings import settings_changed

T0 = 1_900_000_020.0  # a step boundary (a multiple of 30 s)
NPO = str(uuid.uuid4())
RACERS = 4

IN_PROCESS = ClientInfo(request_id="in-process", ip_address="198.51.100.31", user_agent="pytest")


class Clock:
    """The app's clock, held still and moved by hand."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.value = T0
        monkeypatch.setattr("shared.clock.now", lambda: self.value)

    def advance(self, seconds: float) -> None:
        self.value += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _code(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(at)


class Enrolled:
    """A signed-in user who turned a second factor on: their secret and recovery codes."""

    def __init__(self, actor: Actor, clock: Clock) -> None:
        self.actor = actor
        enrolment = enrol_second_factor(actor)  # with the code of the clock's step
        started = enrolment.started
        assert started["otpauth_uri"].startswith("otpauth://totp/") and "<svg" in started["qr_svg"]
        self.secret = enrolment.secret
        self.recovery_codes = enrolment.recovery_codes
        clock.advance(60)  # the code just used is spent; later codes are of later steps


def _verify(account: Account, mfa_token: str, **proof: str) -> httpx.Response:
    return account.http.post("/api/v1/auth/mfa/verify", json={"mfa_token": mfa_token, **proof})


def test_enrolment_then_sign_in_in_two_steps(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    assert actor.request("GET", "/api/v1/users/me").json()["mfa_enabled"] is True
    assert len(enrolled.recovery_codes) == 10 and len(set(enrolled.recovery_codes)) == 10
    challenge = actor.account.tokens()
    assert challenge["status"] == "mfa_required" and challenge["mfa_required"] is True
    assert challenge["methods"] == ["totp", "recovery_code"]
    assert challenge["expires_in"] == 300 and "access_token" not in challenge
    done = _verify(actor.account, challenge["mfa_token"], code=_code(enrolled.secret, clock.value))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "authenticated" and done.json()["mfa_enrollment_required"] is False
    claims = jwt.decode(done.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd", "otp"] and claims["auth_time"] == int(clock.value)
    assert _verify(actor.account, challenge["mfa_token"], code=_code(enrolled.secret, clock.value)).status_code == 401


def test_the_secret_is_encrypted_and_recovery_codes_hashed(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    with unit_of_work() as db:
        factor = db.get(TotpFactor, uuid.UUID(actor.id))
        hashes = db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == uuid.UUID(actor.id))).all()
    assert factor is not None and enrolled.secret.encode() not in factor.secret_encrypted
    assert len(hashes) == 10 and not {code.replace("-", "") for code in enrolled.recovery_codes} & set(hashes)


def test_a_code_is_accepted_once_even_within_its_step(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    code = _code(enrolled.secret, clock.value)
    first, second = actor.account.tokens(), actor.account.tokens()
    assert _verify(actor.account, first["mfa_token"], code=code).status_code == 200
    clock.advance(5)  # the same 30-second step
    reused = _verify(actor.account, second["mfa_token"], code=code)
    assert reused.status_code == 401 and reused.json()["error"]["code"] == "MFA_CODE_ALREADY_USED"
    assert reused.headers["WWW-Authenticate"] == 'Bearer realm="augeo"', "a code is not a token"
    wrong = _verify(actor.account, second["mfa_token"], code=_wrong_code(enrolled.secret, clock.value))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_MFA_CODE"


def _wrong_code(secret: str, at: float) -> str:
    """A code that matches no step within the drift of ``at``."""
    near = {_code(secret, at + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(code for code in (f"{n:06d}" for n in range(10)) if code not in near)


def _wrong_code_rows(user_id: str) -> list[dict[str, object]]:
    with unit_of_work() as db:
        rows = db.scalars(
            select(AuditLog.details)
            .where(AuditLog.event_type == "mfa.wrong_code", AuditLog.target_user_id == uuid.UUID(user_id))
            .order_by(AuditLog.created_at)
        ).all()
    return [dict(row or {}) for row in rows]


def test_a_code_older_than_the_last_accepted_is_already_used_too(signed_in: Callable[..., Actor], clock: Clock) -> None:
    """The code of the step before the one just accepted is within the drift, but spent by the later one."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    challenge = actor.account.tokens()
    assert (
        _verify(actor.account, challenge["mfa_token"], code=_code(enrolled.secret, clock.value + 30)).status_code == 200
    )
    older = _verify(actor.account, actor.account.tokens()["mfa_token"], code=_code(enrolled.secret, clock.value))
    assert older.status_code == 401 and older.json()["error"]["code"] == "MFA_CODE_ALREADY_USED"


def test_a_reused_code_counts_and_is_audited_as_a_wrong_code(signed_in: Callable[..., Actor], clock: Clock) -> None:
    """Five codes a challenge allows, whether wrong or replayed; each one audited, the replays marked."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    code = _code(enrolled.secret, clock.value)
    assert _verify(actor.account, actor.account.tokens()["mfa_token"], code=code).status_code == 200
    token = actor.account.tokens()["mfa_token"]
    wrong = _wrong_code(enrolled.secret, clock.value)
    answers = [
        _verify(actor.account, token, code=proof).json()["error"]["code"] for proof in [code, wrong] * 2 + [code]
    ]
    assert answers == ["MFA_CODE_ALREADY_USED", "INVALID_MFA_CODE"] * 2 + ["MFA_CODE_ALREADY_USED"]
    dead = _verify(actor.account, token, code=_code(enrolled.secret, clock.value + 30))
    assert dead.status_code == 401 and dead.json()["error"]["code"] == "INVALID_MFA_TOKEN", "five codes spent it"
    details = _wrong_code_rows(actor.id)
    assert [row.get("already_used", False) for row in details] == [True, False, True, False, True]
    assert {row["during"] for row in details} == {"sign_in"}


def test_one_code_sent_at_once_by_several_signs_in_once(signed_in: Callable[..., Actor], clock: Clock) -> None:
    """All spend the same code at once (held on the factor's row): one signs in, the others are told it was used."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    code = _code(enrolled.secret, clock.value)
    challenges = [actor.account.tokens()["mfa_token"] for _ in range(RACERS)]

    def racer(mfa_token: str) -> tuple[int, str | None]:
        with client_from(str(actor.account.http.base_url), actor.account.ip) as http:
            response = http.post("/api/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
        return response.status_code, response.json().get("error", {}).get("code")

    factor_row = "SELECT 1 FROM mfa_totp WHERE user_id = :id FOR UPDATE"
    pool_for_the_racers = {"DB_POOL_SIZE": str(RACERS + 2), "DB_MAX_OVERFLOW": "0"}
    with settings_changed(**pool_for_the_racers), ThreadPoolExecutor(max_workers=RACERS) as pool:
        with locks_held(factor_row, id=actor.id) as lock:
            racers = [pool.submit(racer, token) for token in challenges]
            lock.queued(RACERS)  # every one has matched the code and is spending it
        answers = sorted(racer.result() for racer in racers)
    assert answers == [(200, None)] + [(401, "MFA_CODE_ALREADY_USED")] * (RACERS - 1)


def test_removal_with_a_spent_code_is_400_already_used(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    code = _code(enrolled.secret, clock.value)
    assert _verify(actor.account, actor.account.tokens()["mfa_token"], code=code).status_code == 200
    refused = actor.request("DELETE", "/api/v1/auth/mfa/totp", json={"code": code})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "MFA_CODE_ALREADY_USED"
    assert actor.request("GET", "/api/v1/users/me").json()["mfa_enabled"] is True
    assert _wrong_code_rows(actor.id) == [{"during": "removal", "already_used": True}]


@pytest.mark.parametrize(("offset", "accepted"), [(-30, True), (30, True), (-60, False), (60, False)])
def test_one_step_of_drift_either_way_and_no_more(
    signed_in: Callable[..., Actor], clock: Clock, offset: int, accepted: bool
) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    # Three steps after the enrolment's code: two steps back is a code never used, so only
    # the drift limit can refuse it (the enrolment's own step would be refused as spent).
    clock.advance(30)
    challenge = actor.account.tokens()
    response = _verify(actor.account, challenge["mfa_token"], code=_code(enrolled.secret, clock.value + offset))
    assert (response.status_code == 200) is accepted, response.text


def test_a_recovery_code_works_once_and_is_audited(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    code = enrolled.recovery_codes[3].lower().replace("-", " ")  # case and separators do not matter
    assert _verify(actor.account, actor.account.tokens()["mfa_token"], recovery_code=code).status_code == 200
    assert _verify(actor.account, actor.account.tokens()["mfa_token"], recovery_code=code).status_code == 401
    with unit_of_work() as db:
        used = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.event_type == "mfa.recovery_code_used", AuditLog.target_user_id == uuid.UUID(actor.id))
        )
    assert used == 1


def test_an_mfa_token_dies_after_five_wrong_codes(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    token = actor.account.tokens()["mfa_token"]
    wrong = [_verify(actor.account, token, code="000000").json()["error"]["code"] for _ in range(5)]
    assert wrong == ["INVALID_MFA_CODE"] * 5
    dead = _verify(actor.account, token, code=_code(enrolled.secret, clock.value))
    assert dead.status_code == 401 and dead.json()["error"]["code"] == "INVALID_MFA_TOKEN"
    with unit_of_work() as db:
        audited = db.scalar(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.event_type == "mfa.wrong_code", AuditLog.target_user_id == uuid.UUID(actor.id))
        )
    assert audited == 5


def test_wrong_codes_from_an_unknown_address_count_against_the_accounts_sign_in_limit(
    client: httpx.Client, signed_in: Callable[..., Actor], clock: Clock
) -> None:
    """From an address that never signed in to the account, the password check and each wrong
    code take a slot of the account's limit (the check's is held until a session opens)."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    stranger = Account(client, actor.account.email)  # has the password, not the code
    with settings_changed(RATE_LIMIT_LOGIN_PER_ACCOUNT="3"):
        token = stranger.tokens()["mfa_token"]
        wrong = _wrong(_code(enrolled.secret, clock.value))
        statuses = [_verify(stranger, token, code=wrong).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_wrong_codes_count_per_address_and_account(signed_in: Callable[..., Actor], clock: Clock) -> None:
    """From the owner's own address, wrong codes count per (address, account), sized like failed
    sign-ins per address (RATE_LIMIT_LOGIN_PER_IP), across challenges."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    wrong = _wrong(_code(enrolled.secret, clock.value))
    with settings_changed(RATE_LIMIT_LOGIN_PER_IP="3"):
        statuses = []
        for _ in range(2):
            token = actor.account.tokens()["mfa_token"]
            statuses += [_verify(actor.account, token, code=wrong).status_code for _ in range(2)]
    assert statuses == [401, 401, 401, 429]


def test_wrong_codes_from_elsewhere_do_not_lock_the_owner_out_of_the_second_step(
    client: httpx.Client, signed_in: Callable[..., Actor], clock: Clock
) -> None:
    """Someone with the password uses up the account's budget of wrong codes from fresh
    addresses; the owner, from an address they signed in from before, still gets in."""
    owner = signed_in("donor")
    enrolled = Enrolled(owner, clock)
    wrong = _wrong(_code(enrolled.secret, clock.value))
    with settings_changed(RATE_LIMIT_LOGIN_PER_ACCOUNT="3"):
        for _ in range(3):
            stranger = Account(client, owner.account.email)
            challenge = stranger.login()
            if challenge.status_code == 429:
                break
            answers = [_verify(stranger, challenge.json()["mfa_token"], code=wrong).status_code for _ in range(5)]
            assert 401 in answers or 429 in answers
        assert Account(client, owner.account.email).login().status_code == 429, "the account's budget is spent"
        token = owner.account.tokens()["mfa_token"]
        signed = _verify(owner.account, token, code=_code(enrolled.secret, clock.value))
    assert signed.status_code == 200, signed.text


def test_a_right_password_holds_its_slot_until_the_code_opens_the_session(
    signed_in: Callable[..., Actor], clock: Clock
) -> None:
    """A password check of an account with a second factor reserves a slot of the address's
    limit that only the second step, opening a session, gives back: right passwords alone
    cannot run bcrypt without bound."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    challenges = [actor.account.login() for _ in range(5)]
    assert [answer.status_code for answer in challenges] == [200] * 5
    assert actor.account.login().status_code == 429, "five checks held by their challenges"
    opened = _verify(actor.account, challenges[0].json()["mfa_token"], code=_code(enrolled.secret, clock.value))
    assert opened.status_code == 200, opened.text
    assert actor.account.login().status_code == 200, "the session that opened gave its slot back"
    assert actor.account.login().status_code == 429


def test_removal_needs_a_code_and_turns_it_off(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    refused = actor.request("DELETE", "/api/v1/auth/mfa/totp", json={"code": "123456"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "INVALID_MFA_CODE"
    assert actor.request("DELETE", "/api/v1/auth/mfa/totp", json={}).status_code == 400, "neither is a wrong code"
    removed = actor.request("DELETE", "/api/v1/auth/mfa/totp", json={"code": _code(enrolled.secret, clock.value)})
    assert removed.status_code == 204
    assert "access_token" in actor.account.tokens(), "signing in is one step again"
    assert actor.request("GET", "/api/v1/users/me").json()["mfa_enabled"] is False


def _wrong(code: str) -> str:
    """A six-digit code that is not ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_removal_counts_wrong_codes_against_the_signed_in_users_limit(
    signed_in: Callable[..., Actor], clock: Clock
) -> None:
    """Wrong codes to turn the factor off count where wrong passwords of a signed-in user do
    (5 per 15 minutes, shared with re-authentication); then even the right code is refused."""
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    right = _code(enrolled.secret, clock.value)
    wrong = [actor.request("DELETE", "/api/v1/auth/mfa/totp", json={"code": _wrong(right)}) for _ in range(5)]
    assert [answer.status_code for answer in wrong] == [400] * 5
    limited = actor.request("DELETE", "/api/v1/auth/mfa/totp", json={"code": right})
    assert limited.status_code == 429 and "Retry-After" in limited.headers
    reauthenticate = {"password": actor.account.password, "code": right}
    assert actor.request("POST", "/api/v1/auth/reauthenticate", json=reauthenticate).status_code == 429
    assert actor.request("GET", "/api/v1/users/me").json()["mfa_enabled"] is True


# -- turning a factor on: the sessions from before it, and a step-up for the others --------------


def _password_only_session(user_id: str) -> str:
    """A session whose sign-in proved only the password (as one from before the factor was on,
    or kept from before this rule, is): opened in process, as sign-in opens one."""
    with unit_of_work() as db:
        user = db.get(User, uuid.UUID(user_id), with_for_update=True)
        assert user is not None and user.mfa_enabled
        tokens = open_session(db, get_settings(), user, IN_PROCESS, (AuthenticationMethod.PASSWORD,))
    return tokens.access_token


def test_confirming_enrolment_ends_every_other_session_of_the_user(
    signed_in: Callable[..., Actor], clock: Clock
) -> None:
    """Someone who had the password signed in before the owner turned the factor on: their
    session ends at the confirmation, before it can mint itself recovery codes."""
    owner = signed_in("donor")
    intruder = Actor(owner.account)  # another sign-in with the password alone
    enrolled = Enrolled(owner, clock)
    assert intruder.request("POST", "/api/v1/auth/mfa/recovery-codes").status_code == 401
    assert intruder.request("GET", "/api/v1/users/me").status_code == 401
    assert owner.request("GET", "/api/v1/users/me").status_code == 200, "the session that confirmed stays"
    owner_codes = _verify(owner.account, owner.account.tokens()["mfa_token"], recovery_code=enrolled.recovery_codes[0])
    assert owner_codes.status_code == 200, "the owner's recovery codes are still the ones that work"
    intruder_session = uuid.UUID(jwt.decode(intruder.access_token, options={"verify_signature": False})["sid"])
    with unit_of_work() as db:
        ended = db.get(Session, intruder_session)
        enrolled_event = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "mfa.enrolled", AuditLog.target_user_id == uuid.UUID(owner.id)
            )
        ).one()
    assert ended is not None and ended.revoked_reason == "second_factor_enrolled"
    assert enrolled_event.details["sessions_ended"] == 1


def test_a_session_signed_in_without_the_factor_owes_a_step_up(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    assert actor.request("PATCH", "/api/v1/users/me", json={"first_name": "Ada"}).status_code == 200, (
        "the session that confirmed proved a code: it owes nothing"
    )
    actor.access_token = _password_only_session(actor.id)
    for method, path, body in [
        ("PATCH", "/api/v1/users/me", {"first_name": "Eve"}),
        ("POST", "/api/v1/auth/mfa/recovery-codes", None),
        ("POST", "/api/v1/auth/password/change", {"current_password": PASSWORD, "new_password": "Eves-own-pass-1"}),
    ]:
        refused = actor.request(method, path, json=body)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "MFA_STEP_UP_REQUIRED", path
    assert actor.request("GET", "/api/v1/users/me").status_code == 200
    assert actor.request("GET", "/api/v1/users/me/sessions").status_code == 200
    check = actor.request("POST", "/api/v1/authz/check", json={"permission": "profile:manage"})
    assert check.json() == {"allowed": False, "reason": "mfa_step_up_required"}
    without_code = actor.request("POST", "/api/v1/auth/reauthenticate", json={"password": PASSWORD})
    assert without_code.status_code == 401 and without_code.json()["error"]["code"] == "INVALID_MFA_CODE"
    code = _code(enrolled.secret, clock.value)
    stepped_up = actor.request("POST", "/api/v1/auth/reauthenticate", json={"password": PASSWORD, "code": code})
    assert stepped_up.status_code == 200, stepped_up.text
    assert actor.request("PATCH", "/api/v1/users/me", json={"first_name": "Ada"}).status_code == 200, (
        "the same access token: the step-up is recorded on the session"
    )


def test_new_recovery_codes_need_a_recent_proof_that_included_a_code(
    signed_in: Callable[..., Actor], clock: Clock
) -> None:
    """What the design calls "needs a current code": a proof of this session, within
    REAUTH_MAX_AGE_MINUTES, that included one. A request that passed the bearer check just
    before the factor came on (its session then ended) is refused by the service itself."""
    actor = signed_in("donor")
    before = authenticate(actor.access_token, IN_PROCESS)  # password only; no factor yet
    enrolled = Enrolled(actor, clock)
    with pytest.raises(AuthorizationError) as refused:
        mfa.regenerate_recovery_codes(before, IN_PROCESS)
    assert refused.value.code == "REAUTHENTICATION_REQUIRED" and (refused.value.details or {})["code_required"] is True
    clock.advance(11 * 60)
    stale = actor.request("POST", "/api/v1/auth/mfa/recovery-codes")
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "REAUTHENTICATION_REQUIRED"
    assert stale.json()["error"]["details"]["code_required"] is True
    code = _code(enrolled.secret, clock.value)
    assert actor.request("POST", "/api/v1/auth/reauthenticate", json={"password": PASSWORD, "code": code}).is_success
    fresh = actor.request("POST", "/api/v1/auth/mfa/recovery-codes")
    assert fresh.status_code == 200 and len(fresh.json()["recovery_codes"]) == 10


def test_new_recovery_codes_kill_the_old_set(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    fresh = actor.request("POST", "/api/v1/auth/mfa/recovery-codes").json()["recovery_codes"]
    old = _verify(actor.account, actor.account.tokens()["mfa_token"], recovery_code=enrolled.recovery_codes[0])
    assert old.status_code == 401
    new = _verify(actor.account, actor.account.tokens()["mfa_token"], recovery_code=fresh[0])
    assert new.status_code == 200


def test_a_required_role_without_a_second_factor_may_only_enrol(
    client: httpx.Client, signed_in: Callable[..., Actor], clock: Clock
) -> None:
    with settings_changed(MFA_REQUIRED_ROLES="super_admin,npo_admin"):
        account = make_user(client, "npo_admin", NPO)
        tokens = account.tokens()  # signed in, no second factor yet: the answer says what is owed
        assert tokens["status"] == "authenticated" and tokens["mfa_enrollment_required"] is True
        assert tokens["user"]["mfa_enrollment_required"] is True and tokens["password_change_required"] is False
        admin = Actor(account)
        assert admin.request("GET", "/api/v1/users/me").json()["mfa_enrollment_required"] is True
        assert admin.request("GET", "/api/v1/users/me/sessions").status_code == 200
        refused = admin.request("GET", "/api/v1/users")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "MFA_ENROLLMENT_REQUIRED"
        check = admin.request("POST", "/api/v1/authz/check", json={"permission": "npo:manage", "npo_id": NPO})
        assert check.json() == {"allowed": False, "reason": "mfa_enrollment_required"}
        Enrolled(admin, clock)
        assert admin.request("GET", "/api/v1/users").status_code == 200, "the next request already sees it"
        assert admin.request("GET", "/api/v1/users/me").json()["mfa_enrollment_required"] is False
        donor = signed_in("donor")
        assert donor.request("GET", "/api/v1/roles").status_code == 200, "donors are not required"


def test_sensitive_actions_need_a_recent_proof_and_reauthentication_renews_it_for_the_whole_session(
    signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = signed_in("super_admin")
    staff = signed_in("staff", NPO)
    earlier_token = root.access_token
    monkeypatch.setattr("shared.clock.now", lambda: time.time() + 11 * 60)  # 11 minutes after the sign-in
    stale = root.request("PATCH", f"/api/v1/users/{staff.id}", json={"first_name": "Renamed"})
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "REAUTHENTICATION_REQUIRED"
    assert root.request("GET", f"/api/v1/users/{staff.id}").status_code == 200, "reading needs no recent proof"
    wrong = root.request("POST", "/api/v1/auth/reauthenticate", json={"password": "Not-the-password-9"})
    assert wrong.status_code == 401
    renewed = root.request("POST", "/api/v1/auth/reauthenticate", json={"password": root.account.password})
    assert renewed.status_code == 200, renewed.text
    claims = jwt.decode(renewed.json()["access_token"], options={"verify_signature": False})
    assert claims["amr"] == ["pwd"] and claims["auth_time"] > time.time() + 10 * 60
    # the older access token of the same session sees the renewal: it is recorded server-side
    root.access_token = earlier_token
    assert root.request("PATCH", f"/api/v1/users/{staff.id}", json={"first_name": "Renamed"}).status_code == 200


def test_reauthentication_with_a_second_factor_needs_the_code(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    enrolled = Enrolled(actor, clock)
    password = actor.account.password
    without = actor.request("POST", "/api/v1/auth/reauthenticate", json={"password": password})
    assert without.status_code == 401 and without.json()["error"]["code"] == "INVALID_MFA_CODE"
    code = _code(enrolled.secret, clock.value)
    ok = actor.request("POST", "/api/v1/auth/reauthenticate", json={"password": password, "code": code})
    assert ok.status_code == 200
    assert jwt.decode(ok.json()["access_token"], options={"verify_signature": False})["amr"] == ["pwd", "otp"]
    with unit_of_work() as db:
        events = db.scalars(
            select(AuditLog.event_type)
            .where(AuditLog.target_user_id == uuid.UUID(actor.id))
            .order_by(AuditLog.created_at)
        ).all()
    assert {"mfa.enrolment_started", "mfa.enrolled", "mfa.wrong_code", "auth.reauthenticated"} <= set(events)


def test_break_glass_clears_a_second_factor_ends_sessions_and_is_audited(
    signed_in: Callable[..., Actor], clock: Clock
) -> None:
    actor = signed_in("donor")
    Enrolled(actor, clock)
    done = run_cli("clear-mfa", "--email", actor.account.email)
    assert done.returncode == 0, done.stderr
    assert actor.request("GET", "/api/v1/users/me").status_code == 401, "sessions ended"
    assert "access_token" in actor.account.tokens()
    with unit_of_work() as db:
        event = db.scalars(
            select(AuditLog).where(
                AuditLog.event_type == "mfa.cleared_by_operator", AuditLog.target_user_id == uuid.UUID(actor.id)
            )
        ).one()
    assert event.actor_user_id is None and event.details["sessions_ended"] >= 1
    unknown = run_cli("clear-mfa", "--email", "nobody@example.org")
    assert unknown.returncode == 1


def test_enrolment_needs_a_confirmation_before_anything_changes(signed_in: Callable[..., Actor], clock: Clock) -> None:
    actor = signed_in("donor")
    assert actor.request("POST", "/api/v1/auth/mfa/totp").status_code == 200
    assert "access_token" in actor.account.tokens(), "an unconfirmed secret signs nobody in"
    wrong = actor.request("POST", "/api/v1/auth/mfa/totp/confirm", json={"code": "000000"})
    assert wrong.status_code == 400
    Enrolled(actor, clock)
    again = actor.request("POST", "/api/v1/auth/mfa/totp")
    assert again.status_code == 409 and again.json()["error"]["code"] == "MFA_ALREADY_ENABLED"
