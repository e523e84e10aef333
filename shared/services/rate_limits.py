"""Abuse limits counted atomically in Redis, shared by every instance.

Every limit is one row of :data:`RULES`: the rule (its name in Redis), the two
settings that size it (attempts per window, the window), and whom one counter
counts. A new limit is a new row; a flow asks for its limits by rule
(:func:`limit`) and never builds one itself.

Each counter is a Redis key born with its expiry inside one Lua script (never
INCR then a separate EXPIRE), so a crash between two commands cannot leave a
counter that never expires. ``reserve`` takes a slot only while the count is
below the limit, which is how "30 concurrent bad logins let exactly 5 reach
the password check" holds; ``refund`` gives a slot back (a sign-in that
opened a session does not count as a failure).

A refusal says, from the same script call, whether it is the first of the
counter's window (``RateLimitedError.first_in_window``: a marker beside the
counter, born with the counter's remaining time): a flood of refused requests
is audited once, without a statement per request.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from shared.config import Settings
from shared.errors import RateLimitedError
from shared.failures import is_dependency_failure
from shared.redis_client import Keys, get_redis, script

logger = logging.getLogger(__name__)

# An IPv6 customer usually holds a whole /64: counting per address would give
# an attacker 2**64 fresh budgets.
IPV6_PREFIX = 64

# Taking a slot, as a Lua function other scripts include (the session script counts a
# per-user limit with it, in its own round trip): reserve(counter, its refusal marker,
# limit, window seconds, '1' to take a slot or '0' only to look) returns {1, count} when
# there was room (a slot taken when asked), {0, ttl, first} when the limit is reached:
# ``first`` is 1 for the first refusal of the counter's window (the marker lives as long
# as the window).
RESERVE_FUNCTION = """
local function reserve(key, refused_key, limit, window, take)
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(limit) then
    local ttl = redis.call('TTL', key)
    if ttl < 0 then redis.call('EXPIRE', key, window); ttl = tonumber(window) end
    local first = redis.call('SET', refused_key, '1', 'NX', 'EX', ttl) and 1 or 0
    return {0, ttl, first}
  end
  if take == '0' then return {1, count} end
  count = redis.call('INCR', key)
  if count == 1 then redis.call('EXPIRE', key, window) end
  return {1, count}
end
"""

# KEYS[1] counter, KEYS[2] its refusal marker; ARGV[1] limit, ARGV[2] window seconds,
# ARGV[3] 1 to take a slot, 0 only to look.
_RESERVE = RESERVE_FUNCTION + "return reserve(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])\n"

# KEYS[1] counter. Decrements a counter that still exists, never below zero.
_REFUND = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class Rule(StrEnum):
    """Every abuse limit the service keeps; the value names its counters in Redis."""

    LOGIN_PER_ADDRESS = "login:ip"  # password checks that opened no session
    LOGIN_PER_ACCOUNT = "login:account"  # the same per account (and wrong second-factor codes)
    LOGIN_PER_TRUSTED_ADDRESS = "login:trusted-ip"  # the same, per address across accounts, in trusted networks
    MFA_CODE_PER_ADDRESS_AND_ACCOUNT = "mfa-code:ip-account"  # wrong second-factor codes at sign-in
    LOGIN_SUCCESS_PER_ACCOUNT = "login-success:account"  # each opens a session
    REGISTER_PER_ADDRESS = "register:ip"
    REGISTER_PER_MAILBOX = "register:email"
    RESET_PER_ADDRESS = "reset:ip"  # password-reset emails asked for
    RESET_PER_MAILBOX = "reset:email"
    RESEND_PER_ADDRESS = "resend:ip"  # verification emails asked for again
    RESEND_PER_MAILBOX = "resend:email"
    EMAILED_TOKEN_PER_ADDRESS = "token:ip"  # attempts with a verification or reset token
    REFRESH_FAILURE_PER_ADDRESS = "refresh:ip"  # failed refreshes only
    SIGNED_IN_PROOF_PER_USER = "signed-in-password"  # wrong passwords (and codes) of a signed-in user
    PERMISSION_CHECK_PER_USER = "authz-check"  # POST /api/v1/authz/check, every call
    INVITATIONS_PER_USER = "invite:user"  # invitations an administrator sends (new or again)
    INVITATION_RESEND_PER_MAILBOX = "invite-resend:email"  # invitation emails sent again to one address


class Counted(Enum):
    """Whom one counter of a rule counts."""

    # The client address (an IPv6 /64).
    ADDRESS = "address"
    # The client address; inside a trusted network, where many people share one
    # address, the pair (address, account named): one donor's typos never lock out the room.
    ADDRESS_PER_ACCOUNT_IN_TRUSTED_NETWORKS = "address, per account in trusted networks"
    # The pair (client address, account named), wherever the address is.
    ADDRESS_AND_ACCOUNT = "address and account"
    # The account (or mailbox) the request names, as a digest of its email address.
    ACCOUNT = "account"
    # The signed-in user (a hash tag of their id: the counter shares the cluster slot of
    # their sessions, so the session script can count it).
    USER = "user"


@dataclass(frozen=True)
class RuleDefinition:
    """The settings that size a rule (attempts per window, the window in seconds), and whom it counts."""

    attempts: str
    window_seconds: str
    counts: Counted


_VENUE_ADDRESS = Counted.ADDRESS_PER_ACCOUNT_IN_TRUSTED_NETWORKS

# The one place a limit is defined.
RULES: dict[Rule, RuleDefinition] = {
    Rule.LOGIN_PER_ADDRESS: RuleDefinition(
        "rate_limit_login_per_ip", "rate_limit_login_per_ip_window_seconds", _VENUE_ADDRESS
    ),
    Rule.LOGIN_PER_ACCOUNT: RuleDefinition(
        "rate_limit_login_per_account", "rate_limit_login_per_account_window_seconds", Counted.ACCOUNT
    ),
    Rule.LOGIN_PER_TRUSTED_ADDRESS: RuleDefinition(
        "rate_limit_login_per_trusted_ip", "rate_limit_login_per_trusted_ip_window_seconds", Counted.ADDRESS
    ),
    # Sized like failed sign-ins per address: a wrong code is a failed sign-in's second half.
    Rule.MFA_CODE_PER_ADDRESS_AND_ACCOUNT: RuleDefinition(
        "rate_limit_login_per_ip", "rate_limit_login_per_ip_window_seconds", Counted.ADDRESS_AND_ACCOUNT
    ),
    Rule.LOGIN_SUCCESS_PER_ACCOUNT: RuleDefinition(
        "rate_limit_login_success_per_account", "rate_limit_login_success_per_account_window_seconds", Counted.ACCOUNT
    ),
    Rule.REGISTER_PER_ADDRESS: RuleDefinition(
        "rate_limit_register_per_ip", "rate_limit_register_per_ip_window_seconds", _VENUE_ADDRESS
    ),
    Rule.REGISTER_PER_MAILBOX: RuleDefinition(
        "rate_limit_email_per_address", "rate_limit_email_per_address_window_seconds", Counted.ACCOUNT
    ),
    Rule.RESET_PER_ADDRESS: RuleDefinition(
        "rate_limit_email_per_ip", "rate_limit_email_per_ip_window_seconds", _VENUE_ADDRESS
    ),
    Rule.RESET_PER_MAILBOX: RuleDefinition(
        "rate_limit_email_per_address", "rate_limit_email_per_address_window_seconds", Counted.ACCOUNT
    ),
    Rule.RESEND_PER_ADDRESS: RuleDefinition(
        "rate_limit_email_per_ip", "rate_limit_email_per_ip_window_seconds", _VENUE_ADDRESS
    ),
    Rule.RESEND_PER_MAILBOX: RuleDefinition(
        "rate_limit_email_per_address", "rate_limit_email_per_address_window_seconds", Counted.ACCOUNT
    ),
    Rule.EMAILED_TOKEN_PER_ADDRESS: RuleDefinition(
        "rate_limit_token_per_ip", "rate_limit_token_per_ip_window_seconds", Counted.ADDRESS
    ),
    Rule.REFRESH_FAILURE_PER_ADDRESS: RuleDefinition(
        "rate_limit_refresh_per_ip", "rate_limit_refresh_per_ip_window_seconds", Counted.ADDRESS
    ),
    Rule.SIGNED_IN_PROOF_PER_USER: RuleDefinition(
        "rate_limit_password_change_per_user", "rate_limit_password_change_per_user_window_seconds", Counted.USER
    ),
    Rule.PERMISSION_CHECK_PER_USER: RuleDefinition(
        "rate_limit_authz_check_per_user", "rate_limit_authz_check_per_user_window_seconds", Counted.USER
    ),
    Rule.INVITATIONS_PER_USER: RuleDefinition(
        "rate_limit_invitations_per_user", "rate_limit_invitations_per_user_window_seconds", Counted.USER
    ),
    Rule.INVITATION_RESEND_PER_MAILBOX: RuleDefinition(
        "rate_limit_email_per_address", "rate_limit_email_per_address_window_seconds", Counted.ACCOUNT
    ),
}


@dataclass(frozen=True)
class Limit:
    """``attempts`` per ``window_seconds`` for one rule and one subject."""

    rule: str
    subject: str
    attempts: int
    window_seconds: int

    @property
    def key(self) -> str:
        return Keys.rate_counter(self.rule, self.subject)

    @property
    def refused_key(self) -> str:
        return Keys.rate_refused(self.rule, self.subject)


def limit(
    settings: Settings,
    rule: Rule,
    *,
    ip_address: str | None = None,
    account: str | None = None,
    user_id: uuid.UUID | None = None,
) -> Limit:
    """``rule``'s limit for one request: the client's address, the email address it names
    (``account``) or the signed-in user, whichever the rule counts."""
    definition = RULES[rule]
    attempts, window_seconds = getattr(settings, definition.attempts), getattr(settings, definition.window_seconds)
    return Limit(
        rule.value, _subject(settings, definition.counts, ip_address, account, user_id), attempts, window_seconds
    )


def limits(
    settings: Settings,
    rules: Sequence[Rule],
    *,
    ip_address: str | None = None,
    account: str | None = None,
    user_id: uuid.UUID | None = None,
) -> list[Limit]:
    """:func:`limit` of each of ``rules``, in order."""
    return [limit(settings, rule, ip_address=ip_address, account=account, user_id=user_id) for rule in rules]


def _subject(
    settings: Settings, counts: Counted, ip_address: str | None, account: str | None, user_id: uuid.UUID | None
) -> str:
    if counts is Counted.ADDRESS:
        return client_subject(ip_address)
    if counts is Counted.USER:
        if user_id is None:
            raise ValueError("a per-user limit needs the user")
        return "{" + str(user_id) + "}"
    if account is None:
        raise ValueError("a per-account limit needs the account's email address")
    digest = subject_digest(account)
    if counts is Counted.ACCOUNT:
        return digest
    if counts is Counted.ADDRESS_AND_ACCOUNT:
        return f"{client_subject(ip_address)}:{digest}"
    return client_key(ip_address, digest, settings.rate_limit_trusted_networks)


def subject_digest(value: str) -> str:
    """A short digest, so Redis keys never hold an email address."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_subject(ip: str | None) -> str:
    """Who a per-IP limit counts: the IPv4 address, or the /64 network of an IPv6 one."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def client_key(ip: str | None, subject: str, trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> str:
    """What a per-address limit counts: the client address (an IPv6 /64), or inside a
    trusted network, where many people share one address, the pair (address, ``subject``)."""
    key = client_subject(ip)
    return f"{key}:{subject}" if in_networks(ip, trusted) else key


def in_networks(ip: str | None, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    """Whether ``ip`` lies in one of ``networks``."""
    if not ip or not networks:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def refuse_if_exhausted(limit: Limit) -> None:
    """429 when ``limit`` is used up now; nothing is taken either way (one script call)."""
    _run_reserve(limit, take=False)


def reserve(limit: Limit) -> None:
    """Take one slot of ``limit`` or raise 429 with the seconds until the window ends."""
    _run_reserve(limit, take=True)


def _run_reserve(limit: Limit, *, take: bool) -> None:
    keys = [limit.key, limit.refused_key]
    reply = script(_RESERVE)(keys=keys, args=[limit.attempts, limit.window_seconds, 1 if take else 0])
    if not reply[0]:
        raise refusal(reply[1], reply[2])


def refusal(ttl: int, first_in_window: int) -> RateLimitedError:
    """The 429 of RESERVE_FUNCTION's refusal, from the window's seconds left and whether it is the first."""
    return RateLimitedError(int(ttl), first_in_window=bool(first_in_window))


def record_failure(limit: Limit) -> None:
    """Count one failure against ``limit``; 429 instead when it is already used up.

    How a hot path limits only its failures: a success costs nothing (no
    reservation to refund, not even a look), a failure one script call.
    """
    reserve(limit)


def reserve_all(limits: list[Limit]) -> None:
    """Reserve each limit in turn; on a refusal, give back the slots already taken."""
    taken: list[Limit] = []
    try:
        for limit in limits:
            reserve(limit)
            taken.append(limit)
    except RateLimitedError:
        give_back_keys([limit.key for limit in taken])
        raise
    except Exception:
        _give_back_quietly([limit.key for limit in taken])
        raise


def give_back_keys(keys: Sequence[str]) -> None:
    """Give back one slot of each counter, named by its key (slots a later request settles:
    a second-factor challenge holds its password check's until the code opens a session)."""
    if not keys:
        return
    pipe = get_redis().pipeline(transaction=False)
    for key in keys:
        pipe.eval(_REFUND, 1, key)
    pipe.execute()


def _give_back_quietly(keys: Sequence[str]) -> None:
    """Give slots back on a request that is failing anyway; a second failure is only logged."""
    try:
        give_back_keys(keys)
    except Exception as error:
        if not is_dependency_failure(error):
            raise
        logger.warning("could not give back %d limit slot(s): %s", len(keys), type(error).__name__)


@dataclass
class Reservation:
    """Slots held by one request, until it keeps them (a failure) or gives them back."""

    limits: list[Limit]
    # Slots another request reserved that this one now settles (a spent second-factor challenge's).
    adopted: list[str] = field(default_factory=list)
    settled: bool = field(default=False)

    @property
    def keys(self) -> list[str]:
        """The counters the slots are in, for whatever will settle them later (:func:`give_back_keys`)."""
        return [*(limit.key for limit in self.limits), *self.adopted]

    def adopt(self, keys: Sequence[str]) -> None:
        """Take over slots held in the counters ``keys`` name: kept or given back with this request's own."""
        self.adopted.extend(keys)

    def give_back(self) -> None:
        """The attempt did not count (a session opened, a valid token): every slot, one round trip."""
        if not self.settled:
            self.settled = True
            give_back_keys(self.keys)

    def hand_over(self) -> None:
        """The slots are no longer this request's to give back, even on a failure: something
        that outlives it (a second-factor challenge, which remembered :attr:`keys`) holds them."""
        self.settled = True


@contextmanager
def held(limits: list[Limit]) -> Iterator[Reservation]:
    """Slots already reserved, for the block; a dependency outage inside it gives them back.

    A request answered 503 never happened as far as the limits are concerned:
    otherwise a ten-second database outage would leave every user of the
    venue's address locked out for the whole window afterwards.
    """
    reservation = Reservation(list(limits))
    try:
        yield reservation
    except Exception as error:
        if is_dependency_failure(error) and not reservation.settled:
            reservation.settled = True
            _give_back_quietly(reservation.keys)
        raise


@contextmanager
def reserved(limits: list[Limit]) -> Iterator[Reservation]:
    """Reserve ``limits`` (429 when one is used up), held for the block as :func:`held` says."""
    reserve_all(limits)
    with held(limits) as reservation:
        yield reservation


def mark(name: str, *, days: int) -> None:
    """Remember a fact (such as "this IP signed in to this account") for ``days``."""
    get_redis().set(Keys.rate_limit("mark", name), "1", ex=days * 86400)


def is_marked(name: str) -> bool:
    return bool(get_redis().exists(Keys.rate_limit("mark", name)))


def forget(names: Sequence[str]) -> None:
    """Drop remembered facts at once (one DEL per key: on a cluster they live in different slots)."""
    if not names:
        return
    pipe = get_redis().pipeline(transaction=False)
    for name in names:
        pipe.delete(Keys.rate_limit("mark", name))
    pipe.execute()
