"""The live permission check other Augeo services call (``POST /api/v1/authz/check``).

Decided as of this request: the session (alive, not signed out), the user's
role, NPO and assignments, any step they still owe, and the NPO a named event is registered to (never
an ``npo_id`` the caller names with it). It costs one Redis round trip (the
session script, which also returns the user's cached state) and at most one
SQL statement to decide: none when the state is cached and nothing else is
needed (an assigned event is registered to its assignee's NPO); one when the
state is not cached, or when an NPO admin names an event (its registered
NPO), both read in that one statement. This route never caches a state it
read: that would be a second Redis round trip; the next ordinary request does
it. A refusal adds one audit statement (a row at most once per user,
permission and window).
"""

from __future__ import annotations

import uuid
from functools import cache

from sqlalchemy import ColumnElement, Select, Uuid, bindparam, literal, select

from shared.config import get_settings
from shared.context import ClientInfo
from shared.database import without_transaction
from shared.errors import SessionEndedError
from shared.models import Event, User
from shared.roles_and_permissions import CheckReason, Permission
from shared.services import audit, user_state
from shared.services.audit import AuditEvent
from shared.services.owed_consents import decoded, owed_of
from shared.services.policy import CheckResult, Party, Where, check_permission, needs_event_npo
from shared.services.principal import LiveSession
from shared.services.sign_in_state import first_owed, pending_steps
from shared.services.user_state import UserState


def check(
    live: LiveSession, permission: Permission, npo_id: uuid.UUID | None, event_id: uuid.UUID | None, client: ClientInfo
) -> CheckResult:
    """May the session's user exercise ``permission`` there, right now?"""
    where = Where(npo_id=npo_id, event_id=event_id)
    state = live.state
    if state is None or needs_event_npo(state.role, where):
        state, event_npo = _read(live.user_id, where, state)
        where = Where(npo_id=npo_id, event_id=event_id, event_npo_id=event_npo)
    owed = first_owed(pending_steps(state, get_settings().mfa_required_roles, live.amr))
    if owed is not None:
        result = CheckResult(False, owed.check_reason)
    else:
        party = Party(id=state.user_id, role=state.role, npo_id=state.npo_id)
        result = check_permission(party, state.events, permission, where)
    if not result.allowed:
        _audit_refusal(state, permission, where, result.reason, client)
    return result


def _event_npo() -> ColumnElement[uuid.UUID]:
    """The NPO the event is registered to, or NULL when it is not registered."""
    return select(Event.npo_id).where(Event.id == bindparam("event_id", type_=Uuid())).scalar_subquery()


@cache
def _event_npo_statement() -> Select[uuid.UUID | None]:
    """Built once, values bound per call: SQLAlchemy then skips rebuilding its cache key."""
    return select(_event_npo())


@cache
def _state_statement(
    with_event_npo: bool,
) -> Select[User, list[uuid.UUID] | None, uuid.UUID | None, list[str] | None]:
    """The user's row, events and owed consents, and the event's NPO when asked; built once per shape."""
    user_id = bindparam("user_id", type_=Uuid())
    event_npo = _event_npo() if with_event_npo else literal(None, Uuid())
    return select(User, user_state.events_of(user_id), event_npo, owed_of(user_id)).where(User.id == user_id)


def _read(user_id: uuid.UUID, where: Where, cached: UserState | None) -> tuple[UserState, uuid.UUID | None]:
    """In one statement: the state when it was not cached, and the event's registered NPO when
    an event is named (read with a state not cached, whose role is not known until then)."""
    with_event_npo = where.event_id is not None
    values = {"user_id": user_id, "event_id": where.event_id}
    with without_transaction() as db:
        if cached is not None:
            return cached, db.scalar(_event_npo_statement(), values) if with_event_npo else None
        row = db.execute(_state_statement(with_event_npo), values).first()
    if row is None or not row[0].is_active:
        raise SessionEndedError()
    return user_state.from_user(row[0], row[1], decoded(row[3])), row[2]


def _audit_refusal(
    state: UserState, permission: Permission, where: Where, reason: CheckReason, client: ClientInfo
) -> None:
    """One audit row per user, permission and window, whatever NPO or event was named (a new
    event id each time would otherwise write a row per request); the row holds the first
    refused question of the window (``audit.record_refusal``: one statement)."""
    details = {
        "permission": permission.value,
        "npo_id": str(where.npo_id) if where.npo_id else None,
        "event_id": str(where.event_id) if where.event_id else None,
        "reason": reason.value,
    }
    audit.record_refusal(
        AuditEvent.CHECK_REFUSED,
        client,
        actor_id=state.user_id,
        target_id=state.user_id,
        npo_id=state.npo_id,
        details=details,
        same_if={"permission": permission.value},
    )
