"""The Redis client (one per process) and the key namespaces (``session:``, ``rate:limit:``, ...).

Every key the service writes is built by :class:`Keys`, so namespaces live in
one place and every key can be given a TTL where it is born.
"""

from __future__ import annotations

import threading

import redis
from redis.commands.core import Script

from shared.config import Settings, get_settings

_lock = threading.Lock()
_client: redis.Redis | None = None
_scripts: dict[str, Script] = {}


def build_client(settings: Settings) -> redis.Redis:
    """A client on a bounded pool whose sockets time out rather than hang.

    The pool blocks (up to the socket timeout) for a free connection when all
    are busy, instead of failing at once: a burst of concurrent requests in
    one worker queues briefly rather than turning into 503s.
    """
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_socket_timeout_seconds,
        socket_timeout=settings.redis_socket_timeout_seconds,
        socket_connect_timeout=settings.redis_connect_timeout_seconds,
        health_check_interval=30,
        decode_responses=True,
    )
    return redis.Redis(connection_pool=pool)


def get_redis() -> redis.Redis:
    """The process-wide client, created on first use."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = build_client(get_settings())
    return _client


def script(lua: str) -> Script:
    """``lua`` as a script run by EVALSHA: its text crosses the wire once per server, not per call."""
    registered = _scripts.get(lua)
    if registered is None:
        registered = _scripts[lua] = get_redis().register_script(lua)
    return registered


def reset_redis() -> None:
    """Drop the process-wide client (tests and shutdown)."""
    global _client
    with _lock:
        _scripts.clear()
        if _client is not None:
            _client.close()
            _client.connection_pool.disconnect()
        _client = None


class Keys:
    """Builders for every Redis key, one namespace per concern.

    Everything about one user (their sessions, revoked tokens, cached
    authorization state and its version) carries the user id as a hash tag
    (``{...}``), so the per-request check reads a session and its user's
    state in one script even on a clustered Redis (all land in one slot).
    """

    @staticmethod
    def session(user_id: str, session_id: str) -> str:
        return f"session:{{{user_id}}}:{session_id}"

    @staticmethod
    def revoked_jti(user_id: str, session_id: str, jti: str) -> str:
        return f"jwt:blacklist:{{{user_id}}}:{session_id}:{jti}"

    @staticmethod
    def user_state(user_id: str) -> str:
        return f"user:{{{user_id}}}:state"

    @staticmethod
    def user_version(user_id: str) -> str:
        return f"user:{{{user_id}}}:version"

    @staticmethod
    def mfa_challenge(token_digest: str) -> str:
        return f"mfa:challenge:{token_digest}"

    @staticmethod
    def email_verify(email_digest: str) -> str:
        return f"email:verify:{email_digest}"

    @staticmethod
    def rate_limit(rule: str, subject: str) -> str:
        return f"rate:limit:{rule}:{subject}"

    @staticmethod
    def rate_counter(rule: str, subject: str) -> str:
        """A limit's counter; its refusal marker (:meth:`rate_refused`) shares its slot (hash tag:
        the subject's own when it has one, a user's id, so their sessions' slot; else rule and subject)."""
        return f"rate:limit:{rule}:{subject}" if "{" in subject else f"rate:limit:{{{rule}:{subject}}}"

    @staticmethod
    def rate_refused(rule: str, subject: str) -> str:
        """Set by the first refusal of a counter's window, and gone with the window."""
        return f"{Keys.rate_counter(rule, subject)}:refused"
