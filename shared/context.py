"""Who is calling, as far as a service needs to know (never an HttpRequest)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """Where a request came from: for limits, sessions and the audit log."""

    request_id: str
    ip_address: str | None
    user_agent: str | None
    # The API operation the request called (its endpoint's name), for the audit log; None outside HTTP.
    operation: str | None = None
