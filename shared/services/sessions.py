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

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.models import RefreshToken, Session, User
from shared.redis_client import Keys, get_redis, script
from shared.security.jwt_tokens import AccessClaims, create_access_token
from shared.security.tokens import hash_token

REFRESH_TOKEN_BYTES = 32
_SEAL_CONTEXT = b"augeo/refresh-child/v1"

# KEYS[1] session, KEYS[2] revoked-jti marker.
# ARGV[1] idle timeout (s), ARGV[2] now (epoch s), ARGV[3] expected user id.
# Returns 1 and slides the idle timeout when the session is alive and the
# token not revoked; else 0.
_TOUCH_SESSION = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local session = redis.call('HMGET', KEYS[1], 'user_id', 'expires_at')
if (not session[1]) or session[1] ~= ARGV[3] then return 0 end
local ttl = math.min(tonumber(ARGV[1]), tonumber(session[2]) - tonumber(ARGV[2]))
if ttl <= 0 then redis.call('DEL', KEYS[1]); return 0 end
redis.call('EXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[1], 'last_seen', ARGV[2])
return 1
"""


class SessionEndReason:
    LOGOUT = "logout"
    SIGNED_OUT_ELSEWHERE = "signed_out_by_user"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    DEACTIVATED = "deactivated"
    REFRESH_REUSE = "refresh_token_reuse"
    IDLE_TIMEOUT = "idle_timeout"
    SESSION_LIMIT = "session_limit"


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    claims: AccessClaims


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _seal(parent_token: str, child_raw: bytes) -> bytes:
    """XOR the child with a key only the parent's holder can derive (one-time pad)."""
    key = hmac.new(parent_token.encode("utf-8"), _SEAL_CONTEXT, hashlib.sha256).digest()
    return bytes(a ^ b for a, b in zip(child_raw, key, strict=True))


def _unseal(parent_token: str, sealed: bytes) -> str:
    return _encode(_seal(parent_token, sealed))


def _idle_seconds(settings: Settings) -> int:
    return settings.session_idle_timeout_minutes * 60


def issue_access_token(settings: Settings, user: User, session_id: uuid.UUID) -> tuple[str, AccessClaims]:
    return create_access_token(
        settings,
        user_id=str(user.id),
        session_id=str(session_id),
        role=user.role,
        npo_id=str(user.npo_id) if user.npo_id else None,
    )


def open_session(db: DbSession, user: User, client: ClientInfo) -> IssuedTokens:
    """A new session (one per sign-in) with its first refresh token."""
    settings = get_settings()
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
    refresh = _encode(secrets.token_bytes(REFRESH_TOKEN_BYTES))
    db.add(RefreshToken(session_id=session.id, token_hash=hash_token(refresh)))
    db.flush()
    key = Keys.session(str(session.id))
    pipe = get_redis().pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={"user_id": str(user.id), "expires_at": int(expires_at.timestamp()), "last_seen": int(now.timestamp())},
    )
    pipe.expire(key, _idle_seconds(settings))
    pipe.execute()
    access, claims = issue_access_token(settings, user, session.id)
    return IssuedTokens(access, refresh, settings.access_token_expire_minutes * 60, claims)


def touch_session(session_id: str, user_id: str, jti: str | None) -> bool:
    """One round trip: alive, not revoked, and slide the idle timeout."""
    settings = get_settings()
    revoked_key = Keys.revoked_jti(session_id, jti or "-")
    alive = script(_TOUCH_SESSION)(
        keys=[Keys.session(session_id), revoked_key], args=[_idle_seconds(settings), int(time.time()), user_id]
    )
    return bool(alive)


def last_seen(session_ids: list[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
    """When each live session was last used, from Redis (None when it has ended)."""
    if not session_ids:
        return {}
    pipe = get_redis().pipeline(transaction=False)
    for session_id in session_ids:
        pipe.hget(Keys.session(str(session_id)), "last_seen")
    values = pipe.execute()
    return {
        session_id: datetime.fromtimestamp(int(value), UTC) if value else None
        for session_id, value in zip(session_ids, values, strict=True)
    }


def _forget_in_redis(session_ids: list[uuid.UUID], revoked_jti: tuple[uuid.UUID, str, int] | None = None) -> None:
    pipe = get_redis().pipeline(transaction=True)
    for session_id in session_ids:
        pipe.delete(Keys.session(str(session_id)))
    if revoked_jti is not None:
        session_id, jti, expires_at = revoked_jti
        ttl = max(expires_at - int(time.time()), 1)
        pipe.set(Keys.revoked_jti(str(session_id), jti), "1", ex=ttl)
    pipe.execute()


def revoke_session(db: DbSession, session_id: uuid.UUID, reason: str, *, access: AccessClaims | None = None) -> bool:
    """End one session now; True when it was still open. Redis first, then commit."""
    ended = db.execute(
        update(Session)
        .where(Session.id == session_id, Session.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(Session.id)
    ).first()
    revoked = (session_id, access.jti, access.expires_at) if access else None
    _forget_in_redis([session_id], revoked)
    return ended is not None


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
    seen = last_seen(open_ids)
    alive = [session_id for session_id in open_ids if seen[session_id] is not None]
    idle = [session_id for session_id in open_ids if seen[session_id] is None]
    oldest = alive[limit - 1 :]
    _end(db, idle, SessionEndReason.IDLE_TIMEOUT)
    _end(db, oldest, SessionEndReason.SESSION_LIMIT)
    if oldest:
        _forget_in_redis(oldest)
    return oldest


def _end(db: DbSession, session_ids: list[uuid.UUID], reason: str) -> None:
    if session_ids:
        db.execute(
            update(Session)
            .where(Session.id.in_(session_ids), Session.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason=reason)
        )


def revoke_user_sessions(
    db: DbSession, user_id: uuid.UUID, reason: str, *, keep: uuid.UUID | None = None
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
        _forget_in_redis(ended)
    return ended


@dataclass(frozen=True)
class Rotation:
    """What a refresh produced: new tokens for a user, or reuse that ended the session."""

    tokens: IssuedTokens | None
    user: User | None
    reuse_detected_session: Session | None = None


def _child_row(db: DbSession, session_id: uuid.UUID, parent_id: uuid.UUID, child: str) -> None:
    db.add(RefreshToken(session_id=session_id, token_hash=hash_token(child), parent_id=parent_id))


def rotate(db: DbSession, presented: str) -> Rotation | None:
    """Rotate ``presented`` by one conditional UPDATE; None when it is unknown or dead.

    The UPDATE only matches an unspent token, so of N concurrent refreshes
    exactly one spends it; the others wait on its row lock and then take the
    reuse path, where within the grace period they get the same child back.
    """
    settings = get_settings()
    child_raw = secrets.token_bytes(REFRESH_TOKEN_BYTES)
    spent = db.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == hash_token(presented), RefreshToken.rotated_at.is_(None))
        .values(rotated_at=func.now(), child_sealed=_seal(presented, child_raw))
        .returning(RefreshToken.id, RefreshToken.session_id)
    ).first()
    if spent is None:
        return _replay_or_reuse(db, presented, settings)
    session, user = _live_session_and_user(db, spent.session_id)
    if session is None or user is None:
        return None
    child = _encode(child_raw)
    _child_row(db, session.id, spent.id, child)
    session.last_seen_at = datetime.now(UTC)
    access, claims = issue_access_token(settings, user, session.id)
    return Rotation(IssuedTokens(access, child, settings.access_token_expire_minutes * 60, claims), user)


def _live_session_and_user(db: DbSession, session_id: uuid.UUID) -> tuple[Session | None, User | None]:
    """The session and its user when the session is open, unexpired, not idle, and the user active."""
    row = db.execute(
        select(Session, User)
        .join(User, User.id == Session.user_id)
        .where(Session.id == session_id, Session.revoked_at.is_(None), Session.expires_at > func.now())
    ).first()
    if row is None:
        return None, None
    session, user = row
    if not user.is_active or not touch_session(str(session.id), str(user.id), None):
        return None, None
    return session, user


def _replay_or_reuse(db: DbSession, presented: str, settings: Settings) -> Rotation | None:
    age = func.extract("epoch", func.now() - RefreshToken.rotated_at)
    row = db.execute(
        select(RefreshToken, age.label("age")).where(RefreshToken.token_hash == hash_token(presented))
    ).first()
    if row is None:
        return None
    token, seconds_since_rotation = row
    if token.child_sealed is not None and float(seconds_since_rotation) <= settings.refresh_token_reuse_grace_seconds:
        session, user = _live_session_and_user(db, token.session_id)
        if session is None or user is None:
            return None
        child = _unseal(presented, token.child_sealed)
        access, claims = issue_access_token(settings, user, session.id)
        return Rotation(IssuedTokens(access, child, settings.access_token_expire_minutes * 60, claims), user)
    session = db.get(Session, token.session_id)
    if session is None or session.revoked_at is not None:
        return None
    revoke_session(db, session.id, SessionEndReason.REFRESH_REUSE)
    return Rotation(None, None, reuse_detected_session=session)
