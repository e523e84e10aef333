"""Consent to the legal documents: at sign-up, accepting, withdrawing, and each user's history.

Every acceptance and withdrawal is a row of ``consents`` (kind, version,
action, time, IP address, user agent), never changed afterwards: the
history is the proof. A user accepts the current version of a kind only;
accepting what they already accepted answers the row they have. Withdrawing
a kind records a withdrawal of the version they last accepted, and until
they accept the current version again they owe it (``owed_consents``): every
route but the few that stay open answers 403 CONSENT_REQUIRED.

Accepting or withdrawing changes what the user owes, so it follows the
cached state's rule (``user_state``): the user's row locked, the cached state
dropped before the commit. The next request sees the change.

:func:`accept_at_sign_up` is the one way a new account records the documents
it accepted (registration; invitation acceptance for a new account): every
published kind's current version, named in ``accepted_documents``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import NotFoundError, SessionEndedError, ValidationFailedError
from shared.models import Consent, ConsentAction, DocumentKind, LegalDocument, LegalDocumentKind, User
from shared.services import audit, user_state
from shared.services.audit import AuditEvent
from shared.services.legal_documents import current_documents
from shared.services.owed_consents import owes
from shared.services.principal import Principal

# The field of a sign-up body that names the documents accepted, and the 422 types it can fail with.
SIGN_UP_FIELD = "accepted_documents"
CONSENT_REQUIRED_TYPE = "consent_required"
NOT_CURRENT_TYPE = "version_not_current"


class DocumentRef(Protocol):
    """A version of a kind of document, as a caller names it (a request body's entry)."""

    @property
    def kind(self) -> DocumentKind: ...

    @property
    def version(self) -> str: ...


@dataclass(frozen=True)
class ConsentHistory:
    """A user's acceptances and withdrawals, oldest first, and the documents they owe now."""

    items: list[Consent]
    owed: list[LegalDocument]


def accept_at_sign_up(db: DbSession, user: User, accepted: Sequence[DocumentRef], client: ClientInfo) -> None:
    """Record a new account's acceptances, in the transaction that creates it.

    422 (``details.fields``, nothing written) unless ``accepted`` names the
    current version of every kind that has one published (type
    ``consent_required`` on ``accepted_documents``) and nothing that is not
    current (type ``version_not_current`` on the entry). With nothing
    published, nothing is required.
    """
    current = _current_versions(db)
    problems = _sign_up_problems(current, accepted)
    if problems:
        raise ValidationFailedError(details={"fields": problems})
    for kind in sorted({ref.kind for ref in accepted}):
        _record(db, user.id, kind, current[kind], action=ConsentAction.ACCEPTED, client=client)
        audit.record_own(db, AuditEvent.CONSENT_ACCEPTED, client, user, kind=kind.value, version=current[kind])


def accept(principal: Principal, kind: DocumentKind, version: str, client: ClientInfo) -> tuple[Consent, bool]:
    """Accept the current ``version`` of ``kind`` (422 for any other); True when newly recorded,
    False when it was the caller's latest acceptance already."""
    with unit_of_work() as db:
        user = _locked_caller(db, principal)
        current = _current_versions(db).get(kind)
        if current != version:
            raise _not_current("version", kind, current)
        latest = _latest(db, user.id, kind)
        if latest is not None and latest.action == ConsentAction.ACCEPTED and latest.version == version:
            return latest, False
        consent = _record(db, user.id, kind, version, action=ConsentAction.ACCEPTED, client=client)
        audit.record_by_caller(db, AuditEvent.CONSENT_ACCEPTED, client, principal, kind=kind.value, version=version)
        user_state.invalidate(db, [user.id])
    return consent, True


def withdraw(principal: Principal, kind: DocumentKind, client: ClientInfo) -> Consent:
    """Withdraw the caller's consent to ``kind`` (404 when they have none to withdraw)."""
    with unit_of_work() as db:
        user = _locked_caller(db, principal)
        latest = _latest(db, user.id, kind)
        if latest is None or latest.action != ConsentAction.ACCEPTED:
            raise NotFoundError("You have no consent to this document to withdraw.")
        consent = _record(db, user.id, kind, latest.version, action=ConsentAction.WITHDRAWN, client=client)
        audit.record_by_caller(
            db, AuditEvent.CONSENT_WITHDRAWN, client, principal, kind=kind.value, version=latest.version
        )
        user_state.invalidate(db, [user.id])
    return consent


def history(principal: Principal) -> ConsentHistory:
    """The caller's consents in the order they were given or withdrawn, and what they owe now."""
    with without_transaction() as db:
        return ConsentHistory(
            items=history_of(db, principal.user_id),
            owed=list(db.scalars(current_documents().where(owes(principal.user_id)))),
        )


def history_of(db: DbSession, user_id: uuid.UUID) -> list[Consent]:
    """Every acceptance and withdrawal of the user, oldest first (also the export's)."""
    return list(db.scalars(select(Consent).where(Consent.user_id == user_id).order_by(Consent.at, Consent.id)))


def _current_versions(db: DbSession) -> dict[DocumentKind, str]:
    """The current version of each kind that has one published."""
    rows = db.execute(select(LegalDocumentKind.kind, LegalDocumentKind.current_version))
    return {DocumentKind(kind): version for kind, version in rows if version is not None}


def _sign_up_problems(current: dict[DocumentKind, str], accepted: Sequence[DocumentRef]) -> list[dict[str, str]]:
    """What is wrong with a sign-up's ``accepted_documents``, as 422 field entries (none: nothing)."""
    problems = []
    named = {ref.kind for ref in accepted if current.get(ref.kind) == ref.version}
    missing = [kind.value.replace("_", " ") for kind in sorted(current) if kind not in named]
    if missing:
        problems.append(
            {
                "field": SIGN_UP_FIELD,
                "message": "must accept the current " + " and ".join(missing),
                "type": CONSENT_REQUIRED_TYPE,
            }
        )
    for index, ref in enumerate(accepted):
        if current.get(ref.kind) != ref.version:
            problems.append(_not_current_field(f"{SIGN_UP_FIELD}.{index}.version", ref.kind, current.get(ref.kind)))
    return problems


def _not_current_field(field: str, kind: DocumentKind, current: str | None) -> dict[str, str]:
    what = f"the current version of {kind.value} is {current}" if current else f"no {kind.value} is published"
    return {"field": field, "message": f"not the current version: {what}", "type": NOT_CURRENT_TYPE}


def _not_current(field: str, kind: DocumentKind, current: str | None) -> ValidationFailedError:
    return ValidationFailedError(details={"fields": [_not_current_field(field, kind, current)]})


def _locked_caller(db: DbSession, principal: Principal) -> User:
    user = db.get(User, principal.user_id, with_for_update=True)
    if user is None:
        raise SessionEndedError()
    return user


def _latest(db: DbSession, user_id: uuid.UUID, kind: DocumentKind) -> Consent | None:
    return db.scalars(
        select(Consent)
        .where(Consent.user_id == user_id, Consent.kind == kind.value)
        .order_by(Consent.at.desc(), Consent.id.desc())
        .limit(1)
    ).first()


def _record(
    db: DbSession, user_id: uuid.UUID, kind: DocumentKind, version: str, *, action: ConsentAction, client: ClientInfo
) -> Consent:
    consent = Consent(
        user_id=user_id,
        kind=kind.value,
        version=version,
        action=action.value,
        ip_address=client.ip_address,
        user_agent=client.user_agent,
    )
    db.add(consent)
    db.flush()
    return consent
