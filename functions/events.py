"""/api/v1/events/{event_id}, /api/v1/users/{user_id}/events and /api/v1/events/{event_id}/members:
which NPO an event belongs to, and who works it."""

from __future__ import annotations

import uuid

import azure.functions as func

from functions.rendering import user_out
from shared.context import ClientInfo
from shared.errors import ErrorCode
from shared.http.endpoint import Reply, endpoint
from shared.schemas.events import (
    EventAssignmentList,
    EventAssignmentOut,
    EventMemberOut,
    EventMemberPage,
    EventOut,
    EventRegistration,
)
from shared.schemas.users import PageQuery
from shared.services import event_assignments, events
from shared.services.paging import Page
from shared.services.principal import Principal

bp = func.Blueprint()  # type: ignore[no-untyped-call]

ASSIGNMENT = "api/v1/users/{user_id:guid}/events/{event_id:guid}"
EVENT = "api/v1/events/{event_id:guid}"
TAGS = ("events",)


@endpoint(
    bp,
    "PUT",
    EVENT,
    name="event_register",
    summary="Register an event to its NPO",
    tags=TAGS,
    response_model=EventOut,
    status=201,
    also_succeeds_with=(200,),
    auth=True,
    errors=(ErrorCode.FORBIDDEN, ErrorCode.EVENT_IN_OTHER_NPO, ErrorCode.EVENT_NOT_FOUND),
    recent_auth=True,
)
def register(event_id: uuid.UUID, body: EventRegistration, caller: Principal, client: ClientInfo) -> Reply:
    """201 when new; 200 when it already was that NPO's (the same body: nothing changes). A super
    admin registers for any NPO and alone moves an event to another (its assignees of the NPO it
    left leave it); an NPO admin registers for their own NPO, while the event is unregistered
    (403 for another NPO, 409 EVENT_IN_OTHER_NPO for an event another NPO holds)."""
    event, created = events.register(caller, event_id, body.npo_id, body.name, client)
    return Reply(EventOut.model_validate(event), status=201 if created else 200)


@endpoint(
    bp,
    "GET",
    EVENT,
    name="event_get",
    summary="A registered event and its NPO",
    tags=TAGS,
    response_model=EventOut,
    auth=True,
    errors=(ErrorCode.EVENT_NOT_FOUND,),
)
def get(event_id: uuid.UUID, caller: Principal) -> EventOut:
    """For super admins and the users of the event's NPO; 404 EVENT_NOT_FOUND for anyone else, as
    for an event never registered."""
    return EventOut.model_validate(events.get(caller, event_id))


@endpoint(
    bp,
    "GET",
    "api/v1/users/{user_id:guid}/events",
    name="user_events_list",
    summary="The events a user is assigned to",
    tags=TAGS,
    response_model=EventAssignmentList,
    auth=True,
    errors=(ErrorCode.NOT_FOUND,),
)
def list_user_events(user_id: uuid.UUID, caller: Principal, client: ClientInfo) -> EventAssignmentList:
    """For the user themselves, a super admin, or an NPO admin of the user's NPO."""
    items = event_assignments.list_user_events(caller, user_id, client)
    return EventAssignmentList(items=[EventAssignmentOut.model_validate(item) for item in items])


@endpoint(
    bp,
    "PUT",
    ASSIGNMENT,
    name="user_events_assign",
    summary="Assign a user to an event",
    tags=TAGS,
    response_model=EventAssignmentOut,
    status=201,
    also_succeeds_with=(200,),
    auth=True,
    errors=(
        ErrorCode.NOT_FOUND,
        ErrorCode.FORBIDDEN,
        ErrorCode.ACCOUNT_ERASED,
        ErrorCode.ROLE_NOT_EVENT_SCOPED,
        ErrorCode.EVENT_NOT_FOUND,
        ErrorCode.EVENT_IN_OTHER_NPO,
    ),
    recent_auth=True,
)
def assign(user_id: uuid.UUID, event_id: uuid.UUID, caller: Principal, client: ClientInfo) -> Reply:
    """201 when new, 200 when it already was. Only event coordinators and staff are assigned
    (409 ROLE_NOT_EVENT_SCOPED), to a registered event (404 EVENT_NOT_FOUND) of their own NPO
    (409 EVENT_IN_OTHER_NPO)."""
    assignment, created = event_assignments.assign(caller, user_id, event_id, client)
    return Reply(EventAssignmentOut.model_validate(assignment), status=201 if created else 200)


@endpoint(
    bp,
    "DELETE",
    ASSIGNMENT,
    name="user_events_unassign",
    summary="Remove a user from an event",
    tags=TAGS,
    status=204,
    auth=True,
    errors=(ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN),
    recent_auth=True,
)
def unassign(user_id: uuid.UUID, event_id: uuid.UUID, caller: Principal, client: ClientInfo) -> None:
    """The same callers as assigning; removing what is not there answers the same."""
    event_assignments.unassign(caller, user_id, event_id, client)


@endpoint(
    bp,
    "GET",
    "api/v1/events/{event_id:guid}/members",
    name="event_members_list",
    summary="The users assigned to an event",
    tags=TAGS,
    response_model=EventMemberPage,
    auth=True,
    errors=(ErrorCode.FORBIDDEN,),
)
def list_members(event_id: uuid.UUID, query: PageQuery, caller: Principal, client: ClientInfo) -> EventMemberPage:
    """super_admin: everyone assigned; npo_admin: their NPO's users; an event coordinator
    assigned to the event: its whole team; others 403."""
    members, total = event_assignments.list_members(caller, event_id, Page(query.page, query.per_page), client)
    items = [
        EventMemberOut(
            **user_out(member.user).model_dump(),
            assigned_by=member.assigned_by,
            assigned_at=member.assigned_at,
        )
        for member in members
    ]
    return EventMemberPage(items=items, **EventMemberPage.fields(total, query.page, query.per_page))
