"""A user's authorization state, cached in Redis beside their sessions.

What every authenticated request needs to know about its caller (role, NPO,
whether the account is active and verified, whether a temporary password
must be changed, which events they are assigned to, which legal documents
they must accept) changes rarely and is
read constantly. It lives in a Redis hash next to the user's sessions (the
same hash tag, so one script reads the session and the state together even
on a clustered Redis) and is read by the script that checks the session:
an authenticated request that needs nothing else costs one Redis round trip
and no SQL.

Freshness, the rule every writer follows (the same one sessions follow):

1. lock the user's row (``SELECT ... FOR UPDATE``) and change what changes;
2. tell Redis before committing (:func:`invalidate`: bump the user's
   version, drop the cached state); if Redis cannot be told, nothing commits
   and the caller gets a 503;
3. commit.

A reader that finds no current state reads the version (in the session
script), then waits for a writer holding the row (``FOR SHARE``, a statement
of its own), then reads the state in the next statement, so it sees what
that writer committed (a statement that had to wait for a row lock still
reads every other table as it was when the statement began: the assigned
events or consents a writer changed would be missed), and stores the state
only if the version has not moved since (:func:`store`). A reader that raced
a writer therefore either stores a state the writer's bump then drops, or
fails to store: it can never leave a stale state behind the write.

Publishing a legal document changes every user's state at once. The
publisher holds the kind's row (``legal_document_kinds``) from before it
bumps the version of every user with an open session
(:func:`invalidate_everyone_signed_in`) until it commits; the statement that
reads a state locks the kind rows ``FOR SHARE``, so it waits for a
publication in flight and computes what is owed from the row as committed.
A sign-in holds the kind rows from its read of the state until it commits,
so a publication either waits for it (and then bumps the new session's
user) or is seen by it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

from redis.client import Pipeline
from sqlalchemy import ScalarSelect, Select, SQLColumnExpression, Uuid, bindparam, func, select, true
from sqlalchemy.orm import Session as DbSession

from shared.database import without_transaction
from shared.models import EventAssignment, LegalDocumentKind, Session, User
from shared.redis_client import Keys, get_redis, script
from shared.roles_and_permissions import RoleName
from shared.services.owed_consents import OwedConsent, owes

# How long a cached state and its version live without being touched: long
# enough to outlive every session that reads them.
STATE_TTL_SECONDS = 8 * 24 * 3600
# More events than this and the token carries no ``events`` claim (the state
# still holds them all, for the check route).
EVENTS_CLAIM_LIMIT = 100

# How many users' versions one Redis round trip bumps when a publication changes everyone's state.
INVALIDATION_BATCH = 1000

# The cached fields, in the order the session script returns them (after ``v``).
CACHED_FIELDS = ("role", "npo", "active", "verified", "pcr", "mfa", "events", "consents")

# KEYS[1] state, KEYS[2] version. ARGV[1] ttl, ARGV[2..] field/value pairs.
# Stores at whatever the version is now: only for a caller that holds the
# user's row lock (no writer can be between its lock and its commit).
_STORE_CURRENT = """
local current = redis.call('GET', KEYS[2]) or '0'
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', current, unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
if current ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return 1
"""

# KEYS[1] state, KEYS[2] version. ARGV[1] the version the caller read,
# ARGV[2] ttl, ARGV[3..] field/value pairs. Stores only if the version is
# unchanged; returns 1 when stored.
_STORE = """
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
if current ~= '0' then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
return 1
"""

# KEYS[1] state, KEYS[2] version. ARGV[1] ttl. Bumps the version, drops the state.
_INVALIDATE = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
"""


@dataclass(frozen=True, slots=True)
class UserState:
    """The caller as far as authorization goes, as of this request."""

    user_id: uuid.UUID
    role: RoleName
    npo_id: uuid.UUID | None
    is_active: bool
    email_verified: bool
    password_change_required: bool
    mfa_enabled: bool
    events: frozenset[uuid.UUID]
    # The legal documents they must accept (again) before the rest of the API is theirs.
    owed_consents: tuple[OwedConsent, ...] = ()

    @property
    def events_claim(self) -> list[str] | None:
        """The assigned events for an access token, or None when there are too many to carry."""
        if len(self.events) > EVENTS_CLAIM_LIMIT:
            return None
        return sorted(str(event) for event in self.events)

    def to_redis(self) -> dict[str, str]:
        return {
            "role": self.role.value,
            "npo": str(self.npo_id) if self.npo_id else "",
            "active": "1" if self.is_active else "0",
            "verified": "1" if self.email_verified else "0",
            "pcr": "1" if self.password_change_required else "0",
            "mfa": "1" if self.mfa_enabled else "0",
            "events": ",".join(sorted(str(event) for event in self.events)),
            "consents": ",".join(owed.encoded() for owed in self.owed_consents),
        }

    @classmethod
    def from_redis(cls, user_id: uuid.UUID, fields: dict[str, str]) -> UserState:
        return cls(
            user_id=user_id,
            role=RoleName(fields["role"]),
            npo_id=uuid.UUID(fields["npo"]) if fields["npo"] else None,
            is_active=fields["active"] == "1",
            email_verified=fields["verified"] == "1",
            password_change_required=fields["pcr"] == "1",
            mfa_enabled=fields["mfa"] == "1",
            events=frozenset(uuid.UUID(event) for event in fields["events"].split(",") if event),
            owed_consents=tuple(OwedConsent.decoded(owed) for owed in fields["consents"].split(",") if owed),
        )


def events_of(user_id: uuid.UUID | SQLColumnExpression[uuid.UUID]) -> ScalarSelect[list[uuid.UUID] | None]:
    """The user's assigned event ids as one array column (NULL when there are none);
    ``user_id`` may be a column, to correlate with an enclosing query."""
    return select(func.array_agg(EventAssignment.event_id)).where(EventAssignment.user_id == user_id).scalar_subquery()


def from_user(user: User, events: list[uuid.UUID] | None, owed: tuple[OwedConsent, ...] = ()) -> UserState:
    """The state of a user row, its assigned events (NULL: none) and the consents it owes."""
    return UserState(
        user_id=user.id,
        role=RoleName(user.role),
        npo_id=user.npo_id,
        is_active=user.is_active,
        email_verified=user.email_verified,
        password_change_required=user.password_change_required,
        mfa_enabled=user.mfa_enabled,
        events=frozenset(events or ()),
        owed_consents=owed,
    )


@cache
def _waiting_statement() -> Select[uuid.UUID]:
    """Wait for a writer holding the user's row; built once, the id bound per call."""
    return select(User.id).where(User.id == bindparam("user_id", type_=Uuid())).with_for_update(read=True)


@cache
def _state_statement() -> Select[User, list[uuid.UUID] | None, str, str | None, bool]:
    """The user's row and events and, for each kind of legal document (its row locked
    ``FOR SHARE``: a publication in flight is waited for, then seen), whether it is owed."""
    user_id = bindparam("user_id", type_=Uuid())
    kind = LegalDocumentKind
    return (
        select(User, events_of(user_id), kind.kind, kind.current_version, owes(User.id))
        .join(kind, true())
        .where(User.id == user_id)
        .with_for_update(read=True, of=kind)
    )


def read(user_id: uuid.UUID) -> UserState | None:
    """The state from the database, once any writer holding the row has committed."""
    with without_transaction() as reader:
        if reader.scalar(_waiting_statement(), {"user_id": user_id}) is None:
            return None
        return current(reader, user_id)


def current(db: DbSession, user_id: uuid.UUID) -> UserState | None:
    """The state as committed, in one statement: run it when no writer of the user can be
    in flight (after waiting for their row, or holding it)."""
    rows: list[Any] = list(db.execute(_state_statement(), {"user_id": user_id}).all())
    if not rows:
        return None
    owed = tuple(sorted(OwedConsent(row.kind, row.current_version) for row in rows if row[4]))
    return from_user(rows[0][0], rows[0][1], owed)


def store(state: UserState, version: str) -> bool:
    """Cache ``state`` if the user's version is still ``version``; True when stored."""
    user = str(state.user_id)
    pairs = ["v", version, *_pairs(state)]
    stored = script(_STORE)(
        keys=[Keys.user_state(user), Keys.user_version(user)], args=[version, STATE_TTL_SECONDS, *pairs]
    )
    return bool(stored)


def _pairs(state: UserState) -> list[str]:
    return [item for field, value in state.to_redis().items() for item in (field, value)]


def store_current(state: UserState, pipe: Pipeline) -> None:
    """Queue on ``pipe``: cache ``state`` at the current version (caller holds the row lock)."""
    user = str(state.user_id)
    keys = [Keys.user_state(user), Keys.user_version(user)]
    script(_STORE_CURRENT)(keys=keys, args=[STATE_TTL_SECONDS, *_pairs(state)], client=pipe)


def invalidate(db: DbSession, user_ids: list[uuid.UUID]) -> None:
    """Before committing a change to these users' state: lock their rows, then tell Redis.

    Raises (and so rolls the change back) when Redis cannot be told: a
    change that committed while a stale state stayed cached would let the
    next request through on the old role.
    """
    if not user_ids:
        return
    ordered = sorted(set(user_ids))
    db.execute(select(User.id).where(User.id.in_(ordered)).order_by(User.id).with_for_update())
    _bump(ordered)


def invalidate_everyone_signed_in(db: DbSession) -> int:
    """Before committing a change to every user's state (a legal document published): tell Redis
    about every user with an open session, a batch per round trip; how many.

    The caller holds what readers of the state wait for (the kind's row), so no
    user row is locked here: a user with no open session has no cached state a
    request could read, and their next sign-in reads the committed rows.
    """
    users = list(
        db.scalars(
            select(Session.user_id)
            .where(Session.revoked_at.is_(None), Session.expires_at > func.now())
            .distinct()
            .order_by(Session.user_id)
        )
    )
    for start in range(0, len(users), INVALIDATION_BATCH):
        _bump(users[start : start + INVALIDATION_BATCH])
    return len(users)


def _bump(user_ids: list[uuid.UUID]) -> None:
    """Bump each user's version and drop their cached state: one round trip."""
    invalidate_script = script(_INVALIDATE)
    pipe = get_redis().pipeline(transaction=False)
    for user in user_ids:  # one script per user: each user's keys share a cluster slot, users do not
        keys = [Keys.user_state(str(user)), Keys.user_version(str(user))]
        invalidate_script(keys=keys, args=[STATE_TTL_SECONDS], client=pipe)
    pipe.execute()
