"""Which consents a user owes, as SQL: the one rule, read wherever the caller's state is read.

A user owes a kind of document when a version of it is published and either

- their latest action on that kind is a withdrawal, or
- a version was published with ``requires_reconsent`` (the kind's
  ``reconsent_revision``) and they have accepted no version from that one on.

So a version published without ``requires_reconsent`` blocks no one (an
earlier acceptance still counts), and a user who never accepted anything is
blocked only once a version requiring it is published. What they owe is the
kind's current version: the one POST /api/v1/users/me/consents accepts.

The rule reads only the kind's row (what is current) and the user's own
consents. That is what lets a reader lock the kind rows (``FOR SHARE``) and,
having waited for a publication in flight, compute the rule on the rows it
committed (PostgreSQL re-reads a locked row that changed): see ``user_state``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import ColumnElement, ScalarSelect, SQLColumnExpression, and_, exists, func, literal, or_, select

from shared.models import Consent, ConsentAction, LegalDocument, LegalDocumentKind

# Between a kind and its version in the encoded form (a version label never holds it).
SEPARATOR = "="


@dataclass(frozen=True, slots=True, order=True)
class OwedConsent:
    """A document the user must accept (again): its kind and current version."""

    kind: str
    version: str

    def encoded(self) -> str:
        return f"{self.kind}{SEPARATOR}{self.version}"

    @classmethod
    def decoded(cls, text: str) -> OwedConsent:
        kind, _, version = text.partition(SEPARATOR)
        return cls(kind, version)


def owes(user_id: uuid.UUID | SQLColumnExpression[uuid.UUID]) -> ColumnElement[bool]:
    """Whether the user owes the kind of the ``legal_document_kinds`` row in the enclosing query."""
    kind = LegalDocumentKind
    latest_action = (
        select(Consent.action)
        .where(Consent.user_id == user_id, Consent.kind == kind.kind)
        .order_by(Consent.at.desc(), Consent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    accepted_since = exists().where(
        Consent.user_id == user_id,
        Consent.kind == kind.kind,
        Consent.action == ConsentAction.ACCEPTED.value,
        LegalDocument.kind == Consent.kind,
        LegalDocument.version == Consent.version,
        LegalDocument.revision >= kind.reconsent_revision,
    )
    withdrawn = func.coalesce(latest_action, "") == ConsentAction.WITHDRAWN.value
    outdated = and_(kind.reconsent_revision.is_not(None), ~accepted_since)
    return and_(kind.current_version.is_not(None), or_(withdrawn, outdated))


def owed_of(user_id: uuid.UUID | SQLColumnExpression[uuid.UUID]) -> ScalarSelect[list[str] | None]:
    """The user's owed consents, encoded (``kind=version``), as one array column (NULL when none);
    ``user_id`` may be a column, to correlate with an enclosing query. Reads what is committed
    (no lock): for an answer of this request only, never for the cache."""
    kind = LegalDocumentKind
    encoded = kind.kind + literal(SEPARATOR) + kind.current_version
    return select(func.array_agg(encoded)).where(owes(user_id)).scalar_subquery()


def decoded(values: list[str] | None) -> tuple[OwedConsent, ...]:
    """The owed consents of an encoded array column, in kind order."""
    return tuple(sorted(OwedConsent.decoded(value) for value in values or ()))
