"""Refusals are audited by the services, through one path (audit.record_refusal), not by the HTTP layer."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import select

from shared.context import ClientInfo
from shared.database import unit_of_work
from shared.errors import AuthorizationError
from shared.models import AuditLog
from shared.services import audit, users
from shared.services.audit import AuditEvent
from shared.services.caller import authenticate
from tests.support.accounts import Actor
from tests.support.network import fresh_ip
from tests.support.round_trips import counting_round_trips


def _refusals_by(actor_id: str) -> list[AuditLog]:
    with unit_of_work() as db:
        return list(
            db.scalars(
                select(AuditLog).where(
                    AuditLog.event_type == AuditEvent.ACCESS_REFUSED.value,
                    AuditLog.actor_user_id == uuid.UUID(actor_id),
                )
            )
        )


def test_a_service_records_the_act_it_refuses_with_its_target_without_the_http_layer(
    signed_in: Callable[..., Actor],
) -> None:
    npo = str(uuid.uuid4())
    admin, peer = signed_in("npo_admin", npo), signed_in("npo_admin", npo)
    client = ClientInfo(request_id="in-process", ip_address=fresh_ip(), user_agent="pytest", operation="probe_op")
    caller = authenticate(admin.access_token, client)
    for _ in range(2):
        with pytest.raises(AuthorizationError):
            users.deactivate(caller, uuid.UUID(peer.id), client)
    [row] = _refusals_by(admin.id)
    assert row.target_user_id == uuid.UUID(peer.id)
    assert row.details == {"action": "probe_op", "role": "npo_admin"}
    assert row.ip_address == client.ip_address and row.npo_id == uuid.UUID(npo)


def test_a_refusal_is_one_statement_and_no_redis_and_written_once_per_caller_or_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    actor = uuid.uuid4()
    here = ClientInfo(request_id="r1", ip_address=fresh_ip(), user_agent="pytest")
    elsewhere = ClientInfo(request_id="r2", ip_address=fresh_ip(), user_agent="pytest")
    details = {"action": "probe", "role": "staff"}
    audit.record_refusal(AuditEvent.ACCESS_REFUSED, here, actor_id=actor, details=details)  # warm the pool
    with counting_round_trips(monkeypatch) as seen:
        audit.record_refusal(AuditEvent.ACCESS_REFUSED, here, actor_id=actor, details=details)
    assert (len(seen.redis), len(seen.sql)) == (0, 1)
    audit.record_refusal(AuditEvent.ACCESS_REFUSED, elsewhere, actor_id=actor, details=details)  # the same caller
    audit.record_refusal(AuditEvent.ACCESS_REFUSED, here, actor_id=actor, details={**details, "action": "other"})
    rows = _refusals_by(str(actor))
    assert sorted(row.details["action"] for row in rows) == ["other", "probe"]
    action = f"probe-{uuid.uuid4()}"  # nobody signed in: the address is who was refused
    for client in (here, here, elsewhere):
        audit.record_refusal(AuditEvent.RATE_LIMITED, client, details={"action": action})
    with unit_of_work() as db:
        anonymous = db.scalars(select(AuditLog.ip_address).where(AuditLog.details["action"].astext == action)).all()
    assert sorted(anonymous, key=str) == sorted([here.ip_address, elsewhere.ip_address], key=str)
