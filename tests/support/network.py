"""Ports and loopback addresses of a test's own, and HTTP clients that leave from them."""

from __future__ import annotations

import secrets
import socket
from typing import Any

import httpx

from tests.support.contract_observer import check_response
from tests.support.messages import check_error_message


def unused_port() -> int:
    """A loopback TCP port nothing listens on (the system's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def fresh_ip() -> str:
    """A loopback address of its own (127.x.y.z), so one test's rate limits never touch another's."""
    return f"127.{secrets.randbelow(254) + 1}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def client_from(base_url: str, ip: str) -> httpx.Client:
    """An HTTP client whose connections leave from ``ip``: the server sees it as the peer,
    and the local server, like Azure's front end, appends it to X-Forwarded-For.

    Every response it receives is checked against the OpenAPI document
    (:mod:`tests.support.contract_observer`): a status or error code the
    document does not list for the operation fails the request; and every
    error against the rule of messages (:mod:`tests.support.messages`)."""
    return httpx.Client(
        base_url=base_url,
        timeout=30,
        transport=httpx.HTTPTransport(local_address=ip),
        event_hooks={"response": [check_response, check_error_message]},
    )


def served_at(server: Any) -> str:
    """The http:// URL of a server bound with ``(host, port)``."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
