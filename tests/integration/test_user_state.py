"""A request that reads the user's state while an admin changes it never caches the old state.

Two interleavings, each forced with barriers (a row lock the test holds, and a
pause just before the reader stores what it read), never with sleeps:

1. The writer has bumped the version but not committed when the reader
   looks: the reader's database read must wait for the commit (FOR SHARE),
   and then see it, the user's row and the rows that hang off it (assigned
   events) alike.
2. The reader read the database before the writer bumped the version, and
   stores after the writer committed: the store must be refused (version).

After either, the next request sees the new role, and so does the cache.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.models import EventAssignment, User
from shared.redis_client import Keys, get_redis
from shared.services import caller, user_state
from shared.services.principal import Principal
from tests.support.accounts import Actor
from tests.support.concurrency import any_app_connection_waiting_on_a_lock, wait_until
from tests.support.events import registered_event

CLIENT = ClientInfo(request_id="state-race", ip_address="198.51.100.78", user_agent="race-test")
NPO = str(uuid.uuid4())


def _cold(actor: Actor) -> uuid.UUID:
    """The actor's user id, with their cached state dropped (as a change elsewhere would)."""
    get_redis().delete(Keys.user_state(actor.id))
    return uuid.UUID(actor.id)


def _promote_to_coordinator(db: Any, user_id: uuid.UUID) -> None:
    """The writer's side of a role change: lock, change, tell Redis (the caller commits)."""
    user = db.get(User, user_id, with_for_update=True)
    user.role = "event_coordinator"
    user_state.invalidate(db, [user_id])


def _cached_role(user_id: uuid.UUID) -> str | None:
    role = get_redis().hget(Keys.user_state(str(user_id)), "role")
    assert not isinstance(role, bytes), "the client decodes responses"
    return role


def test_a_reader_that_looks_between_the_writers_bump_and_commit_waits_for_the_commit(
    signed_in: Callable[..., Actor],
) -> None:
    staff = signed_in("staff", NPO)
    user_id = _cold(staff)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with unit_of_work() as writer:
            _promote_to_coordinator(writer, user_id)
            reading = pool.submit(caller.authenticate, staff.access_token, CLIENT)
            wait_until(
                lambda: reading.done() or any_app_connection_waiting_on_a_lock(),
                "the reader waits on the writer's lock",
            )
        principal: Principal = reading.result()
    assert principal.role == "event_coordinator", "the read waited for the commit"
    assert _cached_role(user_id) in (None, "event_coordinator")
    assert caller.authenticate(staff.access_token, CLIENT).role == "event_coordinator"


def test_a_reader_that_waits_for_an_assignment_sees_the_event_it_added(signed_in: Callable[..., Actor]) -> None:
    """The assignment changes no column of the user's row, only a row beside it: the reader must still see it."""
    staff = signed_in("staff", NPO)
    user_id = _cold(staff)
    event_id = uuid.UUID(registered_event(NPO))
    with ThreadPoolExecutor(max_workers=1) as pool:
        with unit_of_work() as writer:
            writer.get(User, user_id, with_for_update=True)
            writer.add(EventAssignment(user_id=user_id, event_id=event_id))
            user_state.invalidate(writer, [user_id])
            reading = pool.submit(caller.authenticate, staff.access_token, CLIENT)
            wait_until(
                lambda: reading.done() or any_app_connection_waiting_on_a_lock(),
                "the reader waits on the writer's lock",
            )
        principal: Principal = reading.result()
    assert event_id in principal.state.events, "the read saw the assignment that committed while it waited"
    assert caller.authenticate(staff.access_token, CLIENT).state.events == frozenset({event_id}), "and so did the cache"


def test_a_reader_that_read_before_the_bump_cannot_store_after_the_commit(
    signed_in: Callable[..., Actor], monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = signed_in("staff", NPO)
    user_id = _cold(staff)
    about_to_store, go = threading.Event(), threading.Event()
    real_store = user_state.store

    def store_after_the_writer(state: user_state.UserState, version: str) -> bool:
        about_to_store.set()
        assert go.wait(15)
        return real_store(state, version)

    monkeypatch.setattr(user_state, "store", store_after_the_writer)
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(caller.authenticate, staff.access_token, CLIENT)
        assert about_to_store.wait(15)  # the reader has its (old) state in hand
        with unit_of_work() as writer:
            _promote_to_coordinator(writer, user_id)
        go.set()
        assert reading.result().role == "staff", "that request was decided on the state it read"
    monkeypatch.setattr(user_state, "store", real_store)
    assert _cached_role(user_id) is None, "the stale state was not stored"
    assert caller.authenticate(staff.access_token, CLIENT).role == "event_coordinator"
    assert _cached_role(user_id) == "event_coordinator"
