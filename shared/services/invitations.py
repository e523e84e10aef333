"""Invitations: an administrator brings a person in by email, whether or not they have an account.

- **Invite** (:func:`invite`; also ``POST /api/v1/users`` without a password,
  the one way to invite): the creation and rank rules of user creation
  (``policy.may_assign``); one pending invitation per (address, NPO): asking
  again answers the pending one and sends it again, within the per-mailbox
  limit. Limited per inviter.
- **List, re-send, revoke**: whoever sees the NPO's users sees its
  invitations (``policy.decide_invitation``); re-sending gives a new link and
  a new expiry (the old link dies at once), revoking kills the link.
- **Inspect and accept** (the accept page, with the token from the email):
  for a new address the person chooses a password and the account is created
  verified and active (the link proved the address), with a session; for an
  existing account the person must be signed in as it, and the invitation's
  role and NPO become theirs (409 ``ROLE_CONFLICT`` when they hold a role in
  another NPO, or a higher one). The token is spent by one conditional
  UPDATE, so of two racing acceptances one wins. Both are limited like the
  other emailed tokens.

Every step is audited. Expiry is by the app's clock (``shared.clock``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from shared.config import Settings, get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import (
    AuthenticationError,
    AuthorizationError,
    BadRequestError,
    ConflictError,
    DuplicateEmailError,
    ErrorCode,
    NotFoundError,
    RateLimitedError,
    SessionEndedError,
    ValidationFailedError,
)
from shared.failures import is_unique_violation
from shared.models import NPO_SCOPED_ROLES, Invitation, InvitationState, InvitationStatus, RoleName, User
from shared.models.invitation import app_now
from shared.security.password_policy import is_personal
from shared.security.passwords import hash_password
from shared.services import audit, consents, invitation_tokens, rate_limits, sign_in, users
from shared.services.accounts import token_attempts
from shared.services.audit import AuditEvent
from shared.services.email import templates
from shared.services.email.outbox import LINK_KINDS, enqueue_invitation
from shared.services.paging import Page, read_page
from shared.services.password_changes import personal_password_refusal
from shared.services.policy import RANK, Action, decide_invitation, enforce, list_scope, may_assign, require_action
from shared.services.principal import Principal
from shared.services.rate_limits import Limit, Rule
from shared.services.sign_in import SignedIn
from shared.services.sign_in_state import AuthenticationMethod


def _invalid_link() -> BadRequestError:
    """400 INVALID_TOKEN for a link that opens no pending invitation."""
    return BadRequestError("The invitation link is invalid, used, revoked or expired.", code=ErrorCode.INVALID_TOKEN)


@dataclass(frozen=True)
class Invited:
    """The invitation an invite answers: new (``created``), or the one already pending."""

    invitation: Invitation
    created: bool


@dataclass(frozen=True)
class InvitationFilter:
    npo_id: uuid.UUID | None = None
    status: InvitationStatus | None = None


@dataclass(frozen=True)
class Preview:
    """What the accept page shows before the person acts."""

    email: str
    role: str
    npo_id: uuid.UUID | None
    invited_by_name: str | None
    expires_at: datetime
    account_exists: bool


@dataclass(frozen=True)
class Accepted:
    """The account that accepted; for a new one, its session too."""

    user: User
    session: SignedIn | None


# -- inviting ---------------------------------------------------------------------------------


def invite(principal: Principal, fields: dict[str, Any], client: ClientInfo) -> Invited:
    """Invite ``fields["email"]`` to ``fields["role"]`` (in ``fields["npo_id"]``); see the module docstring."""
    role = RoleName(fields["role"])
    with audit.refusals_recorded(principal, client):
        require_action(principal.role, Action.CREATE)
        if not may_assign(principal.party, role, fields.get("npo_id")):
            raise AuthorizationError("You may not invite someone to this role or NPO.")
    settings = get_settings()
    per_inviter = rate_limits.limit(settings, Rule.INVITATIONS_PER_USER, user_id=principal.user_id)
    with rate_limits.reserved([per_inviter]):
        try:
            return _invite(settings, principal, fields, client)
        except IntegrityError as error:
            if not is_unique_violation(error):
                raise
        # A concurrent request made the pending invitation first: answer that one.
        return _invite(settings, principal, fields, client)


def _pending_for(email: str, npo_id: uuid.UUID | None) -> Select[Invitation]:
    same_npo = Invitation.npo_id.is_(None) if npo_id is None else Invitation.npo_id == npo_id
    return select(Invitation).where(
        Invitation.email == email, same_npo, Invitation.state == InvitationState.PENDING.value
    )


def _invite(settings: Settings, principal: Principal, fields: dict[str, Any], client: ClientInfo) -> Invited:
    email, npo_id = fields["email"], fields.get("npo_id")
    with without_transaction() as db:
        asked_before = db.scalar(select(exists(_pending_for(email, npo_id))))
    again = _resend_slot(settings, email) if asked_before else None
    with rate_limits.held([again] if again else []), unit_of_work() as db:
        pending = db.scalars(_pending_for(email, npo_id).with_for_update()).one_or_none()
        if pending is not None:
            if again is not None:
                _send(db, settings, pending)
                _record(db, AuditEvent.INVITATION_RESENT, client, principal, pending, invited_again=True)
            return Invited(pending, created=False)
        invitation = Invitation(
            **{**fields, "role": RoleName(fields["role"]).value},
            invited_by=principal.user_id,
            expires_at=_expiry(settings),
        )
        db.add(invitation)
        db.flush()
        _queue_email(db, settings, invitation)
        _record(db, AuditEvent.INVITATION_CREATED, client, principal, invitation, role=invitation.role)
    return Invited(invitation, created=True)


def _resend_slot(settings: Settings, email: str) -> Limit | None:
    """A slot of the mailbox's re-send limit, or None when it is used up (then nothing is sent)."""
    slot = rate_limits.limit(settings, Rule.INVITATION_RESEND_PER_MAILBOX, account=email)
    try:
        rate_limits.reserve(slot)
    except RateLimitedError:
        return None
    return slot


def _expiry(settings: Settings) -> datetime:
    return app_now() + LINK_KINDS[templates.Template.INVITATION].lifetime(settings)


def _send(db: DbSession, settings: Settings, invitation: Invitation) -> None:
    """A fresh expiry and a new email; the previous link dies now, the new one is minted when sent."""
    invitation.expires_at = _expiry(settings)
    invitation.token_hash = None
    _queue_email(db, settings, invitation)


def _queue_email(db: DbSession, settings: Settings, invitation: Invitation) -> None:
    """The invitation's email, its link minted when it is sent (it lives until ``expires_at``)."""
    message = templates.invitation(_inviter_name(db, invitation), RoleName(invitation.role))
    enqueue_invitation(db, settings, invitation, message)


def _inviter_name(db: DbSession, invitation: Invitation) -> str | None:
    """Who sent the invitation, as the email and the accept page name them (None once erased)."""
    inviter = db.get(User, invitation.invited_by) if invitation.invited_by else None
    if inviter is None:
        return None
    return f"{inviter.first_name} {inviter.last_name}".strip() or None


def _record(
    db: DbSession,
    event: AuditEvent,
    client: ClientInfo,
    principal: Principal,
    invitation: Invitation,
    **details: Any,
) -> None:
    """An administrator's step on an invitation: ids only (never the address), in the invitation's NPO."""
    audit.record(
        db,
        event,
        client,
        actor_id=principal.user_id,
        npo_id=invitation.npo_id,
        details={"invitation_id": str(invitation.id), **details},
    )


# -- the administrators' list, re-send, revoke ------------------------------------------------------


def _status_is(status: InvitationStatus) -> ColumnElement[bool]:
    now = app_now()
    if status is InvitationStatus.PENDING:
        return and_(Invitation.state == InvitationState.PENDING.value, Invitation.expires_at > now)
    if status is InvitationStatus.EXPIRED:
        return and_(Invitation.state == InvitationState.PENDING.value, Invitation.expires_at <= now)
    return Invitation.state == status.value


def list_invitations(
    principal: Principal, filters: InvitationFilter, page: Page, client: ClientInfo
) -> tuple[list[Invitation], int]:
    """A page of the invitations the caller may see (newest first), and how many there are in all."""
    with audit.refusals_recorded(principal, client):
        require_action(principal.role, Action.LIST)
    statement = select(Invitation)
    scope = list_scope(principal.party)
    if scope is not None:
        statement = statement.where(Invitation.npo_id == scope)
    if filters.npo_id is not None:
        statement = statement.where(Invitation.npo_id == filters.npo_id)
    if filters.status is not None:
        statement = statement.where(_status_is(filters.status))
    with without_transaction() as db:
        return read_page(db, statement, (Invitation.created_at.desc(), Invitation.id.desc()), page)


def _load_for(db: DbSession, principal: Principal, invitation_id: uuid.UUID, *, lock: bool) -> Invitation:
    """The invitation, if the caller may see it (else 404) and manage it (else 403)."""
    invitation = db.get(Invitation, invitation_id, with_for_update=lock)
    if invitation is None:
        raise NotFoundError("Invitation not found.")
    decision = decide_invitation(principal.party, RoleName(invitation.role), invitation.npo_id)
    enforce(decision, "You may not manage this invitation.", not_found_message="Invitation not found.")
    return invitation


def _refuse_unless_pending(invitation: Invitation) -> None:
    """Accepted or revoked: nothing to send or revoke (an expired one may be sent again)."""
    if invitation.state != InvitationState.PENDING.value:
        raise ConflictError(f"The invitation was {invitation.state}.", code=ErrorCode.INVITATION_NOT_PENDING)


def resend(principal: Principal, invitation_id: uuid.UUID, client: ClientInfo) -> Invitation:
    """A new link and a new expiry; the old link dies at once. Counts against the inviter's limit
    and the mailbox's re-send limit (429 over either)."""
    settings = get_settings()
    with audit.refusals_recorded(principal, client), without_transaction() as db:
        email = _load_for(db, principal, invitation_id, lock=False).email
    limits = [
        rate_limits.limit(settings, Rule.INVITATIONS_PER_USER, user_id=principal.user_id),
        rate_limits.limit(settings, Rule.INVITATION_RESEND_PER_MAILBOX, account=email),
    ]
    with rate_limits.reserved(limits), unit_of_work() as db:
        invitation = _load_for(db, principal, invitation_id, lock=True)
        _refuse_unless_pending(invitation)
        _send(db, settings, invitation)
        _record(db, AuditEvent.INVITATION_RESENT, client, principal, invitation, invited_again=False)
    return invitation


def revoke(principal: Principal, invitation_id: uuid.UUID, client: ClientInfo) -> None:
    """The link dies and the invitation can no longer be accepted; revoking a revoked one again is a no-op."""
    with audit.refusals_recorded(principal, client), unit_of_work() as db:
        invitation = _load_for(db, principal, invitation_id, lock=True)
        if invitation.state == InvitationState.REVOKED.value:
            return
        _refuse_unless_pending(invitation)
        invitation.state = InvitationState.REVOKED.value
        invitation.revoked_at = app_now()
        invitation.revoked_by = principal.user_id
        invitation.token_hash = None
        _record(db, AuditEvent.INVITATION_REVOKED, client, principal, invitation)


# -- the accept page: inspect, then accept --------------------------------------------------------


def _opened_by(token: str, client: ClientInfo) -> Invitation:
    """The pending invitation ``token`` opens, or 400 ``INVALID_TOKEN``.

    A bad token counts against the client address's limit of emailed-token
    attempts (as verification and reset links do); a good one gives its slot back.
    """
    with rate_limits.reserved([token_attempts(get_settings(), client)]) as attempt:
        invitation = invitation_tokens.find(token)
        if invitation is None:
            raise _invalid_link()
        attempt.give_back()
    return invitation


def inspect(token: str, client: ClientInfo) -> Preview:
    """What the invitation asks, and whether the address has an account (sign in) or not (choose a password)."""
    invitation = _opened_by(token, client)
    with without_transaction() as db:
        account_exists = bool(db.scalar(select(exists().where(User.email == invitation.email))))
        inviter = _inviter_name(db, invitation)
    return Preview(
        email=invitation.email,
        role=invitation.role,
        npo_id=invitation.npo_id,
        invited_by_name=inviter,
        expires_at=invitation.expires_at,
        account_exists=account_exists,
    )


def accept(
    token: str,
    caller: Principal | None,
    password: str | None,
    names: tuple[str | None, str | None],
    client: ClientInfo,
    *,
    accepted_documents: Sequence[consents.DocumentRef] = (),
) -> Accepted:
    """A new address: the account, signed in, having accepted ``accepted_documents`` (the legal
    documents published, as at registration). An existing account: the caller must be signed in as
    it, and takes the invitation's role and NPO. ``names``: the first and last name the person gave, if any."""
    invitation = _opened_by(token, client)
    with without_transaction() as db:
        account_id = db.scalar(select(User.id).where(User.email == invitation.email))
    if account_id is None:
        return _accept_with_new_account(
            token, invitation, password, names, client, accepted_documents=accepted_documents
        )
    return _accept_as_signed_in_account(token, account_id, caller, client)


def _accept_with_new_account(
    token: str,
    invitation: Invitation,
    password: str | None,
    names: tuple[str | None, str | None],
    client: ClientInfo,
    *,
    accepted_documents: Sequence[consents.DocumentRef],
) -> Accepted:
    settings = get_settings()
    first_name, last_name = names[0] or invitation.first_name, names[1] or invitation.last_name
    _require_for_a_new_account(password=password, first_name=first_name, last_name=last_name)
    assert password and first_name and last_name  # required just above
    if is_personal(password, invitation.email, first_name, last_name):
        raise personal_password_refusal("password")  # before the link is spent
    password_hash = hash_password(password, settings.bcrypt_rounds)
    try:
        with unit_of_work() as db:
            spent = invitation_tokens.spend(db, token)
            if spent is None:
                raise _invalid_link()
            user = _create_invited_account(db, spent, password_hash, first_name, last_name)
            consents.accept_at_sign_up(db, user, accepted_documents, client)  # 422: nothing spent
            spent.accepted_by = user.id
            _record_accepted(db, client, user, spent, new_account=True)
            tokens = sign_in.start_session(db, settings, user, client, (AuthenticationMethod.PASSWORD,))
    except IntegrityError as error:
        if is_unique_violation(error):  # the address registered in between: sign in, then accept
            raise DuplicateEmailError() from None
        raise
    sign_in.signed_in(user, client)
    return Accepted(user, SignedIn(tokens, user))


def _require_for_a_new_account(**values: str | None) -> None:
    """422 naming each of a new account's fields that neither the person nor the invitation gave."""
    missing = [name for name, value in values.items() if not value]
    if missing:
        fields = [{"field": name, "message": "required to create the account", "type": "missing"} for name in missing]
        raise ValidationFailedError(details={"fields": fields})


def _create_invited_account(
    db: DbSession, invitation: Invitation, password_hash: str, first_name: str, last_name: str
) -> User:
    """The account an invitation to a new address creates: verified and active (the link proved the
    address), with the invitation's role and NPO and the password the person chose."""
    now = app_now()
    user = User(
        email=invitation.email,
        first_name=first_name,
        last_name=last_name,
        phone=invitation.phone,
        role=invitation.role,
        npo_id=invitation.npo_id,
        password_hash=password_hash,
        password_changed_at=now,
        email_verified=True,
        email_verified_at=now,
        is_active=True,
    )
    db.add(user)
    db.flush()
    return user


def _accept_as_signed_in_account(
    token: str, account_id: uuid.UUID, caller: Principal | None, client: ClientInfo
) -> Accepted:
    if caller is None:
        raise AuthenticationError("This address has an account: sign in as it, then accept the invitation.")
    if caller.user_id != account_id:
        with audit.refusals_recorded(caller, client):
            raise AuthorizationError("This invitation is for another account: sign in as the invited address.")
    with unit_of_work() as db:
        user = db.get(User, account_id, with_for_update=True)
        if user is None or not user.is_active:
            raise SessionEndedError()
        spent = invitation_tokens.spend(db, token)
        if spent is None:
            raise _invalid_link()
        _refuse_role_conflict(user, spent)
        role = RoleName(spent.role)
        if (user.role, user.npo_id) != (role.value, spent.npo_id):
            users.apply_role(db, user, role, spent.npo_id, client=client, actor_id=user.id, invitation_id=str(spent.id))
        spent.accepted_by = user.id
        _record_accepted(db, client, user, spent, new_account=False)
    return Accepted(user, None)


def _refuse_role_conflict(user: User, invitation: Invitation) -> None:
    """409 when the invitation would move the account out of its NPO, or below its role."""
    held, invited = RoleName(user.role), RoleName(invitation.role)
    if held in NPO_SCOPED_ROLES and user.npo_id != invitation.npo_id:
        raise ConflictError(
            "Your account holds a role in another organisation; ask its administrator first.",
            code=ErrorCode.ROLE_CONFLICT,
        )
    if RANK[held] > RANK[invited]:
        raise ConflictError("Your account already holds a higher role.", code=ErrorCode.ROLE_CONFLICT)


def _record_accepted(
    db: DbSession, client: ClientInfo, user: User, invitation: Invitation, *, new_account: bool
) -> None:
    audit.record_own(
        db,
        AuditEvent.INVITATION_ACCEPTED,
        client,
        user,
        invitation_id=str(invitation.id),
        invited_by=str(invitation.invited_by) if invitation.invited_by else None,
        role=invitation.role,
        new_account=new_account,
    )
