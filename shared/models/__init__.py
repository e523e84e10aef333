"""SQLAlchemy models; importing this package registers every table on ``Base.metadata``."""

from shared.models.audit_log import AuditLog
from shared.models.base import Base
from shared.models.email_outbox import DUE_STATUSES, INVITATION_LINK, EmailOutbox, OutboxStatus
from shared.models.event import Event
from shared.models.event_assignment import EventAssignment
from shared.models.invitation import Invitation, InvitationState, InvitationStatus
from shared.models.legal import Consent, ConsentAction, DocumentKind, LegalDocument, LegalDocumentKind
from shared.models.mfa import RecoveryCode, TotpFactor
from shared.models.role import NPO_SCOPED_ROLES, Role, RoleName, RoleScope
from shared.models.session import RefreshToken, Session
from shared.models.user import User
from shared.models.user_token import TokenPurpose, UserToken

__all__ = [
    "DUE_STATUSES",
    "INVITATION_LINK",
    "NPO_SCOPED_ROLES",
    "AuditLog",
    "Base",
    "Consent",
    "ConsentAction",
    "DocumentKind",
    "EmailOutbox",
    "Event",
    "EventAssignment",
    "Invitation",
    "InvitationState",
    "InvitationStatus",
    "LegalDocument",
    "LegalDocumentKind",
    "OutboxStatus",
    "RecoveryCode",
    "RefreshToken",
    "Role",
    "RoleName",
    "RoleScope",
    "Session",
    "TokenPurpose",
    "TotpFactor",
    "User",
    "UserToken",
]
