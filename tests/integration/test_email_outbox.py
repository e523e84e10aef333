"""The outbox drain: links minted at send time, retries until each message's deadline,
sending outside every lock, re-driving what was given up.

Time is moved by shifting the stored timestamps of the messages under test
(``_travel``), never by sleeping; the provider is a fake backend that can be down.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text, update
from sqlalchemy.pool import NullPool, QueuePool

from shared.cli import main as cli
from shared.config import get_settings
from shared.context import ClientInfo
from shared.database import get_engine, unit_of_work
from shared.errors import BadRequestError
from shared.models import EmailOutbox, Invitation, User, UserToken
from shared.security.passwords import hash_password
from shared.security.tokens import hash_token
from shared.services import accounts, password_changes
from shared.services.email import templates
from shared.services.email.backends import EmailSendError, FileBackend, OutgoingEmail, get_backend
from shared.services.email.drain import LEASE, Claim, _claim_next, _send, backoff, drain_outbox
from shared.services.email.outbox import enqueue
from tests.support.accounts import PASSWORD, Account, Actor
from tests.support.emails import deliver_emails, emails_to, token_in
from tests.support.network import fresh_ip
from tests.support.settings import production_settings, settings_changed


@pytest.fixture(autouse=True)
def _nothing_else_due() -> None:
    """What earlier tests queued goes out first, through the real backend."""
    deliver_emails()


# -- a provider that can be down -------------------------------------------------------


class Provider:
    """A fake email provider: fails while ``down``, else keeps what it was given."""

    def __init__(self, *, down: bool = False) -> None:
        self.down = down
        self.calls = 0
        self.delivered: list[dict[str, str]] = []

    def send(self, message: OutgoingEmail) -> None:
        self.calls += 1
        if self.down:
            raise EmailSendError("provider answered 503 Service Unavailable")
        self.delivered.append(
            {"to": message.to_address, "subject": message.subject, "text": message.text_body, "html": message.html_body}
        )

    def to(self, address: str) -> list[dict[str, str]]:
        return [message for message in self.delivered if message["to"] == address]


def _drain(provider: Any) -> None:
    """Drain until nothing is due (failed sends wait for their backoff, so this ends)."""
    while drain_outbox(backend=provider).handled:
        pass


# -- rows, users and time ------------------------------------------------------------------


def _new_user(*, verified: bool = False, first_name: str = "Ada") -> User:
    address = f"outbox-{secrets.token_hex(6)}@example.org"
    with unit_of_work() as db:
        user = User(
            email=address,
            password_hash=hash_password(PASSWORD, int(os.environ["BCRYPT_ROUNDS"])),
            first_name=first_name,
            last_name="Lovelace",
            role="donor",
            email_verified=verified,
            is_active=verified,
        )
        db.add(user)
    return user


def _queue_verification(user: User) -> uuid.UUID:
    with unit_of_work() as db:
        found = db.get(User, user.id)
        assert found is not None
        accounts.queue_verification_email(db, get_settings(), found)
    return _newest_id(user.email)


def _queue_plain(address: str) -> uuid.UUID:
    with unit_of_work() as db:
        enqueue(db, address, templates.password_changed("Ada"))
    return _newest_id(address)


def _newest_id(address: str) -> uuid.UUID:
    with unit_of_work() as db:
        found = db.scalars(
            select(EmailOutbox.id).where(EmailOutbox.to_address == address).order_by(EmailOutbox.created_at.desc())
        ).first()
    assert found is not None
    return found


def _row(message_id: uuid.UUID) -> EmailOutbox:
    with unit_of_work() as db:
        row = db.get(EmailOutbox, message_id)
    assert row is not None
    return row


def _travel(message_ids: Iterable[uuid.UUID], delta: timedelta) -> None:
    """``delta`` passes for these messages: every time they store moves that far back."""
    with unit_of_work() as db:
        db.execute(
            update(EmailOutbox)
            .where(EmailOutbox.id.in_(list(message_ids)))
            .values(
                created_at=EmailOutbox.created_at - delta,
                next_attempt_at=EmailOutbox.next_attempt_at - delta,
                expires_at=EmailOutbox.expires_at - delta,
            )
        )


def _until_due(message_ids: list[uuid.UUID]) -> timedelta:
    """How long until the last of these messages is due again."""
    with unit_of_work() as db:
        latest, now = db.execute(
            select(func.max(EmailOutbox.next_attempt_at), func.now()).where(EmailOutbox.id.in_(message_ids))
        ).one()
    return max(latest - now, timedelta(0)) + timedelta(seconds=1)


def _outage(provider: Provider, message_ids: list[uuid.UUID], *, until: Callable[[timedelta], bool]) -> timedelta:
    """Drain through a down provider, moving time to each next attempt; returns the time passed."""
    passed = timedelta(0)
    while not until(passed):
        _drain(provider)
        step = _until_due(message_ids)
        _travel(message_ids, step)
        passed += step
    return passed


def _client() -> ClientInfo:
    return ClientInfo(request_id="test-outbox", ip_address=fresh_ip(), user_agent="pytest")


# -- A: no usable token in the database ------------------------------------------------------


def _rows_to(addresses: list[str]) -> list[EmailOutbox]:
    with unit_of_work() as db:
        return list(db.scalars(select(EmailOutbox).where(EmailOutbox.to_address.in_(addresses))))


_ROWS_HOLDING = (
    "SELECT (SELECT count(*) FROM email_outbox AS o WHERE strpos(o::text, :value) > 0)"
    " + (SELECT count(*) FROM user_tokens AS t WHERE strpos(t::text, :value) > 0)"
    " + (SELECT count(*) FROM invitations AS i WHERE strpos(i::text, :value) > 0)"
)


def _rows_holding(value: str) -> int:
    """Rows of email_outbox, user_tokens or invitations whose text, any column, contains ``value``."""
    with unit_of_work() as db:
        return int(db.scalar(text(_ROWS_HOLDING), {"value": value}) or 0)


def test_no_outbox_row_ever_holds_a_usable_token(
    client: httpx.Client, signed_in: Callable[..., Actor], unique_email: Callable[[str], str]
) -> None:
    registered, invited = unique_email("plain-register"), unique_email("plain-invite")
    verified = _new_user(verified=True)
    assert Account(client, registered).register().status_code == 201
    admin = signed_in("super_admin")
    body = {"email": invited, "first_name": "In", "last_name": "Vited", "role": "donor"}
    assert admin.request("POST", "/api/v1/users", json=body).status_code == 202
    password_changes.request_reset(verified.email, _client())
    addresses = [registered, invited, verified.email]

    queued = _rows_to(addresses)
    assert len(queued) == 3
    for row in queued:
        for body_text in (row.text_body, row.html_body):
            assert "token=" not in body_text
            assert templates.LINK_PLACEHOLDER in body_text and templates.EXPIRY_PLACEHOLDER in body_text
        assert (row.user_id or row.invitation_id) and row.token_purpose and row.link_url and row.expires_at
    user_ids = [row.user_id for row in queued if row.user_id]
    with unit_of_work() as db:
        minted = db.scalar(select(func.count()).select_from(UserToken).where(UserToken.user_id.in_(user_ids)))
        invitation = db.scalars(select(Invitation).where(Invitation.email == invited)).one()
    assert minted == 0 and invitation.token_hash is None, "no token exists before its email is sent"

    for address in addresses:
        [message] = emails_to(address)  # drains first
        token = token_in(message)
        assert "\x1b" not in message["text"] + message["html"]
        assert _rows_holding(token) == 0, "the sent token is in the database only as its hash"
        assert _rows_holding(hash_token(token)) == 1
    for row in _rows_to(addresses):
        assert (row.status, row.text_body, row.html_body) == ("sent", "", ""), "bodies are blanked once sent"
    [verification] = emails_to(registered)
    assert client.post("/api/v1/auth/verify-email", json={"token": token_in(verification)}).status_code == 200


def test_messages_without_a_link_are_blanked_once_sent(unique_email: Callable[[str], str]) -> None:
    message_id = _queue_plain(unique_email("blank"))
    assert _row(message_id).text_body
    _drain(Provider())
    assert (_row(message_id).status, _row(message_id).text_body, _row(message_id).html_body) == ("sent", "", "")


def test_the_email_says_how_long_its_link_has_left() -> None:
    user = _new_user()
    message_id = _queue_verification(user)
    _travel([message_id], timedelta(hours=5))  # queued five hours ago, sent only now
    provider = Provider()
    _drain(provider)
    [message] = provider.to(user.email)
    assert "expires in 19 hours" in message["text"] and "expires in 19 hours" in message["html"]
    with unit_of_work() as db:
        expires = db.scalar(select(UserToken.expires_at).where(UserToken.token_hash == hash_token(token_in(message))))
    assert expires == _row(message_id).expires_at, "the token lives until the link's stored expiry"


# -- newer links win -------------------------------------------------------------------------


def test_a_newer_link_cancels_an_older_unsent_one() -> None:
    user = _new_user()
    provider = Provider(down=True)
    older = _queue_verification(user)
    _drain(provider)  # the older one fails once and waits for its backoff
    newer = _queue_verification(user)
    provider.down = False
    _drain(provider)
    _travel([older], _until_due([older]))
    _drain(provider)  # the older one is due again after the newer one went out

    [sent] = provider.to(user.email)
    assert _row(newer).status == "sent"
    cancelled = _row(older)
    assert (cancelled.status, cancelled.text_body, cancelled.html_body) == ("cancelled", "", "")
    assert cancelled.last_error and "newer" in cancelled.last_error
    verified = accounts.verify_email(token_in(sent), _client())
    assert verified.email_verified, "the newest email's link works"


def test_asking_for_a_new_link_kills_the_delivered_one_at_once() -> None:
    user = _new_user()
    _queue_verification(user)
    provider = Provider()
    _drain(provider)
    [first] = provider.to(user.email)
    _queue_verification(user)  # not sent yet
    with pytest.raises(BadRequestError):
        accounts.verify_email(token_in(first), _client())


def test_a_verification_link_is_not_sent_once_the_address_is_verified() -> None:
    user = _new_user()
    message_id = _queue_verification(user)
    with unit_of_work() as db:
        db.execute(update(User).where(User.id == user.id).values(email_verified=True, is_active=True))
    provider = Provider()
    _drain(provider)
    assert provider.to(user.email) == []
    assert _row(message_id).status == "cancelled"


# -- B: retries until the deadline, then expired / failed, then re-driven -------------------------


def test_twenty_link_emails_survive_a_twelve_hour_outage() -> None:
    users = [_new_user() for _ in range(20)]
    message_ids = [_queue_verification(user) for user in users]
    provider = Provider(down=True)

    passed = _outage(provider, message_ids, until=lambda passed: passed >= timedelta(hours=12))

    assert passed < timedelta(hours=24)
    rows = [_row(message_id) for message_id in message_ids]
    assert {row.status for row in rows} == {"pending"}
    assert min(row.attempts for row in rows) > 8, "far more tries than the old limit of 8"
    provider.down = False
    _drain(provider)
    for user in users:
        [message] = provider.to(user.email)
        assert accounts.verify_email(token_in(message), _client()).email_verified
    assert {_row(message_id).status for message_id in message_ids} == {"sent"}


def test_a_link_email_expires_with_its_link_and_a_redrive_sends_a_fresh_one() -> None:
    user = _new_user(verified=True)
    password_changes.request_reset(user.email, _client())  # a 60-minute link
    message_id = _newest_id(user.email)
    provider = Provider(down=True)

    _outage(provider, [message_id], until=lambda _passed: _row(message_id).status != "pending")

    expired = _row(message_id)
    assert expired.status == "expired" and expired.attempts >= 5
    assert "token=" not in expired.text_body and templates.LINK_PLACEHOLDER in expired.text_body
    _drain(Provider())
    assert _row(message_id).status == "expired", "an expired message is not retried"

    assert cli(["redrive-email"]) == 0
    redriven = _row(message_id)
    assert redriven.status == "pending" and redriven.expires_at is not None
    assert timedelta(minutes=59) < redriven.expires_at - datetime.now(UTC) <= timedelta(minutes=60)
    provider.down = False
    _drain(provider)
    [message] = provider.to(user.email)
    assert "expires in 60 minutes" in message["text"], "a fresh lifetime, not the old expiry"
    password_changes.confirm_reset(token_in(message), "After-outage-77", _client())
    assert _row(message_id).status == "sent"


def test_a_message_without_a_link_is_retried_for_a_day_then_fails_until_redriven(
    unique_email: Callable[[str], str],
) -> None:
    address = unique_email("plain-outage")
    message_id = _queue_plain(address)
    provider = Provider(down=True)

    passed = _outage(provider, [message_id], until=lambda _passed: _row(message_id).status != "pending")

    failed = _row(message_id)
    assert failed.status == "failed" and failed.attempts > 8
    assert failed.last_error and "503" in failed.last_error
    assert timedelta(hours=22) < passed < timedelta(hours=26), "given up at EMAIL_GIVE_UP_AFTER_HOURS (24)"
    _travel([message_id], timedelta(hours=2))
    _drain(Provider())
    assert _row(message_id).attempts == failed.attempts, "a failed message is not retried"

    assert cli(["redrive-email", "--since-hours", "48"]) == 0
    provider.down = False
    _drain(provider)
    assert len(provider.to(address)) == 1
    assert _row(message_id).status == "sent"


def test_give_up_age_is_a_setting(unique_email: Callable[[str], str]) -> None:
    message_id = _queue_plain(unique_email("give-up"))
    with settings_changed(EMAIL_GIVE_UP_AFTER_HOURS="1"):
        _travel([message_id], timedelta(hours=1))
        _drain(Provider())
    assert _row(message_id).status == "failed" and _row(message_id).attempts == 0


def test_redrive_leaves_messages_older_than_its_window(unique_email: Callable[[str], str]) -> None:
    message_id = _queue_plain(unique_email("old"))
    _travel([message_id], timedelta(hours=30))
    _drain(Provider(down=True))
    assert _row(message_id).status == "failed"
    assert cli(["redrive-email", "--since-hours", "24"]) == 0
    assert _row(message_id).status == "failed"


# -- B: nothing is locked or held while the provider is called ------------------------------------


class LockProbe:
    """From inside send(): no pooled connection is checked out, and another connection
    can update the message row, the user row and the user's tokens within a 1 s lock timeout."""

    def __init__(self, message_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.message_id, self.user_id = message_id, user_id
        self.checked_out: int | None = None
        self.updated: list[str] = []
        self.errors: list[str] = []

    def send(self, message: OutgoingEmail) -> None:
        pool = get_engine().pool
        assert isinstance(pool, QueuePool)
        self.checked_out = pool.checkedout()
        other = sa.create_engine(os.environ["DATABASE_URL"], poolclass=NullPool)
        statements = {
            "email_outbox": "UPDATE email_outbox SET last_error = last_error WHERE id = :id",
            "users": "UPDATE users SET last_name = last_name WHERE id = :user",
            "user_tokens": "UPDATE user_tokens SET expires_at = expires_at WHERE user_id = :user",
        }
        try:
            for table, statement in statements.items():
                try:
                    with other.begin() as connection:
                        connection.execute(text("SET LOCAL lock_timeout = '1s'"))
                        connection.execute(text(statement), {"id": self.message_id, "user": self.user_id})
                    self.updated.append(table)
                except sa.exc.DBAPIError as error:
                    self.errors.append(f"{table}: {error.orig}")
        finally:
            other.dispose()


def test_the_drain_holds_no_lock_and_no_connection_while_the_provider_works() -> None:
    user = _new_user()
    message_id = _queue_verification(user)
    probe = LockProbe(message_id, user.id)
    drain_outbox(backend=probe)
    assert probe.errors == []
    assert probe.updated == ["email_outbox", "users", "user_tokens"]
    assert probe.checked_out == 0, "no pooled connection is held during the provider call"
    assert _row(message_id).status == "sent"


class Crash(BaseException):
    """The process dies in the middle of a send (not an error the drain could catch)."""


class CrashingProvider:
    def send(self, message: OutgoingEmail) -> None:
        raise Crash


def test_a_claim_whose_drain_died_is_taken_again_after_its_lease() -> None:
    user = _new_user()
    message_id = _queue_verification(user)
    with pytest.raises(Crash):
        drain_outbox(backend=CrashingProvider())
    claimed = _row(message_id)
    assert (claimed.status, claimed.attempts) == ("sending", 1)
    provider = Provider()
    _drain(provider)
    assert provider.to(user.email) == [], "not while the lease lasts"

    _travel([message_id], LEASE)
    _drain(provider)
    [message] = provider.to(user.email)
    assert (_row(message_id).status, _row(message_id).attempts) == ("sent", 2)
    with unit_of_work() as db:
        live = db.scalars(
            select(UserToken.token_hash).where(UserToken.user_id == user.id, UserToken.used_at.is_(None))
        ).all()
    assert live == [hash_token(token_in(message))], "the token minted for the lost send died"


class LapsingProvider:
    """Outlives its lease: meanwhile another drain re-claims the message; then this send fails."""

    def __init__(self, message_id: uuid.UUID) -> None:
        self.message_id = message_id
        self.taken_over: Claim | None = None

    def send(self, message: OutgoingEmail) -> None:
        with unit_of_work() as db:
            db.execute(
                update(EmailOutbox)
                .where(EmailOutbox.id == self.message_id)
                .values(next_attempt_at=func.now() - timedelta(seconds=1))
            )
        claimed = _claim_next(get_settings())  # the other drain, still sending when this one records
        assert isinstance(claimed, Claim) and claimed.message_id == self.message_id
        self.taken_over = claimed
        raise EmailSendError("timed out")


def test_a_drain_whose_lease_lapsed_does_not_overwrite_the_claim_of_the_next() -> None:
    user = _new_user()
    message_id = _queue_verification(user)
    slow = LapsingProvider(message_id)
    drain_outbox(backend=slow)
    row = _row(message_id)
    assert (row.status, row.attempts, row.last_error) == ("sending", 2, None), "the late failure changed nothing"
    assert slow.taken_over is not None
    provider = Provider()
    _send(provider, slow.taken_over)
    assert (_row(message_id).status, _row(message_id).attempts) == ("sent", 2)
    [message] = provider.to(user.email)
    assert accounts.verify_email(token_in(message), _client()).email_verified


# -- the drain's parts ----------------------------------------------------------------------------


def test_provider_failing_then_recovering_delivers_once(unique_email: Callable[[str], str]) -> None:
    address = unique_email("flaky")
    message_id = _queue_plain(address)
    provider = Provider(down=True)

    _drain(provider)
    first = _row(message_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error and "503" in first.last_error
    assert first.next_attempt_at > first.created_at, "a failed send waits for its backoff"

    _travel([message_id], _until_due([message_id]))
    _drain(provider)
    assert (_row(message_id).status, _row(message_id).attempts) == ("pending", 2)

    provider.down = False
    _travel([message_id], _until_due([message_id]))
    _drain(provider)
    sent = _row(message_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 3, None)
    assert sent.sent_at is not None
    assert [message["to"] for message in provider.delivered] == [address]


def test_backoff_grows_and_is_capped() -> None:
    assert 24 <= backoff(1).total_seconds() <= 36
    assert 48 <= backoff(2).total_seconds() <= 72
    assert backoff(30).total_seconds() <= 3600 * 1.2


def test_file_backend_writes_the_documented_fields(tmp_path: Path) -> None:
    message = EmailOutbox(to_address="a@example.org", subject="S", text_body="T", html_body="<p>H</p>", template="t")
    FileBackend(tmp_path).send(message)
    [path] = list(tmp_path.glob("*.json"))
    document = json.loads(path.read_text())
    assert document["to"] == "a@example.org" and document["subject"] == "S"
    assert document["text"] == "T" and document["html"] == "<p>H</p>" and document["created_at"]


def test_console_backend_in_production_never_prints_the_body(capsys: pytest.CaptureFixture[str]) -> None:
    """The backend the app builds from its settings (get_backend), not one built by hand."""
    message = EmailOutbox(to_address="a@example.org", subject="S", text_body="token=secret", html_body="", template="t")
    with settings_changed(**production_settings(EMAIL_BACKEND="console")):
        get_backend().send(message)
    assert "secret" not in capsys.readouterr().out
    with settings_changed(ENVIRONMENT="development", EMAIL_BACKEND="console"):
        get_backend().send(message)
    assert "token=secret" in capsys.readouterr().out, "a developer sees the link"


def test_links_carry_the_token_as_a_query_parameter() -> None:
    url = templates.with_token("https://donate.example.org/verify-email", "abc_DEF-123")
    assert url == "https://donate.example.org/verify-email?token=abc_DEF-123"
    rendered = templates.password_reset("<script>")
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    filled = templates.fill(rendered.html, url + "&x=<b>", "60 minutes", as_html=True)
    assert 'href="https://donate.example.org/verify-email?token=abc_DEF-123&amp;x=&lt;b&gt;"' in filled


def test_a_body_that_does_not_hold_its_placeholders_once_is_refused() -> None:
    rendered = templates.password_reset(templates.LINK_PLACEHOLDER)  # as if a name smuggled one in
    with pytest.raises(templates.TemplateError):
        templates.fill(rendered.text, "https://x.example/r?token=t", "1 minute", as_html=False)


@pytest.mark.parametrize(
    ("left", "said"),
    [
        (timedelta(days=7) - timedelta(seconds=3), "7 days"),
        (timedelta(hours=71), "71 hours"),
        (timedelta(hours=24) - timedelta(seconds=3), "24 hours"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(minutes=119), "119 minutes"),
        (timedelta(minutes=60), "60 minutes"),
        (timedelta(seconds=20), "1 minute"),
    ],
)
def test_remaining_time_is_said_plainly(left: timedelta, said: str) -> None:
    assert templates.describe_remaining(left) == said
