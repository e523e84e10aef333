"""Queue a message in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session as DbSession

from shared.models import EmailOutbox
from shared.services.email.templates import RenderedEmail


def enqueue(db: DbSession, to_address: str, message: RenderedEmail) -> None:
    """The message is sent only if the surrounding transaction commits."""
    db.add(
        EmailOutbox(
            to_address=to_address,
            subject=message.subject,
            text_body=message.text,
            html_body=message.html,
            template=message.template.value,
        )
    )
