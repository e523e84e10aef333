"""Sessions: opening, the per-request liveness check, refresh rotation, revocation.

PostgreSQL is the durable record (history, rotation lineage); Redis holds the
live session so that every authenticated request costs one Redis round trip.
A session is alive while its Redis key exists: the key's TTL is the idle
timeout (slid on every request, capped by the absolute lifetime). Ending a
session deletes the key *before* the database transaction commits, so if
Redis cannot be told, nothing is committed and the caller gets a 503: a
session is never recorded as ended while its tokens still work.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from sqlalchemy import LargeBinary, Select, String, bindparam, func, insert, select, true, update
from sqlalchemy.orm import Session as DbSession

from shared import clock
from shared.config import Settings
from shared.context import ClientInfo
from shared.models import RefreshToken, Session, User
from shared.redis_client import Keys, get_redis, script
from shared.security import refresh_tokens
from shared.security.jwt_tokens import AccessClaims, create_access_token
from shared.security.tokens import hash_token
from shared.services import user_state
from shared.services.owed_consents import decoded, owed_of
from shared.services.principal import LiveSession
from shared.services.rate_limits import RESERVE_FUNCTION, Limit, refusal
from shared.services.user_state import UserState

# KEYS[1] session, KEYS[2] revoked-jti marker, KEYS[3] user state, KEYS[4] user version,
# KEYS[5] and KEYS[6] (when the route has one) the counter of a per-user limit and its refusal marker.
# ARGV[1] idle timeout (s), ARGV[2] now (epoch s), ARGV[3] the limit's attempts and
# ARGV[4] its window (s) (both 0 without a limit), ARGV[5..] the state's field names.
# {0} when the session has ended or the token is revoked; {2, ttl, first} when the
# per-user limit is used up (a live session only: a dead one counts nothing).
# Otherwise slides the idle timeout and returns {1, version, auth_time, amr,
# state fields...}, the state fields only when the cached state is current
# (``v`` equals the version).
_CHECK_SESSION = (
    RESERVE_FUNCTION
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return {0} end
local session = redis.call('HMGET', KEYS[1], 'expires_at', 'auth_time', 'amr')
if not session[1] then return {0} end
local ttl = math.min(tonumber(ARGV[1]), tonumber(session[1]) - tonumber(ARGV[2]))
if ttl <= 0 then redis.call('DEL', KEYS[1]); return {0} end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
if KEYS[5] then
  local taken = reserve(KEYS[5], KEYS[6], ARGV[3], ARGV[4], '1')
  if taken[1] == 0 then return {2, taken[2], taken[3]} end
end
local version = redis.call('GET', KEYS[4]) or '0'
local reply = {1, version, session[2] or '0', session[3] or ''}
local state = redis.call('HMGET', KEYS[3], 'v', unpack(ARGV, 5))
if state[1] ~= version then return reply end
for i = 2, #state do reply[#reply + 1] = state[i] end
return reply
"""
)


class SessionEndReason(StrEnum):
    """Why a session ended (``sessions.revoked_reason``: the values are stored, never renamed)."""

    LOGOUT = "logout"
    SIGNED_OUT_BY_USER = "signed_out_by_user"  # from another of the user's sessions
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    DEACTIVATED = "deactivated"
    ERASED = "erased"
    REFRESH_REUSE = "refresh_token_reuse"
    IDLE_TIMEOUT = "idle_timeout"
    SESSION_LIMIT = "session_limit"
    MFA_CLEARED = "second_factor_cleared"
    MFA_ENROLLED = "second_factor_enrolled"  # the user turned a factor on from another session


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    claims: AccessClaims
    # The session's absolute end (REFRESH_TOKEN_EXPIRE_DAYS after sign-in): no refresh token outlives it.
    session_expires_at: datetime
    # The user's state the tokens were issued on (what they still owe, for the token response).
    state: UserState


def _idle_seconds(settings: Settings) -> int:
    return settings.session_idle_timeout_minutes * 60


def issue_access_token(
    settings: Settings, state: UserState, session_id: uuid.UUID, auth_time: int, amr: tuple[str, ...]
) -> tuple[str, AccessClaims]:
    return create_access_token(
        settings,
        user_id=str(state.user_id),
        session_id=str(session_id),
        role=state.role.value,
        npo_id=str(state.npo_id) if state.npo_id else None,
        events=state.events_claim,
        auth_time=auth_time,
        amr=list(amr),
    )


def open_session(
    db: DbSession, settings: Settings, user: User, client: ClientInfo, amr: tuple[str, ...]
) -> IssuedTokens:
    """A new session (one per sign-in) with its first refresh token.

    The caller holds the user's row lock, so the state read here is current
    and no writer can move the version before this transaction commits: the
    state is cached with the session, in the same Redis round trip. The
    session records, server-side, when and how it proved who it is (``amr``).
    """
    now = datetime.now(UTC)
    expires_at = now + timedelta(days=settings.refresh_token_expire_days)
    session = Session(
        user_id=user.id,
        ip_address=client.ip_address,
        user_agent=client.user_agent,
        last_seen_at=now,
        expires_at=expires_at,
    )
    db.add(session)
    db.flush()
    refresh = refresh_tokens.new_refresh_token().text
    db.add(RefreshToken(session_id=session.id, token_hash=hash_token(refresh)))
    state = _state_of(db, user)
    key = Keys.session(str(user.id), str(session.id))
    pipe = get_redis().pipeline(transaction=True)  # one user's keys: one cluster slot
    auth_time = int(clock.now())
    fields: dict[str, str | int] = {
        "expires_at": int(expires_at.timestamp()),
        "last_seen": int(now.timestamp()),
        "auth_time": auth_time,
        "amr": ",".join(amr),
    }
    pipe.hset(key, mapping=fields)  # type: ignore[arg-type]  # redis-py's mapping type is invariant
    pipe.expire(key, _idle_seconds(settings))
    user_state.store_current(state, pipe)
    pipe.execute()
    access, claims = issue_access_token(settings, state, session.id, auth_time, amr)
    return IssuedTokens(access, refresh, settings.access_token_expire_minutes * 60, claims, expires_at, state)


def _state_of(db: DbSession, user: User) -> UserState:
    """The state of ``user``, read in ``db``'s transaction (users are never deleted).

    Opening a session, the caller holds the user's row, so no writer of theirs
    is in flight and the state may be cached as current.
    """
    state = user_state.current(db, user.id)
    if state is None:
        raise LookupError(f"user {user.id} has no row")
    return state


def check_session(
    settings: Settings, user_id: uuid.UUID, session_id: uuid.UUID, jti: str | None, limit: Limit | None = None
) -> LiveSession | None:
    """One round trip: the session is alive and the token not revoked (the idle timeout
    slides), with the user's cached state when it is current; None when it has ended.

    ``limit``, a per-user limit (its counter shares the user's cluster slot),
    takes a slot in the same round trip: 429 when it is used up.
    """
    user, sid = str(user_id), str(session_id)
    keys = [
        Keys.session(user, sid),
        Keys.revoked_jti(user, sid, jti or "-"),
        Keys.user_state(user),
        Keys.user_version(user),
    ]
    sized = (limit.attempts, limit.window_seconds) if limit is not None else (0, 0)
    if limit is not None:
        keys += [limit.key, limit.refused_key]
    args: list[str | int] = [_idle_seconds(settings), int(time.time()), *sized, *user_state.CACHED_FIELDS]
    reply = script(_CHECK_SESSION)(keys=keys, args=args)
    if reply and reply[0] == 2:
        raise refusal(reply[1], reply[2])
    if not reply or reply[0] != 1:
        return None
    version, auth_time, amr, fields = str(reply[1]), int(reply[2]), str(reply[3]), reply[4:]
    cached = bool(fields) and None not in fields  # a state cached before a field was added is not current
    state = UserState.from_redis(user_id, dict(zip(user_state.CACHED_FIELDS, fields, strict=True))) if cached else None
    return LiveSession(user_id, session_id, version, state, auth_time, tuple(amr.split(",")) if amr else ())


# KEYS[1] session. ARGV[1] auth_time, ARGV[2] amr. 1 when the session is still alive.
_RECORD_AUTHENTICATION = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'auth_time', ARGV[1], 'amr', ARGV[2])
return 1
"""


def record_authentication(user_id: uuid.UUID, session_id: uuid.UUID, auth_time: int, amr: tuple[str, ...]) -> bool:
    """The session proved who it is again, now: every access token of it sees this at once."""
    key = Keys.session(str(user_id), str(session_id))
    return bool(script(_RECORD_AUTHENTICATION)(keys=[key], args=[auth_time, ",".join(amr)]))


def last_seen(user_id: uuid.UUID, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
    """When each live session of the user was last used, from Redis (None when it has ended)."""
    if not session_ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for session_id in session_ids:
        pipe.hget(Keys.session(str(user_id), str(session_id)), "last_seen")
    values = pipe.execute()
    return {
        session_id: datetime.fromtimestamp(int(value), UTC) if value else None
        for session_id, value in zip(session_ids, values, strict=True)
    }


def _forget_in_redis(user_id: uuid.UUID, session_ids: list[uuid.UUID], revoked_jti: AccessClaims | None = None) -> None:
    user = str(user_id)
    pipe = get_redis().pipeline(transaction=True)  # one user's keys: one cluster slot
    for session_id in session_ids:
        pipe.delete(Keys.session(user, str(session_id)))
    if revoked_jti is not None:
        ttl = max(revoked_jti.expires_at - int(time.time()), 1)
        pipe.set(Keys.revoked_jti(user, revoked_jti.session_id, revoked_jti.jti), "1", ex=ttl)
    pipe.execute()


def revoke_session(
    db: DbSession,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    reason: SessionEndReason,
    *,
    access: AccessClaims | None = None,
) -> bool:
    """End one session now; True when it was still open. Redis first, then commit."""
    ended = db.execute(
        update(Session)
        .where(Session.id == session_id, Session.user_id == user_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(Session.id)
    ).first()
    _forget_in_redis(user_id, [session_id], access)
    return ended is not None


def session_open(db: DbSession, user_id: uuid.UUID, session_id: uuid.UUID) -> bool:
    """Whether the user's session is still open in the durable record (under the user's row
    lock, a revocation that committed before is seen)."""
    found = db.scalar(
        select(Session.id).where(Session.id == session_id, Session.user_id == user_id, Session.revoked_at.is_(None))
    )
    return found is not None


def make_room(db: DbSession, user_id: uuid.UUID, limit: int) -> list[uuid.UUID]:
    """End the oldest live sessions so that one more keeps the user within ``limit``.

    Returns the sessions ended for room. Open rows whose Redis key has
    already gone (idle, or expired) are closed as idle on the way.
    """
    open_ids = list(
        db.scalars(
            select(Session.id)
            .where(Session.user_id == user_id, Session.revoked_at.is_(None), Session.expires_at > func.now())
            .order_by(Session.created_at.desc(), Session.id)
        )
    )
    if len(open_ids) < limit:
        return []
    seen = last_seen(user_id, open_ids)
    alive = [session_id for session_id in open_ids if seen[session_id] is not None]
    idle = [session_id for session_id in open_ids if seen[session_id] is None]
    oldest = alive[limit - 1 :]
    _end(db, idle, SessionEndReason.IDLE_TIMEOUT)
    _end(db, oldest, SessionEndReason.SESSION_LIMIT)
    if oldest:
        _forget_in_redis(user_id, oldest)
    return oldest


def _end(db: DbSession, session_ids: list[uuid.UUID], reason: SessionEndReason) -> None:
    if session_ids:
        db.execute(
            update(Session)
            .where(Session.id.in_(session_ids), Session.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
        )


def revoke_user_sessions(
    db: DbSession, user_id: uuid.UUID, reason: SessionEndReason, *, keep: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """End every open session of a user (but ``keep``); returns the ids ended."""
    query = (
        update(Session)
        .where(Session.user_id == user_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(Session.id)
    )
    if keep is not None:
        query = query.where(Session.id != keep)
    ended = list(db.scalars(query))
    if ended:
        _forget_in_redis(user_id, ended)
    return ended


class RefreshRefusal(StrEnum):
    """Why a refresh token was not rotated: each is its own 401 code."""

    UNKNOWN = "unknown"  # never issued, or garbage
    SESSION_ENDED = "session_ended"  # signed out, deactivated, reset, idle, expired, evicted
    REUSED = "reused"  # a rotated token after the grace period: this presentation ended the session


@dataclass(frozen=True)
class Rotation:
    """What a refresh produced: new tokens for a user, or why not (and the session a reuse ended)."""

    tokens: IssuedTokens | None
    user: User | None
    refused: RefreshRefusal | None = None
    reuse_detected_session: Session | None = None

    @classmethod
    def refusal(cls, why: RefreshRefusal, ended: Session | None = None) -> Rotation:
        return cls(None, None, why, ended)


@cache
def _rotation_statement() -> Select[Any, datetime | None, User, list[uuid.UUID] | None, list[str] | None]:
    """Spend the parent, add the child, touch the session, return the user: one statement.

    Built once per process, with bind parameters (``presented_hash``,
    ``child_sealed``, ``child_hash``): building it per request cost more than
    running it (BENCHMARKS.md).

    The UPDATE matches only an unspent token, so of N concurrent refreshes
    exactly one spends it (the others wait on its row lock, then find it
    spent and take the replay path). The child is written only when the
    session is open and unexpired and its user active; the caller rolls the
    spend back otherwise. Data-modifying CTEs run to completion whether or
    not the outer query reads them, so ``child`` and ``touched`` are added
    to the statement without being selected.
    """
    spent = (
        update(RefreshToken)
        .where(RefreshToken.token_hash == bindparam("presented_hash"), RefreshToken.rotated_at.is_(None))
        .values(rotated_at=func.now(), child_sealed=bindparam("child_sealed", type_=LargeBinary))
        .returning(RefreshToken.id, RefreshToken.session_id)
        .cte("spent")
    )
    live = (
        select(Session.id.label("session_id"), Session.user_id, Session.expires_at)
        .join(spent, spent.c.session_id == Session.id)
        .join(User, User.id == Session.user_id)
        .where(Session.revoked_at.is_(None), Session.expires_at > func.now(), User.is_active.is_(True))
        .cte("live")
    )
    child = (
        insert(RefreshToken)
        .from_select(
            ["session_id", "token_hash", "parent_id"],
            select(live.c.session_id, bindparam("child_hash", type_=String), spent.c.id).select_from(
                live.join(spent, true())
            ),
        )
        .returning(RefreshToken.id)
        .cte("child")
    )
    touched = (
        update(Session)
        .where(Session.id == live.c.session_id)
        .values(last_seen_at=func.now())
        .returning(Session.id)
        .cte("touched")
    )
    return (
        select(spent.c.session_id, live.c.expires_at, User, user_state.events_of(User.id), owed_of(User.id))
        .select_from(spent)
        .outerjoin(live, true())
        .outerjoin(User, User.id == live.c.user_id)
        .add_cte(child, touched)
    )


def rotate(db: DbSession, settings: Settings, presented: str) -> Rotation:
    """Rotate ``presented``, or say why not; a refusal of SESSION_ENDED or UNKNOWN wants a rollback.

    The normal path is one SQL statement and one Redis round trip (the
    session script: alive, not idle, idle timeout slid). A token of a session
    that has ended is told apart from an unknown one by that same statement
    (it spent a known token, but found no live session); only a token
    already spent costs a second look (:func:`_replay_or_reuse`).
    """
    child = refresh_tokens.new_refresh_token()
    parameters = {
        "presented_hash": hash_token(presented),
        "child_sealed": refresh_tokens.seal(presented, child.raw),
        "child_hash": hash_token(child.text),
    }
    row = db.execute(_rotation_statement(), parameters).first()
    if row is None:
        return _replay_or_reuse(db, settings, presented)
    session_id, expires_at, user, events, owed = row
    live = check_session(settings, user.id, session_id, None) if user is not None else None
    if user is None or live is None or expires_at is None:
        return Rotation.refusal(RefreshRefusal.SESSION_ENDED)
    state = user_state.from_user(user, events, decoded(owed))
    return Rotation(_tokens(settings, state, live, refresh=child.text, ends=expires_at), user)


def _tokens(settings: Settings, state: UserState, live: LiveSession, *, refresh: str, ends: datetime) -> IssuedTokens:
    """A new access token for the live session (its proof carried on), beside ``refresh``."""
    access, claims = issue_access_token(settings, state, live.session_id, live.auth_time, live.amr)
    return IssuedTokens(access, refresh, settings.access_token_expire_minutes * 60, claims, ends, state)


def _live_session_and_user(
    db: DbSession, settings: Settings, session_id: uuid.UUID
) -> tuple[LiveSession, Session, User] | None:
    """The live session and its user when it is open, unexpired, not idle, and the user active."""
    row = db.execute(
        select(Session, User)
        .join(User, User.id == Session.user_id)
        .where(Session.id == session_id, Session.revoked_at.is_(None), Session.expires_at > func.now())
    ).first()
    if row is None or not row[1].is_active:
        return None
    live = check_session(settings, row[1].id, row[0].id, None)
    return (live, row[0], row[1]) if live is not None else None


def _replay_or_reuse(db: DbSession, settings: Settings, presented: str) -> Rotation:
    """A token already spent: within the grace its child again; after it, reuse, unless the session had ended."""
    age = func.extract("epoch", func.now() - RefreshToken.rotated_at)
    row = db.execute(
        select(RefreshToken, age.label("age")).where(RefreshToken.token_hash == hash_token(presented))
    ).first()
    if row is None:
        return Rotation.refusal(RefreshRefusal.UNKNOWN)
    token, seconds_since_rotation = row
    found = _live_session_and_user(db, settings, token.session_id)
    if found is None:
        return Rotation.refusal(RefreshRefusal.SESSION_ENDED)
    live, session, user = found
    if token.child_sealed is not None and float(seconds_since_rotation) <= settings.refresh_token_reuse_grace_seconds:
        child = refresh_tokens.unseal(presented, token.child_sealed)
        state = _state_of(db, user)
        return Rotation(_tokens(settings, state, live, refresh=child, ends=session.expires_at), user)
    revoke_session(db, session.user_id, session.id, SessionEndReason.REFRESH_REUSE)
    return Rotation.refusal(RefreshRefusal.REUSED, session)
