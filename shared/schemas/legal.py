"""Bodies of the legal-document and consent routes, and the documents a sign-up accepts."""

from __future__ import annotations

from datetime import datetime

from pydantic import ConfigDict, Field, StrictBool

from shared.models.legal import ConsentAction, DocumentKind
from shared.schemas.common import RequestModel, ResponseModel
from shared.schemas.fields import DocumentUrl, DocumentVersion

# More than every kind twice over is no sign-up's list.
MAX_ACCEPTED_DOCUMENTS = 2 * len(DocumentKind)


class DocumentRef(RequestModel):
    """A version of a kind of document: what a caller accepts."""

    kind: DocumentKind
    version: DocumentVersion


class AcceptsDocuments(RequestModel):
    """A body that creates an account names the legal documents its person accepts."""

    accepted_documents: list[DocumentRef] = Field(
        default_factory=list,
        max_length=MAX_ACCEPTED_DOCUMENTS,
        description="The legal documents accepted (GET /api/v1/legal-documents): the current version of every "
        "kind published is required (422, type consent_required); with none published, nothing is.",
    )


class PublishRequest(RequestModel):
    version: DocumentVersion = Field(description="A label new for this kind (the same as the current one: a retry).")
    url: DocumentUrl = Field(description="Where the text of this version is published (https).")
    requires_reconsent: StrictBool = Field(
        description="A material change: everyone signed in must accept this version before going on."
    )


class LegalDocumentOut(ResponseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: DocumentKind
    version: str = Field(examples=["2026-05"])
    url: str
    requires_reconsent: bool
    published_at: datetime


class LegalDocumentList(ResponseModel):
    items: list[LegalDocumentOut]


class ConsentOut(ResponseModel):
    """One acceptance or withdrawal, with where it came from (the proof)."""

    model_config = ConfigDict(from_attributes=True)

    kind: DocumentKind
    version: str
    action: ConsentAction
    at: datetime
    ip_address: str | None
    user_agent: str | None


class ConsentHistoryOut(ResponseModel):
    items: list[ConsentOut] = Field(description="Every acceptance and withdrawal, oldest first.")
    owed: list[LegalDocumentOut] = Field(
        description="The documents to accept before the rest of the API answers (403 CONSENT_REQUIRED until then)."
    )
