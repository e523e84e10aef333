"""The messages the service sends. Links carry the token as ``?token=``.

A message with a link is rendered when it is queued with two placeholders, one
for the link and one for the time it has left; the drain fills both when it
sends (``fill``), after minting the token, so no stored body ever holds one.
The placeholders are wrapped in ESC characters, which no field a user can set
may contain (``shared.schemas.fields``), and ``fill`` refuses a body that does
not hold each exactly once.

Messages to an address that is not yet verified (verification, invitation,
reset of an unverified account) carry no text the registrant chose: whoever
registers may type any address, and the greeting must not become their
message to a stranger. An invitation names who sent it (an administrator,
signed in, audited) and never the names the administrator typed for the
person.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlencode

from shared.roles_and_permissions import RoleName
from shared.services.email.user_agents import describe_user_agent

LINK_PLACEHOLDER = "\x1blink\x1b"
EXPIRY_PLACEHOLDER = "\x1bexpires-in\x1b"
_ANONYMOUS_GREETING = "Hello,"


class Template(StrEnum):
    VERIFY_EMAIL = "verify_email"
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGED = "password_changed"
    NEW_DEVICE = "new_device"


@dataclass(frozen=True)
class RenderedEmail:
    template: Template
    subject: str
    text: str
    html: str


class TemplateError(ValueError):
    """A stored body does not hold its placeholders exactly once: it is not sent."""


def with_token(link_url: str, token: str) -> str:
    """``link_url`` (the target without the token, as stored in the outbox) with ``?token=``."""
    return f"{link_url}?{urlencode({'token': token})}"


def describe_remaining(left: timedelta) -> str:
    """How long a link has left, as the email says it: "7 days", "24 hours", "60 minutes", "1 minute"."""
    minutes = max(round(left.total_seconds() / 60), 1)
    if minutes >= 72 * 60:
        return f"{round(minutes / (24 * 60))} days"
    if minutes >= 120:
        return f"{round(minutes / 60)} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def check_placeholders(body: str) -> None:
    """Refuse a body where a placeholder is missing or repeated (e.g. smuggled in by a name)."""
    for placeholder in (LINK_PLACEHOLDER, EXPIRY_PLACEHOLDER):
        if body.count(placeholder) != 1:
            raise TemplateError("the stored body does not hold its link placeholders exactly once")


def fill(body: str, url: str, expires_in: str, *, as_html: bool) -> str:
    """Put the link and its remaining time into a stored body (escaped for HTML)."""
    check_placeholders(body)
    if as_html:
        url, expires_in = html.escape(url, quote=True), html.escape(expires_in)
    return body.replace(LINK_PLACEHOLDER, url).replace(EXPIRY_PLACEHOLDER, expires_in)


def _greeting(first_name: str | None) -> str:
    return f"Hi {first_name}," if first_name else _ANONYMOUS_GREETING


def _render(
    template: Template, subject: str, greeting: str, lines: list[str], action: tuple[str, str] | None
) -> RenderedEmail:
    text_parts = [greeting, "", *lines]
    html_parts = [f"<p>{html.escape(greeting)}</p>", *(f"<p>{html.escape(line)}</p>" for line in lines)]
    if action:
        label, url = action
        text_parts += ["", f"{label}: {url}"]
        html_parts.append(f'<p><a href="{html.escape(url, quote=True)}">{html.escape(label)}</a></p>')
    text_parts += ["", "— Augeo"]
    html_parts.append("<p>— Augeo</p>")
    return RenderedEmail(template, subject, "\n".join(text_parts), "\n".join(html_parts))


def verify_email() -> RenderedEmail:
    """To an unverified address: no name, link filled in at send time."""
    return _render(
        Template.VERIFY_EMAIL,
        "Confirm your email address",
        _ANONYMOUS_GREETING,
        [f"Please confirm your email address. The link works once and expires in {EXPIRY_PLACEHOLDER}."],
        ("Confirm email", LINK_PLACEHOLDER),
    )


# What an invitation asks the person to become, in the words of the email.
ROLE_IN_WORDS = {
    RoleName.SUPER_ADMIN: "a platform administrator (super admin)",
    RoleName.NPO_ADMIN: "an administrator of an organisation (NPO admin)",
    RoleName.EVENT_COORDINATOR: "an event coordinator of an organisation",
    RoleName.STAFF: "a staff member of an organisation",
    RoleName.DONOR: "a donor",
}


def invitation(inviter_name: str | None, role: RoleName) -> RenderedEmail:
    """Who invited, as what, until when; no greeting by name (the address is not verified yet).
    The link (the accept page) is filled in at send time."""
    inviter = inviter_name or "An administrator"
    return _render(
        Template.INVITATION,
        "You have been invited to Augeo",
        _ANONYMOUS_GREETING,
        [
            f"{inviter} invited you to join Augeo as {ROLE_IN_WORDS[role]}.",
            f"The invitation expires in {EXPIRY_PLACEHOLDER}. If you already have an Augeo account with this "
            "address, sign in to accept it; if not, you will choose a password.",
            "If you were not expecting this, ignore this message.",
        ],
        ("Accept the invitation", LINK_PLACEHOLDER),
    )


def password_reset(first_name: str | None) -> RenderedEmail:
    """``first_name`` only when the address is verified; link filled in at send time."""
    return _render(
        Template.PASSWORD_RESET,
        "Reset your password",
        _greeting(first_name),
        [
            f"Someone asked to reset your password. The link works once and expires in {EXPIRY_PLACEHOLDER}.",
            "If it was not you, ignore this message: your password stays as it is.",
        ],
        ("Choose a new password", LINK_PLACEHOLDER),
    )


def password_changed(first_name: str) -> RenderedEmail:
    return _render(
        Template.PASSWORD_CHANGED,
        "Your password was changed",
        _greeting(first_name),
        [
            "The password of your Augeo account was just changed and your other sessions were signed out.",
            "If this was not you, reset your password now and contact support.",
        ],
        None,
    )


def new_device(first_name: str, ip_address: str | None, user_agent: str | None, when: str) -> RenderedEmail:
    """The user agent is whatever the signing-in party sent: only a neutral description goes out."""
    return _render(
        Template.NEW_DEVICE,
        "New sign-in to your Augeo account",
        _greeting(first_name),
        [
            f"Your account was signed in from a new device at {when}.",
            f"IP address: {ip_address or 'unknown'}. Browser: {describe_user_agent(user_agent)}.",
            "If this was not you, reset your password now.",
        ],
        None,
    )
