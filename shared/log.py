"""Logging: JSON lines in production, readable lines in development.

Every record carries the request context (request id, user id, client IP)
from context variables the HTTP layer sets. A scrubbing filter masks anything
shaped like a JWT, a bearer header or a ``token=``/``password=`` pair, as a
last line of defence: code must still never pass a secret to a logger.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)
client_ip_var: ContextVar[str | None] = ContextVar("client_ip", default=None)

_NOISY_LOGGERS = ("azure", "urllib3", "sqlalchemy", "alembic", "redis", "asyncio")
_SECRET_PATTERNS = (
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"), "[jwt]"),
    (re.compile(r"(?i)(bearer\s+)[\w.~+/=-]+"), r"\1[redacted]"),
    (re.compile(r"(?i)((?:token|password|secret)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+"), r"\1[redacted]"),
)


def scrub(text: str) -> str:
    """Mask substrings that look like credentials."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class _ContextFilter(logging.Filter):
    """Attach the request context to each record and scrub its message."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.user_id = user_id_var.get()
        record.ip_address = client_ip_var.get()
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the fields operators query on."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "module": record.module,
            "function": record.funcName,
            "line": record.lineno,
            "request_id": getattr(record, "request_id", None),
            "user_id": getattr(record, "user_id", None),
            "ip_address": getattr(record, "ip_address", None),
        }
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


class ReadableFormatter(logging.Formatter):
    """Short lines for a developer's terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def formatException(self, ei: Any) -> str:  # noqa: N802 (stdlib name)
        return scrub(super().formatException(ei))


_configured = False


def configure_logging(*, json_lines: bool, level: str = "INFO") -> None:
    """Format the root logger's output once per process.

    Under the Functions host the Python worker has already put its own handler
    on the root logger (it forwards records to the host and Application
    Insights); we format and filter that one instead of adding a second.
    """
    global _configured
    if _configured:
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter() if json_lines else ReadableFormatter())
        handler.addFilter(_ContextFilter())
    root.setLevel(level)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _configured = True
