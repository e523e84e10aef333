"""The messages the app sent, as the file backend wrote them, and the tokens in their links."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

# Where the file backend writes this session's messages (EMAIL_FILE_DIR).
EMAIL_DIR = Path(tempfile.mkdtemp(prefix="augeo-test-emails-"))
_TOKEN_IN_LINK = re.compile(r"token=([A-Za-z0-9_-]+)")


def deliver_emails() -> None:
    """Run the outbox drain once, as the timer / local server would."""
    from shared.services.email.drain import drain_outbox

    while drain_outbox().handled:
        pass


def emails_to(address: str) -> list[dict[str, Any]]:
    """Every delivered message to ``address``, oldest first."""
    deliver_emails()
    found = []
    for path in sorted(EMAIL_DIR.glob("*.json")):
        message = json.loads(path.read_text())
        if message["to"] == address:
            found.append(message)
    return found


def token_from_last_email(address: str, subject_part: str) -> str:
    matching = [m for m in emails_to(address) if subject_part.lower() in m["subject"].lower()]
    assert matching, f"no email about {subject_part!r} to {address}"
    return token_in(matching[-1])


def token_in(message: dict[str, Any]) -> str:
    """The token of the link in ``message`` (its text part)."""
    match = _TOKEN_IN_LINK.search(message["text"])
    assert match, "no token link in the email"
    return match.group(1)
