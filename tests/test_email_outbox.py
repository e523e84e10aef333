"""The outbox drain: sends, retries with backoff, gives up loudly, never loses a message."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, update

from shared.database import unit_of_work
from shared.models import EmailOutbox
from shared.services.email import templates
from shared.services.email.backends import ConsoleBackend, EmailSendError, FileBackend
from shared.services.email.drain import backoff, drain_outbox
from shared.services.email.outbox import enqueue
from tests.conftest import deliver_emails, settings_changed


class FlakyProvider:
    """A provider that fails ``failures`` times, then delivers (into a real FileBackend)."""

    def __init__(self, failures: int, directory) -> None:
        self.failures = failures
        self.delivered = FileBackend(directory)
        self.calls = 0

    def send(self, message) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise EmailSendError("provider answered 503 Service Unavailable")
        self.delivered.send(message)


def _queue(address: str) -> uuid.UUID:
    deliver_emails()  # what earlier tests queued goes out first, through the real backend
    with unit_of_work() as db:
        enqueue(db, address, templates.password_changed("Ada"))
    with unit_of_work() as db:
        return db.scalars(select(EmailOutbox.id).where(EmailOutbox.to_address == address)).one()


def _make_due(message_id: uuid.UUID) -> None:
    with unit_of_work() as db:
        db.execute(
            update(EmailOutbox).where(EmailOutbox.id == message_id).values(next_attempt_at=EmailOutbox.created_at)
        )


def _row(message_id: uuid.UUID) -> EmailOutbox:
    with unit_of_work() as db:
        return db.get(EmailOutbox, message_id)


def _drain_only(message_id: uuid.UUID, provider) -> None:
    """Drain until our message has been tried once more (other tests' rows may be due too)."""
    before = _row(message_id).attempts
    for _ in range(50):
        drain_outbox(backend=provider)
        if _row(message_id).attempts > before:
            return
    pytest.fail("the drain never reached the message")


def test_provider_failing_then_recovering_delivers_once(tmp_path, unique_email) -> None:
    address = unique_email("flaky")
    message_id = _queue(address)
    provider = FlakyProvider(failures=2, directory=tmp_path)

    _drain_only(message_id, provider)
    first = _row(message_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "503" in first.last_error
    assert first.next_attempt_at > first.created_at, "a failed send waits for its backoff"

    _make_due(message_id)
    _drain_only(message_id, provider)
    assert (_row(message_id).status, _row(message_id).attempts) == ("pending", 2)

    _make_due(message_id)
    _drain_only(message_id, provider)
    sent = _row(message_id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 3, None)
    assert sent.sent_at is not None
    files = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert [f["to"] for f in files] == [address]


def test_message_is_marked_failed_after_max_attempts(tmp_path, unique_email) -> None:
    address = unique_email("dead")
    message_id = _queue(address)
    provider = FlakyProvider(failures=100, directory=tmp_path)
    with settings_changed(EMAIL_MAX_ATTEMPTS="3"):
        for _ in range(3):
            _make_due(message_id)
            _drain_only(message_id, provider)
    failed = _row(message_id)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert failed.last_error
    _make_due(message_id)
    drain_outbox(backend=provider)
    assert _row(message_id).attempts == 3, "a failed message is not retried"


def test_backoff_grows_and_is_capped() -> None:
    assert 24 <= backoff(1).total_seconds() <= 36
    assert 48 <= backoff(2).total_seconds() <= 72
    assert backoff(30).total_seconds() <= 3600 * 1.2


def test_file_backend_writes_the_documented_fields(tmp_path) -> None:
    message = EmailOutbox(to_address="a@example.org", subject="S", text_body="T", html_body="<p>H</p>", template="t")
    FileBackend(tmp_path).send(message)
    [path] = list(tmp_path.glob("*.json"))
    document = json.loads(path.read_text())
    assert document["to"] == "a@example.org" and document["subject"] == "S"
    assert document["text"] == "T" and document["html"] == "<p>H</p>" and document["created_at"]


def test_console_backend_in_production_never_prints_the_body(capsys) -> None:
    message = EmailOutbox(to_address="a@example.org", subject="S", text_body="token=secret", html_body="", template="t")
    ConsoleBackend(show_body=False).send(message)
    assert "secret" not in capsys.readouterr().out


def test_links_carry_the_token_as_a_query_parameter() -> None:
    url = templates.link("https://donate.example.org", "/verify-email", "abc_DEF-123")
    assert url == "https://donate.example.org/verify-email?token=abc_DEF-123"
    rendered = templates.verify_email("<script>", url, 24)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
