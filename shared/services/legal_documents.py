"""Legal documents: publishing a version (a super admin), and what is current.

The service keeps versions and URLs, never the text. A version is an opaque
label, unique within its kind; the latest published is the current one, and
POST /api/v1/users/me/consents accepts only it. Publishing is append-only:

- a new label: 201, it becomes current;
- the current label again with the same URL and ``requires_reconsent``: 200,
  nothing changes (a retried request is harmless);
- any other label already published (the current one with other fields, or
  an earlier one): 409 DOCUMENT_VERSION_CONFLICT. A published version is
  never rewritten and the current one never goes back: publish a new label.

A version published with ``requires_reconsent`` makes everyone accept again
(``owed_consents``): the publication takes the kind's row lock and, before it
commits, drops the cached state of every user with an open session, so each
one's very next request reads what they owe (``user_state``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, select

from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import AuthorizationError, ConflictError, DocumentVersionDetails, ErrorCode
from shared.models import DocumentKind, LegalDocument, LegalDocumentKind
from shared.services import audit, user_state
from shared.services.audit import AuditEvent
from shared.services.policy import PlatformAction, may_do
from shared.services.principal import Principal


@dataclass(frozen=True)
class Publication:
    """A version as published, and whether this request published it (False: it already was, the same)."""

    document: LegalDocument
    created: bool


def current_documents() -> Select[LegalDocument]:
    """The current version of each kind that has one, in kind order, as a query to refine."""
    kind = LegalDocumentKind
    return (
        select(LegalDocument)
        .join(kind, and_(kind.kind == LegalDocument.kind, kind.revision == LegalDocument.revision))
        .order_by(LegalDocument.kind)
    )


def current() -> list[LegalDocument]:
    """The current version of each kind that has one, in kind order."""
    with without_transaction() as db:
        return list(db.scalars(current_documents()))


def publish(
    principal: Principal, kind: DocumentKind, version: str, *, url: str, requires_reconsent: bool, client: ClientInfo
) -> Publication:
    """Publish ``version`` of ``kind`` (super admin); see the module's rules for a label already published."""
    with audit.refusals_recorded(principal, client):
        if not may_do(principal.role, PlatformAction.PUBLISH_LEGAL_DOCUMENTS):
            raise AuthorizationError("Only a super admin publishes legal documents.")
    with unit_of_work() as db:
        current_kind = db.get(LegalDocumentKind, kind.value, with_for_update=True)
        if current_kind is None:  # the migration seeds every kind
            raise LookupError(f"legal document kind {kind.value} is not seeded")
        published = db.scalars(
            select(LegalDocument).where(LegalDocument.kind == kind.value, LegalDocument.version == version)
        ).one_or_none()
        if published is not None:
            _refuse_unless_same_current(published, current_kind, url, requires_reconsent)
            return Publication(published, created=False)
        document = LegalDocument(
            kind=kind.value,
            revision=current_kind.revision + 1,
            version=version,
            url=url,
            requires_reconsent=requires_reconsent,
            published_by=principal.user_id,
        )
        db.add(document)
        current_kind.revision = document.revision
        current_kind.current_version = version
        if requires_reconsent:
            current_kind.reconsent_revision = document.revision
        db.flush()
        signed_in = user_state.invalidate_everyone_signed_in(db)
        audit.record(
            db,
            AuditEvent.DOCUMENT_PUBLISHED,
            client,
            actor_id=principal.user_id,
            npo_id=principal.npo_id,
            details={
                "kind": kind.value,
                "version": version,
                "revision": document.revision,
                "requires_reconsent": requires_reconsent,
                "users_signed_in": signed_in,
            },
        )
    return Publication(document, created=True)


def _refuse_unless_same_current(
    published: LegalDocument, current_kind: LegalDocumentKind, url: str, requires_reconsent: bool
) -> None:
    """409 unless ``published`` is the current version with exactly these fields (a retry)."""
    details = DocumentVersionDetails(
        kind=published.kind, version=published.version, current_version=current_kind.current_version
    )
    if published.revision != current_kind.revision:
        raise ConflictError(
            "That version was published before and is no longer current: publish a new version.",
            code=ErrorCode.DOCUMENT_VERSION_CONFLICT,
            details=details,
        )
    if (published.url, published.requires_reconsent) != (url, requires_reconsent):
        raise ConflictError(
            "That version is published with another URL or reconsent rule: publish a new version.",
            code=ErrorCode.DOCUMENT_VERSION_CONFLICT,
            details=details,
        )
