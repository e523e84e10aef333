"""The policy table: every (actor role x target role x NPO relation x action) cell.

The expectations below are written out independently of ``shared.services.policy``:
super_admin may do anything to anyone but deactivate, re-role or erase themselves;
npo_admin may see the npo_admin, event_coordinator and staff users of its own
NPO and change those of strictly lower rank (never a fellow npo_admin, never
another NPO, never a donor), and never vouches for an email address or erases
an account; every other role sees only itself and changes nothing through the
admin routes.
"""

from __future__ import annotations

import uuid

import pytest

from shared.errors import AuthorizationError, ConflictError, ErrorCode
from shared.models import RoleName
from shared.services.policy import (
    Action,
    Decision,
    Party,
    Registration,
    decide,
    decide_registration,
    may_assign,
    may_see_event,
)

OUR_NPO = uuid.UUID("11111111-1111-4111-8111-111111111111")
OTHER_NPO = uuid.UUID("22222222-2222-4222-8222-222222222222")
NPO_ROLES = {RoleName.NPO_ADMIN, RoleName.EVENT_COORDINATOR, RoleName.STAFF}
ADMIN_ACTIONS = [a for a in Action if a is not Action.VIEW]


def npo_of(role: RoleName, relation: str) -> uuid.UUID | None:
    if role not in NPO_ROLES:
        return None
    return OUR_NPO if relation == "same" else OTHER_NPO


# Every target: (role, relation of its NPO to the actor's NPO).
TARGETS = [
    (role, relation) for role in RoleName for relation in (("same", "other") if role in NPO_ROLES else ("none",))
]


CHANGES = {Action.CREATE, Action.UPDATE, Action.DEACTIVATE, Action.ACTIVATE, Action.CHANGE_ROLE}


def expected(actor: RoleName, target: RoleName, relation: str, action: Action) -> Decision:
    if actor is RoleName.SUPER_ADMIN:
        return Decision.ALLOW
    if actor is RoleName.NPO_ADMIN and relation == "same" and target in NPO_ROLES:
        if action in (Action.VERIFY_EMAIL, Action.ERASE):
            return Decision.FORBIDDEN  # only a super admin vouches for an address or erases an account
        if action in CHANGES and target is RoleName.NPO_ADMIN:
            return Decision.FORBIDDEN  # a peer: visible, not theirs to change
        return Decision.ALLOW
    return Decision.INVISIBLE


CELLS = [(actor, target, relation, action) for actor in RoleName for target, relation in TARGETS for action in Action]


@pytest.mark.parametrize(("actor", "target", "relation", "action"), CELLS)
def test_policy_cell(actor: RoleName, target: RoleName, relation: str, action: Action) -> None:
    actor_party = Party(uuid.uuid4(), actor, OUR_NPO if actor in NPO_ROLES else None)
    target_party = Party(uuid.uuid4(), target, npo_of(target, relation))
    assert decide(actor_party, action, target_party) is expected(actor, target, relation, action)


SELF_EXPECTED = {
    # actor role: actions allowed on oneself (VIEW always; DEACTIVATE, CHANGE_ROLE and ERASE never)
    RoleName.SUPER_ADMIN: {
        Action.VIEW,
        Action.LIST,
        Action.CREATE,
        Action.UPDATE,
        Action.ACTIVATE,
        Action.VERIFY_EMAIL,
        Action.VIEW_AUDIT,
    },
    RoleName.NPO_ADMIN: {
        Action.VIEW,
        Action.LIST,
        Action.CREATE,
        Action.UPDATE,
        Action.ACTIVATE,
        Action.VIEW_AUDIT,
    },
    RoleName.EVENT_COORDINATOR: {Action.VIEW},
    RoleName.STAFF: {Action.VIEW},
    RoleName.DONOR: {Action.VIEW},
}


@pytest.mark.parametrize(("actor", "action"), [(r, a) for r in RoleName for a in Action])
def test_policy_on_oneself(actor: RoleName, action: Action) -> None:
    me = Party(uuid.uuid4(), actor, OUR_NPO if actor in NPO_ROLES else None)
    want = Decision.ALLOW if action in SELF_EXPECTED[actor] else Decision.FORBIDDEN
    assert decide(me, action, me) is want


@pytest.mark.parametrize(
    ("actor", "role", "npo", "allowed"),
    [
        (RoleName.SUPER_ADMIN, RoleName.SUPER_ADMIN, None, True),
        (RoleName.SUPER_ADMIN, RoleName.STAFF, OTHER_NPO, True),
        (RoleName.NPO_ADMIN, RoleName.NPO_ADMIN, OUR_NPO, True),
        (RoleName.NPO_ADMIN, RoleName.EVENT_COORDINATOR, OUR_NPO, True),
        (RoleName.NPO_ADMIN, RoleName.STAFF, OUR_NPO, True),
        (RoleName.NPO_ADMIN, RoleName.STAFF, OTHER_NPO, False),
        (RoleName.NPO_ADMIN, RoleName.SUPER_ADMIN, None, False),
        (RoleName.NPO_ADMIN, RoleName.DONOR, None, False),
        (RoleName.EVENT_COORDINATOR, RoleName.STAFF, OUR_NPO, False),
        (RoleName.STAFF, RoleName.STAFF, OUR_NPO, False),
        (RoleName.DONOR, RoleName.DONOR, None, False),
    ],
)
def test_who_may_assign_which_role(actor: RoleName, role: RoleName, npo: uuid.UUID | None, allowed: bool) -> None:
    actor_party = Party(uuid.uuid4(), actor, OUR_NPO if actor in NPO_ROLES else None)
    assert may_assign(actor_party, role, npo) is allowed


def test_table_covers_every_cell() -> None:
    assert len(CELLS) == len(RoleName) * len(TARGETS) * len(Action) == 5 * 8 * 10


# -- registering events: every (role, NPO named, NPO the event is registered to) ---------------


@pytest.mark.parametrize("actor", list(RoleName))
@pytest.mark.parametrize("named", ["ours", "other"])
@pytest.mark.parametrize("registered", [None, "ours", "other"])
def test_who_registers_or_moves_an_event(actor: RoleName, named: str, registered: str | None) -> None:
    """A super admin registers for any NPO and alone moves events; an NPO admin registers for
    their own NPO while the event is unregistered; nobody else registers."""
    npo = {"ours": OUR_NPO, "other": OTHER_NPO}
    party = Party(uuid.uuid4(), actor, OUR_NPO if actor in NPO_ROLES else None)
    registered_npo = npo[registered] if registered else None
    if actor is not RoleName.SUPER_ADMIN and not (actor is RoleName.NPO_ADMIN and named == "ours"):
        with pytest.raises(AuthorizationError):
            decide_registration(party, npo[named], registered_npo)
    elif registered is None:
        assert decide_registration(party, npo[named], registered_npo) is Registration.REGISTER
    elif registered == named:
        assert decide_registration(party, npo[named], registered_npo) is Registration.KEEP
    elif actor is RoleName.SUPER_ADMIN:
        assert decide_registration(party, npo[named], registered_npo) is Registration.MOVE
    else:
        with pytest.raises(ConflictError) as refused:
            decide_registration(party, npo[named], registered_npo)
        assert refused.value.code is ErrorCode.EVENT_IN_OTHER_NPO


@pytest.mark.parametrize("actor", list(RoleName))
def test_who_sees_a_registered_event(actor: RoleName) -> None:
    party = Party(uuid.uuid4(), actor, OUR_NPO if actor in NPO_ROLES else None)
    assert may_see_event(party, OUR_NPO) is (actor is RoleName.SUPER_ADMIN or actor in NPO_ROLES)
    assert may_see_event(party, OTHER_NPO) is (actor is RoleName.SUPER_ADMIN)
