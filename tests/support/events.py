"""Events registered to an NPO, written straight to the database (test set-up), as an events
service's registration would leave them: an assignment needs a registered event of its NPO."""

from __future__ import annotations

import uuid
from typing import Any


def registered_event(npo_id: Any) -> str:
    """A new event registered to ``npo_id``; its id."""
    from shared.database import unit_of_work
    from shared.models import Event

    event_id = uuid.uuid4()
    with unit_of_work() as db:
        db.add(Event(id=event_id, npo_id=uuid.UUID(str(npo_id))))
    return str(event_id)


def registered_events(npo_id: Any, count: int) -> list[uuid.UUID]:
    """``count`` new events registered to ``npo_id``, in one statement; their ids."""
    from sqlalchemy import insert

    from shared.database import unit_of_work
    from shared.models import Event

    ids = [uuid.uuid4() for _ in range(count)]
    with unit_of_work() as db:
        db.execute(insert(Event), [{"id": event_id, "npo_id": uuid.UUID(str(npo_id))} for event_id in ids])
    return ids
