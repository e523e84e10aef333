"""Which devices a user signed in from: the new-device email, and the addresses sign-in trusts.

- A sign-in from a device (IP address and user agent) that no session of the
  user had in the last NEW_DEVICE_LOOKBACK_DAYS is reported to them by email.
- An address that signed in to an account is remembered for as long (a digest
  of both, in Redis): failed sign-ins from it count only against the
  per-address limit, so guessing from fresh addresses cannot lock the owner
  out of a device they use. An erased account's addresses are forgotten.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from shared.context import ClientInfo
from shared.models import Session, User
from shared.services import rate_limits

# A sign-in is from a "new device" when no session of the user in this many
# days had the same IP address and the same user agent.
NEW_DEVICE_LOOKBACK_DAYS = 90


def is_new_device(db: DbSession, user: User, client: ClientInfo) -> bool:
    """New when earlier sessions exist but none recent had this IP and user agent.

    The very first sign-in of an account is not reported: the person just
    verified the address and there is nothing to compare with.
    """
    since = datetime.now(UTC) - timedelta(days=NEW_DEVICE_LOOKBACK_DAYS)
    recent = select(Session.ip_address, Session.user_agent).where(
        Session.user_id == user.id, Session.created_at >= since
    )
    seen = db.execute(recent.limit(500)).all()
    if not seen:
        return False
    return all((ip, agent) != (client.ip_address, client.user_agent) for ip, agent in seen)


def _marker(email: str, ip: str | None) -> str:
    return f"known:{rate_limits.subject_digest(email)}:{rate_limits.subject_digest(ip or 'unknown')}"


def remember_address(email: str, ip: str | None) -> None:
    """``ip`` signed in to ``email`` just now."""
    rate_limits.mark(_marker(email, ip), days=NEW_DEVICE_LOOKBACK_DAYS)


def is_known_address(email: str, ip: str | None) -> bool:
    """Whether ``ip`` signed in to ``email`` within the lookback."""
    return rate_limits.is_marked(_marker(email, ip))


def forget_addresses(email: str, ips: list[str | None]) -> None:
    """Forget that these addresses ever signed in to ``email`` (an erased account: the
    markers hold a digest of the address, and would favour whoever registers it next)."""
    rate_limits.forget([_marker(email, ip) for ip in ips])
