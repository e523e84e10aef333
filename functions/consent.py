"""/api/v1/legal-documents and /api/v1/users/me/consents: the documents, and each user's consent to them."""

from __future__ import annotations

import azure.functions as func

from shared.context import ClientInfo
from shared.errors import ErrorCode
from shared.http.endpoint import Reply, endpoint
from shared.models import DocumentKind
from shared.schemas.legal import (
    ConsentHistoryOut,
    ConsentOut,
    DocumentRef,
    LegalDocumentList,
    LegalDocumentOut,
    PublishRequest,
)
from shared.services import consents, legal_documents
from shared.services.principal import Principal
from shared.services.sign_in_state import CONSENTS_ROUTE, PendingStep

bp = func.Blueprint()  # type: ignore[no-untyped-call]

DOCUMENTS = "api/v1/legal-documents"
CONSENTS = CONSENTS_ROUTE
TAGS = ("consent",)
# A user who owes a consent may always see, give and withdraw theirs.
OWING = (PendingStep.CONSENT,)


@endpoint(
    bp,
    "GET",
    DOCUMENTS,
    name="legal_documents_current",
    summary="The current legal documents",
    tags=TAGS,
    response_model=LegalDocumentList,
)
def current_documents() -> LegalDocumentList:
    """The current version of each kind published (none before the first): what a sign-up accepts."""
    return LegalDocumentList(items=[LegalDocumentOut.model_validate(doc) for doc in legal_documents.current()])


@endpoint(
    bp,
    "PUT",
    f"{DOCUMENTS}/{{kind}}",
    name="legal_documents_publish",
    summary="Publish a version of a legal document",
    tags=TAGS,
    response_model=LegalDocumentOut,
    status=201,
    also_succeeds_with=(200,),
    auth=True,
    errors=(ErrorCode.FORBIDDEN, ErrorCode.DOCUMENT_VERSION_CONFLICT),
    recent_auth=True,
)
def publish(kind: DocumentKind, body: PublishRequest, caller: Principal, client: ClientInfo) -> Reply:
    """super_admin. 201: the new current version (with `requires_reconsent`, everyone signed in must accept it
    on their next request); 200: it already was, with these fields. A version published before with other
    fields, or no longer current, is 409 DOCUMENT_VERSION_CONFLICT: publish a new version."""
    done = legal_documents.publish(
        caller, kind, body.version, url=body.url, requires_reconsent=body.requires_reconsent, client=client
    )
    return Reply(LegalDocumentOut.model_validate(done.document), status=201 if done.created else 200)


@endpoint(
    bp,
    "GET",
    CONSENTS,
    name="consents_mine",
    summary="My consents, and what I owe",
    tags=TAGS,
    response_model=ConsentHistoryOut,
    auth=True,
    allowed_despite=OWING,
)
def my_consents(caller: Principal) -> ConsentHistoryOut:
    """Every acceptance and withdrawal (with the address and browser it came from), oldest first, and the
    documents to accept before anything else answers."""
    found = consents.history(caller)
    return ConsentHistoryOut(
        items=[ConsentOut.model_validate(item) for item in found.items],
        owed=[LegalDocumentOut.model_validate(doc) for doc in found.owed],
    )


@endpoint(
    bp,
    "POST",
    CONSENTS,
    name="consents_accept",
    summary="Accept a legal document",
    tags=TAGS,
    response_model=ConsentOut,
    status=201,
    also_succeeds_with=(200,),
    auth=True,
    allowed_despite=OWING,
)
def accept(body: DocumentRef, caller: Principal, client: ClientInfo) -> Reply:
    """The current version only (422 otherwise); it counts from this request on. 200 when it was already
    my latest acceptance."""
    consent, created = consents.accept(caller, body.kind, body.version, client)
    return Reply(ConsentOut.model_validate(consent), status=201 if created else 200)


@endpoint(
    bp,
    "DELETE",
    f"{CONSENTS}/{{kind}}",
    name="consents_withdraw",
    summary="Withdraw my consent to a legal document",
    tags=TAGS,
    status=204,
    auth=True,
    errors=(ErrorCode.NOT_FOUND,),
    allowed_despite=OWING,
)
def withdraw(kind: DocumentKind, caller: Principal, client: ClientInfo) -> None:
    """Recorded like an acceptance; until the current version is accepted again, only GET /users/me, the
    consent routes, logout, the own-session routes and the personal-data routes answer (403 CONSENT_REQUIRED).
    404 when there is no consent to withdraw."""
    consents.withdraw(caller, kind, client)
