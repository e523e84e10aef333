"""Abuse limits counted atomically in Redis, shared by every instance.

Each counter is a Redis key born with its expiry inside one Lua script (never
INCR then a separate EXPIRE), so a crash between two commands cannot leave a
counter that never expires. ``reserve`` takes a slot only while the count is
below the limit, which is how "30 concurrent bad logins let exactly 5 reach
the password check" holds; ``refund`` gives a slot back (a login that turned
out to be correct does not count as a failure).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.errors import RateLimitedError
from shared.redis_client import Keys, get_redis, script

# KEYS[1] counter; ARGV[1] limit, ARGV[2] window seconds.
# Returns {1, count} when a slot was taken, {0, ttl} when the limit is reached.
_RESERVE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count >= tonumber(ARGV[1]) then
  local ttl = redis.call('TTL', KEYS[1])
  if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]); ttl = tonumber(ARGV[2]) end
  return {0, ttl}
end
count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return {1, count}
"""

# KEYS[1] counter. Decrements a counter that still exists, never below zero.
_REFUND = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Limit:
    """``attempts`` per ``window_seconds`` for one rule and one subject."""

    rule: str
    subject: str
    attempts: int
    window_seconds: int

    @property
    def key(self) -> str:
        return Keys.rate_limit(self.rule, self.subject)


def subject_digest(value: str) -> str:
    """A short digest, so Redis keys never hold an email address."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def reserve(limit: Limit) -> None:
    """Take one slot of ``limit`` or raise 429 with the seconds until the window ends."""
    taken, value = script(_RESERVE)(keys=[limit.key], args=[limit.attempts, limit.window_seconds])
    if not taken:
        raise RateLimitedError(int(value))


def reserve_all(limits: list[Limit]) -> None:
    """Reserve each limit in turn; on a refusal, give back the slots already taken."""
    taken: list[Limit] = []
    try:
        for limit in limits:
            reserve(limit)
            taken.append(limit)
    except RateLimitedError:
        refund(taken)
        raise


def refund(limits: list[Limit]) -> None:
    """Give back one slot of each limit (a correct login is not a failure)."""
    if not limits:
        return
    pipe = get_redis().pipeline(transaction=False)
    for limit in limits:
        pipe.eval(_REFUND, 1, limit.key)
    pipe.execute()


def mark(name: str, *, days: int) -> None:
    """Remember a fact (such as "this IP signed in to this account") for ``days``."""
    get_redis().set(Keys.rate_limit("mark", name), "1", ex=days * 86400)


def is_marked(name: str) -> bool:
    return bool(get_redis().exists(Keys.rate_limit("mark", name)))


def first_refusal(name: str, window_seconds: int = 900) -> bool:
    """True once per window for ``name``: limits audit writes during an attack."""
    return bool(get_redis().set(Keys.rate_limit("refused", name), "1", nx=True, ex=window_seconds))
