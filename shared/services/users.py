"""User administration: list, view, create, update, deactivate, activate, verify, re-role, erase.

Every operation asks ``policy.decide`` first (404 when the target is not
visible to the caller, 403 when visible but not theirs to change), locks the
target row for the change, and writes an audit event with before/after in
the same transaction. An erased account stays visible (the audit log names
its id) and takes no change at all (409 ACCOUNT_ERASED).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, asc, desc, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from shared.config import get_settings
from shared.context import ClientInfo
from shared.database import unit_of_work, without_transaction
from shared.errors import (
    AuthenticationError,
    AuthorizationError,
    ConflictError,
    DuplicateEmailError,
    ErrorCode,
    NotFoundError,
    SessionEndedError,
)
from shared.failures import is_unique_violation
from shared.models import RoleName, User
from shared.models.user import UserSortField
from shared.security.passwords import hash_password
from shared.services import audit, erasure, user_state
from shared.services.accounts import mark_verified, queue_verification_email
from shared.services.audit import AuditEvent
from shared.services.event_assignments import end_assignments
from shared.services.paging import Page, read_page
from shared.services.policy import (
    EVENT_SCOPED_ROLES,
    Action,
    Party,
    decide,
    enforce,
    list_scope,
    may_assign,
    refuse_if_erased,
    require_action,
)
from shared.services.principal import Principal
from shared.services.reauthentication import check_own_password
from shared.services.sessions import SessionEndReason, revoke_user_sessions
from shared.services.sign_in import password_still_current


def snapshot(user: User) -> dict[str, Any]:
    """What an audit event says a user was (or became): role, NPO and the account flags."""
    return {
        "role": user.role,
        "npo_id": str(user.npo_id) if user.npo_id else None,
        "is_active": user.is_active,
        "email_verified": user.email_verified,
    }


def _load_for(db: DbSession, principal: Principal, user_id: uuid.UUID, action: Action, *, lock: bool) -> User:
    """The target, if the caller may see it (else 404) and act on it (else 403)."""
    target = db.get(User, user_id, with_for_update=lock)
    if target is None:
        raise NotFoundError("User not found.")
    enforce(decide(principal.party, action, Party.of(target)))
    if action is not Action.VIEW:
        refuse_if_erased(target)
    return target


# -- reading -------------------------------------------------------------------------


def get_user(principal: Principal, user_id: uuid.UUID, client: ClientInfo) -> User:
    with audit.refusals_recorded(principal, client, target_id=user_id), without_transaction() as db:
        return _load_for(db, principal, user_id, Action.VIEW, lock=False)


def get_me(principal: Principal) -> User:
    """The caller's own row: one primary-key read."""
    with without_transaction() as db:
        user = db.get(User, principal.user_id)
    if user is None:  # gone since the session was checked: as for any ended session
        raise SessionEndedError()
    return user


@dataclass(frozen=True, slots=True)
class UserFilter:
    """Which users a list shows (each None: no condition). ``search`` is a prefix."""

    role: RoleName | None = None
    npo_id: uuid.UUID | None = None
    email_verified: bool | None = None
    is_active: bool | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class UserOrder:
    field: UserSortField = UserSortField.CREATED_AT
    descending: bool = True


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(principal: Principal, filters: UserFilter) -> Select[User]:
    statement = select(User)
    scope = list_scope(principal.party)
    if scope is not None:
        statement = statement.where(User.npo_id == scope)
    if filters.role is not None:
        statement = statement.where(User.role == filters.role.value)
    if filters.npo_id is not None:
        statement = statement.where(User.npo_id == filters.npo_id)
    if filters.email_verified is not None:
        statement = statement.where(User.email_verified == filters.email_verified)
    if filters.is_active is not None:
        statement = statement.where(User.is_active == filters.is_active)
    if filters.search:
        # Prefix match, case-insensitive, on indexed lower(...) columns (text_pattern_ops).
        prefix = _escape_like(filters.search.lower()) + "%"
        statement = statement.where(
            or_(
                User.email.like(prefix, escape="\\"),
                func.lower(User.first_name).like(prefix, escape="\\"),
                func.lower(User.last_name).like(prefix, escape="\\"),
            )
        )
    return statement


def list_users(
    principal: Principal, filters: UserFilter, order: UserOrder, page: Page, client: ClientInfo
) -> tuple[list[User], int]:
    """A page of the users the caller may see, and how many there are in all."""
    with audit.refusals_recorded(principal, client):
        require_action(RoleName(principal.role), Action.LIST)
    statement = _filtered(principal, filters)
    column = getattr(User, order.field.value)
    ordering = desc(column).nulls_last() if order.descending else asc(column).nulls_last()
    with without_transaction() as db:
        return read_page(db, statement, (ordering, User.id), page)


# -- creating --------------------------------------------------------------------------


def create_user(principal: Principal, fields: dict[str, Any], password: str, client: ClientInfo) -> User:
    """An account made by an admin with a temporary password; its verification email is queued.

    Without a password there is no account yet: ``POST /api/v1/users`` invites
    the person instead (``invitations.invite``), the one way to invite.
    """
    role = RoleName(fields["role"])
    with audit.refusals_recorded(principal, client):
        require_action(RoleName(principal.role), Action.CREATE)
        if not may_assign(principal.party, role, fields.get("npo_id")):
            raise AuthorizationError("You may not create a user with this role or NPO.")
    settings = get_settings()
    password_hash = hash_password(password, settings.bcrypt_rounds)
    try:
        with unit_of_work() as db:
            user = User(
                **{**fields, "role": role.value},
                password_hash=password_hash,
                email_verified=False,
                is_active=False,
                password_changed_at=datetime.now(UTC),
                # A password an administrator chose is theirs too: the holder must replace it.
                password_change_required=True,
            )
            db.add(user)
            db.flush()
            queue_verification_email(db, settings, user)
            audit.record_on(db, AuditEvent.USER_CREATED, client, principal, user, after=snapshot(user), invited=False)
    except IntegrityError as error:
        if is_unique_violation(error):
            raise DuplicateEmailError() from None
        raise
    return user


# -- changing --------------------------------------------------------------------------


def update_profile(principal: Principal, user_id: uuid.UUID, changes: dict[str, Any], client: ClientInfo) -> User:
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        target = _load_for(db, principal, user_id, Action.UPDATE, lock=True)
        before = {name: getattr(target, name) for name in changes}
        for name, value in changes.items():
            setattr(target, name, value)
        audit.record_on(
            db,
            AuditEvent.USER_UPDATED,
            client,
            principal,
            target,
            fields=sorted(changes),
            changed=[n for n in changes if before[n] != changes[n]],
        )
    return target


def update_own_profile(principal: Principal, changes: dict[str, Any]) -> User:
    with unit_of_work() as db:
        user = db.get(User, principal.user_id, with_for_update=True)
        if user is None:
            raise SessionEndedError()
        for name, value in changes.items():
            setattr(user, name, value)
    return user


def _active_super_admins(db: DbSession) -> list[uuid.UUID]:
    """Lock every active super admin: two admins demoting each other cannot both pass."""
    return list(
        db.scalars(
            select(User.id)
            .where(User.role == RoleName.SUPER_ADMIN.value, User.is_active.is_(True))
            .order_by(User.id)
            .with_for_update()
        )
    )


def _guard_last_super_admin(db: DbSession, target: User) -> None:
    if target.role != RoleName.SUPER_ADMIN.value or not target.is_active:
        return
    if _active_super_admins(db) == [target.id]:
        raise ConflictError("The last active super admin must stay.", code=ErrorCode.LAST_SUPER_ADMIN)


def deactivate(principal: Principal, user_id: uuid.UUID, client: ClientInfo) -> None:
    """Soft-deactivate; every session of the target ends at once."""
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        if principal.role == RoleName.SUPER_ADMIN.value:
            _active_super_admins(db)
        target = _load_for(db, principal, user_id, Action.DEACTIVATE, lock=True)
        _guard_last_super_admin(db, target)
        before = snapshot(target)
        target.is_active = False
        if target.deactivated_at is None:
            target.deactivated_at = datetime.now(UTC)
            target.deactivated_by_role = principal.role
        user_state.invalidate(db, [target.id])
        ended = revoke_user_sessions(db, target.id, SessionEndReason.DEACTIVATED)
        audit.record_on(
            db,
            AuditEvent.USER_DEACTIVATED,
            client,
            principal,
            target,
            before=before,
            after=snapshot(target),
            sessions_ended=len(ended),
        )


def activate(principal: Principal, user_id: uuid.UUID, client: ClientInfo) -> User:
    """Undo a deactivation; the account is active again once its email is verified."""
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        target = _load_for(db, principal, user_id, Action.ACTIVATE, lock=True)
        if target.deactivated_by_role == RoleName.SUPER_ADMIN.value and principal.role != RoleName.SUPER_ADMIN.value:
            raise AuthorizationError("A super admin deactivated this account; only a super admin can reactivate it.")
        before = snapshot(target)
        target.deactivated_at = None
        target.deactivated_by_role = None
        target.is_active = target.email_verified
        user_state.invalidate(db, [target.id])
        audit.record_on(db, AuditEvent.USER_ACTIVATED, client, principal, target, before=before, after=snapshot(target))
    return target


def verify_email_by_admin(principal: Principal, user_id: uuid.UUID, client: ClientInfo) -> User:
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        target = _load_for(db, principal, user_id, Action.VERIFY_EMAIL, lock=True)
        before = snapshot(target)
        mark_verified(target)
        user_state.invalidate(db, [target.id])
        audit.record_on(
            db,
            AuditEvent.USER_EMAIL_VERIFIED_BY_ADMIN,
            client,
            principal,
            target,
            before=before,
            after=snapshot(target),
        )
    return target


def apply_role(
    db: DbSession,
    target: User,
    role: RoleName,
    npo_id: uuid.UUID | None,
    *,
    client: ClientInfo,
    actor_id: uuid.UUID,
    **details: Any,
) -> None:
    """Give ``target`` (its row locked) ``role`` in ``npo_id``, audited as ``actor_id``'s act:
    the change (before, after and ``details``), and the events it ended if any.

    Assignments the new role or NPO no longer covers end, and the cached
    state is dropped before the commit: the change bites on the target's very
    next request.
    """
    before = snapshot(target)
    left = _leave_events_if_no_longer_theirs(db, target, role, npo_id)
    target.role = role.value
    target.npo_id = npo_id
    user_state.invalidate(db, [target.id])
    on_target = {"actor_id": actor_id, "target_id": target.id, "npo_id": target.npo_id}
    if left:
        unassigned = {"events": left, "reason": "role_changed"}
        audit.record(db, AuditEvent.EVENT_UNASSIGNED, client, **on_target, details=unassigned)
    changed = {"before": before, "after": snapshot(target), **details}
    audit.record(db, AuditEvent.USER_ROLE_CHANGED, client, **on_target, details=changed)


def _leave_events_if_no_longer_theirs(
    db: DbSession, target: User, role: RoleName, npo_id: uuid.UUID | None
) -> list[str]:
    """A role away from event work, or a move to another NPO, ends the user's assignments."""
    if role in EVENT_SCOPED_ROLES and npo_id == target.npo_id:
        return []
    return sorted(str(event) for event in end_assignments(db, target))


def change_role(
    principal: Principal, user_id: uuid.UUID, role: RoleName, npo_id: uuid.UUID | None, client: ClientInfo
) -> User:
    """Takes effect on the target's very next request: the cached state is dropped before the commit."""
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        _active_super_admins(db)
        target = _load_for(db, principal, user_id, Action.CHANGE_ROLE, lock=True)
        if not may_assign(principal.party, role, npo_id):
            raise AuthorizationError("You may not assign this role or NPO.")
        if role is not RoleName.SUPER_ADMIN:
            _guard_last_super_admin(db, target)
        apply_role(db, target, role, npo_id, client=client, actor_id=principal.user_id)
    return target


# -- erasing -------------------------------------------------------------------------


def erase_user(principal: Principal, user_id: uuid.UUID, client: ClientInfo) -> None:
    """A super admin erases another user's personal data; every session of theirs ends at once."""
    with audit.refusals_recorded(principal, client, target_id=user_id), unit_of_work() as db:
        if principal.role == RoleName.SUPER_ADMIN.value:
            _active_super_admins(db)
        target = _load_for(db, principal, user_id, Action.ERASE, lock=True)
        _erase(db, principal, target, client, own=False)


def erase_self(principal: Principal, password: str, client: ClientInfo) -> None:
    """The caller erases their own account, proven with their password (counted like a password change).

    The password checked must still be the account's when its row is locked:
    a change that committed in between wins, as at sign-in (a rehash at a new
    cost changes only the hash, a change or reset also the time it was set).
    """
    settings = get_settings()
    checked = check_own_password(settings, principal.user_id, password, "The password is not correct.")
    with unit_of_work() as db:
        if principal.role == RoleName.SUPER_ADMIN.value:
            _active_super_admins(db)
        user = db.get(User, principal.user_id, with_for_update=True)
        if user is None or user.erased_at is not None or not password_still_current(user, checked):
            raise AuthenticationError("The password is not correct.", code=ErrorCode.INVALID_CREDENTIALS)
        _erase(db, principal, user, client, own=True)


def _erase(db: DbSession, principal: Principal, target: User, client: ClientInfo, *, own: bool) -> None:
    """Wipe, drop the cached state, audit, then scrub the trail: all before the one commit."""
    _guard_last_super_admin(db, target)
    wiped = erasure.wipe(db, target, principal.role)
    user_state.invalidate(db, [target.id])
    audit.record_on(
        db,
        AuditEvent.USER_ERASED,
        client,
        principal,
        target,
        own=own,
        sessions_ended=wiped.sessions_ended,
        events_left=wiped.events_left,
        emails_deleted=wiped.emails_deleted,
        invitations_deleted=wiped.invitations_deleted,
    )
    db.flush()
    erasure.scrub_audit_trail(db, target.id)
