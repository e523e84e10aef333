"""Where messages go: Azure Communication Services, JSON files, or the console."""

from __future__ import annotations

import json
import logging
import os
import sys
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from shared.config import Settings, get_settings

logger = logging.getLogger(__name__)


class OutgoingEmail(Protocol):
    """A message ready to go: for one with a link, the bodies hold the live link."""

    @property
    def to_address(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text_body(self) -> str: ...
    @property
    def html_body(self) -> str: ...


class EmailSendError(Exception):
    """The provider refused or failed; the message stays in the outbox for a retry."""


class EmailBackend(Protocol):
    def send(self, message: OutgoingEmail) -> None: ...


class FileBackend:
    """One JSON file per message (local runs and tests)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: OutgoingEmail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        document = {
            "to": message.to_address,
            "subject": message.subject,
            "text": message.text_body,
            "html": message.html_body,
            "created_at": now.isoformat(),
        }
        name = f"{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
        temporary = self.directory / f".{name}.tmp"
        temporary.write_text(json.dumps(document, indent=2))
        os.replace(temporary, self.directory / name)  # readers never see half a file


class ConsoleBackend:
    """Prints messages for a developer; in production only who and what, never the body."""

    def __init__(self, show_body: bool) -> None:
        self.show_body = show_body

    def send(self, message: OutgoingEmail) -> None:
        logger.info("email to %s: %s", message.to_address, message.subject)
        if self.show_body:
            print(f"--- email to {message.to_address}: {message.subject}\n{message.text_body}\n---", file=sys.stdout)


class AcsBackend:
    """Azure Communication Services Email (connection string, or endpoint + managed identity)."""

    def __init__(self, settings: Settings) -> None:
        self.sender = settings.email_sender
        self._client = self._build_client(settings)

    @staticmethod
    def _build_client(settings: Settings) -> Any:
        # Imported here, not at the top: only this backend uses the Azure SDK, and
        # its import is heavy enough to delay every instance's first
        # request, and every test and dev server with the file or console backend.
        from azure.communication.email import EmailClient  # noqa: PLC0415 (only the acs backend needs it)

        if settings.acs_connection_string:
            return EmailClient.from_connection_string(settings.acs_connection_string)
        from azure.identity import DefaultAzureCredential  # noqa: PLC0415 (only with managed identity)

        assert settings.acs_endpoint is not None  # guaranteed by Settings validation
        return EmailClient(settings.acs_endpoint, DefaultAzureCredential())

    def send(self, message: OutgoingEmail) -> None:
        payload = {
            "senderAddress": self.sender,
            "recipients": {"to": [{"address": message.to_address}]},
            "content": {"subject": message.subject, "plainText": message.text_body, "html": message.html_body},
        }
        try:
            poller = self._client.begin_send(payload)
            result = poller.result(timeout=30)
        except Exception as error:
            raise EmailSendError(type(error).__name__) from error
        status = str(result.get("status", "")) if isinstance(result, dict) else ""
        if status.lower() not in ("succeeded", ""):
            raise EmailSendError(f"ACS status {status}")


@lru_cache(maxsize=1)
def get_backend() -> EmailBackend:
    """The configured backend, built once per process."""
    settings = get_settings()
    if settings.email_backend == "file":
        return FileBackend(settings.email_file_dir)
    if settings.email_backend == "acs":
        return AcsBackend(settings)
    return ConsoleBackend(show_body=not settings.is_production)
