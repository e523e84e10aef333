"""What a user owes is never cached stale: a request (or a sign-in) that reads the state while a
legal document is being published, or while the user accepts one, ends up with what committed.

Each race is forced, never slept: the writer stops just before it commits (after it told
Redis), the reader starts, the test waits until the reader queues on the writer's lock,
then lets the writer commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from shared.context import ClientInfo
from shared.models import DocumentKind
from shared.redis_client import Keys, get_redis
from shared.services import caller, consents, legal_documents, sign_in, user_state
from shared.services.owed_consents import OwedConsent
from tests.support.accounts import PASSWORD, Actor
from tests.support.concurrency import any_app_connection_waiting_on_a_lock, wait_until
from tests.support.legal import nothing_published

CLIENT = ClientInfo(request_id="consent-race", ip_address="198.51.100.79", user_agent="race-test")
TERMS = DocumentKind.TERMS_OF_SERVICE


@pytest.fixture(autouse=True)
def _nothing_published_around_each_test() -> Iterator[None]:
    with nothing_published():
        yield


def _race(
    writer: Callable[[], Any], reader: Callable[[], Any], reached: threading.Event, go: Callable[[], None]
) -> Any:
    """Start the writer; once it paused, start the reader; once the reader waits on a lock, let the writer go."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        writing: Future[Any] = pool.submit(writer)
        assert reached.wait(15), "the writer reached its last step"
        reading: Future[Any] = pool.submit(reader)
        wait_until(
            lambda: reading.done() or any_app_connection_waiting_on_a_lock(), "the reader waits on the writer's lock"
        )
        assert not reading.done(), "the reader waited for the writer"
        go()
        writing.result()
        return reading.result()


class Pause:
    """A writer's step that, once taken, holds the writer until the test says go."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> None:
        self.reached, self._go = threading.Event(), threading.Event()
        real = getattr(module, name)

        def step_then_wait(*args: Any, **kwargs: Any) -> Any:
            result = real(*args, **kwargs)
            self.reached.set()
            assert self._go.wait(15), "the test never let the writer commit"
            return result

        monkeypatch.setattr(module, name, step_then_wait)

    def go(self) -> None:
        self._go.set()


def _cached_consents(user_id: str) -> str | None:
    value = get_redis().hget(Keys.user_state(user_id), "consents")
    assert not isinstance(value, bytes)
    return value


def _paused_publication(
    signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch, version: str
) -> tuple[Actor, Callable[[], Any], Pause]:
    """A donor signed in, and a publication of ``version`` (requiring reconsent) that stops just before it commits."""
    root, donor = signed_in("super_admin"), signed_in("donor")
    publisher = caller.authenticate(root.access_token, CLIENT)
    pause = Pause(monkeypatch, user_state, "invalidate_everyone_signed_in")

    def publish() -> Any:
        return legal_documents.publish(
            publisher, TERMS, version, url="https://augeo.example/t", requires_reconsent=True, client=CLIENT
        )

    return donor, publish, pause


def test_a_request_that_reads_while_a_version_is_published_waits_and_owes_it(
    signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    donor, publish, pause = _paused_publication(signed_in, monkeypatch, "race-1")
    principal = _race(publish, lambda: caller.authenticate(donor.access_token, CLIENT), pause.reached, pause.go)
    assert principal.state.owed_consents == (OwedConsent(TERMS.value, "race-1"),), "the read saw the publication"
    assert _cached_consents(donor.id) in (None, f"{TERMS.value}=race-1")
    assert caller.authenticate(donor.access_token, CLIENT).state.owed_consents == (OwedConsent(TERMS.value, "race-1"),)
    assert _cached_consents(donor.id) == f"{TERMS.value}=race-1"


def test_a_sign_in_during_a_publication_waits_and_owes_it(
    signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    donor, publish, pause = _paused_publication(signed_in, monkeypatch, "race-2")
    signed = _race(publish, lambda: sign_in.login(donor.account.email, PASSWORD, CLIENT), pause.reached, pause.go)
    assert isinstance(signed, sign_in.SignedIn)
    assert signed.tokens.state.owed_consents == (OwedConsent(TERMS.value, "race-2"),)
    assert caller.authenticate(signed.tokens.access_token, CLIENT).state.owed_consents, "and so does its next request"


def test_a_request_that_reads_while_the_user_accepts_waits_and_owes_nothing(
    signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, donor = signed_in("super_admin"), signed_in("donor")
    publisher = caller.authenticate(root.access_token, CLIENT)
    legal_documents.publish(
        publisher, TERMS, "race-3", url="https://augeo.example/t", requires_reconsent=True, client=CLIENT
    )
    owing = caller.authenticate(donor.access_token, CLIENT)
    assert owing.state.owed_consents
    get_redis().delete(Keys.user_state(donor.id))  # the next read goes to the database
    pause = Pause(monkeypatch, user_state, "invalidate")

    def accept() -> Any:
        return consents.accept(owing, TERMS, "race-3", CLIENT)

    principal = _race(accept, lambda: caller.authenticate(donor.access_token, CLIENT), pause.reached, pause.go)
    assert principal.state.owed_consents == (), "the read saw the acceptance that committed while it waited"
    assert _cached_consents(donor.id) in (None, "")
    assert caller.authenticate(donor.access_token, CLIENT).state.owed_consents == ()
