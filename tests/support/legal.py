"""Legal documents in the suite's one database: whatever a test publishes is gone after it.

A published version changes every user: registration then requires accepting
it, and a version that requires reconsent blocks everyone signed in. So a test
that publishes starts and ends with nothing published (:func:`nothing_published`),
and the users signed in meanwhile have their cached state dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.accounts import Actor
from tests.support.database import owner_engine

DOCUMENTS = "/api/v1/legal-documents"
CONSENTS = "/api/v1/users/me/consents"


def withdraw_every_publication() -> None:
    """No version of any kind published, no consent recorded, no cached state computed with them."""
    import sqlalchemy as sa

    from shared.database import unit_of_work
    from shared.services import user_state

    with owner_engine().begin() as owner:  # as the owner: the runtime role may delete neither table
        owner.execute(sa.text("TRUNCATE consents, legal_documents"))
        owner.execute(
            sa.text("UPDATE legal_document_kinds SET revision = 0, current_version = NULL, reconsent_revision = NULL")
        )
    with unit_of_work() as db:
        user_state.invalidate_everyone_signed_in(db)


@contextmanager
def nothing_published() -> Iterator[None]:
    """A block that starts, and leaves the suite, with no legal document published."""
    withdraw_every_publication()
    try:
        yield
    finally:
        withdraw_every_publication()


def publish(admin: Actor, kind: str, version: str, *, reconsent: bool = False, url: str | None = None) -> Any:
    """PUT a version as ``admin`` (a super admin); the response."""
    body = {
        "version": version,
        "url": url or f"https://augeo.example/legal/{kind}/{version}",
        "requires_reconsent": reconsent,
    }
    return admin.request("PUT", f"{DOCUMENTS}/{kind}", json=body)


def accepted(*versions: tuple[str, str]) -> list[dict[str, str]]:
    """``accepted_documents`` naming these (kind, version) pairs."""
    return [{"kind": kind, "version": version} for kind, version in versions]
