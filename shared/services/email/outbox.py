"""Queue a message in the caller's transaction.

A message with a link is queued without its token: the row names whose link
it is (the user, or the invitation), the token's purpose, where the link
points and when it expires, and the drain mints the token when it sends
(``drain``). A token minted at request time would have to sit in the row,
readable to anyone who can read the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings
from shared.models import INVITATION_LINK, EmailOutbox, Invitation, TokenPurpose, User
from shared.services import user_tokens
from shared.services.email.templates import RenderedEmail, Template


@dataclass(frozen=True)
class LinkKind:
    """What a template's link is: the token's purpose (a user token's, or ``INVITATION_LINK``),
    the page it opens (the web app's address and the page's path, both settings), how long it lives."""

    purpose: str
    page: Callable[[Settings], str]
    lifetime: Callable[[Settings], timedelta]


LINK_KINDS: dict[Template, LinkKind] = {
    Template.VERIFY_EMAIL: LinkKind(
        TokenPurpose.EMAIL_VERIFICATION,
        lambda settings: f"{settings.frontend_donor_url}{settings.frontend_verify_email_path}",
        lambda settings: timedelta(hours=settings.email_verification_token_expire_hours),
    ),
    Template.INVITATION: LinkKind(
        INVITATION_LINK,
        lambda settings: f"{settings.frontend_admin_url}{settings.frontend_accept_invitation_path}",
        lambda settings: timedelta(days=settings.invitation_expire_days),
    ),
    Template.PASSWORD_RESET: LinkKind(
        TokenPurpose.PASSWORD_RESET,
        lambda settings: f"{settings.frontend_donor_url}{settings.frontend_reset_password_path}",
        lambda settings: timedelta(minutes=settings.password_reset_token_expire_minutes),
    ),
}


def addressed_to(user: User) -> ColumnElement[bool]:
    """The outbox rows that are this person's: queued for their account, or to their address.
    One condition, so what an export lists is what an erasure deletes."""
    return or_(EmailOutbox.user_id == user.id, EmailOutbox.to_address == user.email)


def _row(to_address: str, message: RenderedEmail, **link: Any) -> EmailOutbox:
    """The outbox row of ``message``; ``link``: whose link it carries, its purpose, target and expiry."""
    return EmailOutbox(
        to_address=to_address,
        subject=message.subject,
        text_body=message.text,
        html_body=message.html,
        template=message.template.value,
        **link,
    )


def enqueue(db: DbSession, to_address: str, message: RenderedEmail) -> None:
    """A message without a link; sent only if the surrounding transaction commits."""
    db.add(_row(to_address, message))


def enqueue_with_link(db: DbSession, settings: Settings, user: User, message: RenderedEmail) -> None:
    """A message whose link (to the template's page) is minted when it is sent.

    The link expires one lifetime after this call, however long the message
    waits in the outbox. Asking for a link kills the user's older links of the
    same purpose at once, as it did when tokens were minted at request time;
    an older one still unsent is cancelled by the drain.
    """
    kind = LINK_KINDS[message.template]
    purpose = TokenPurpose(kind.purpose)  # a user's link: an invitation's goes through enqueue_invitation
    user_tokens.revoke_unused(db, user.id, purpose)
    db.add(
        _row(
            user.email,
            message,
            user_id=user.id,
            token_purpose=purpose.value,
            link_url=kind.page(settings),
            expires_at=datetime.now(UTC) + kind.lifetime(settings),
        )
    )


def enqueue_invitation(db: DbSession, settings: Settings, invitation: Invitation, message: RenderedEmail) -> None:
    """An invitation's email, its link (the admin app's accept page) minted when it is sent.

    The link lives until the invitation expires. The caller has killed the
    invitation's previous link (``token_hash`` NULL); an older message still
    unsent is cancelled by the drain.
    """
    kind = LINK_KINDS[message.template]
    db.add(
        _row(
            invitation.email,
            message,
            invitation_id=invitation.id,
            token_purpose=kind.purpose,
            link_url=kind.page(settings),
            expires_at=invitation.expires_at,
        )
    )
