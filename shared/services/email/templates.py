"""The messages the service sends. Links carry the token as ``?token=``."""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode


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


def link(base_url: str, path: str, token: str) -> str:
    return f"{base_url}{path}?{urlencode({'token': token})}"


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


def verify_email(first_name: str, url: str, hours: int) -> RenderedEmail:
    return _render(
        Template.VERIFY_EMAIL,
        "Confirm your email address",
        f"Hi {first_name},",
        [f"Please confirm your email address. The link works once and expires in {hours} hours."],
        ("Confirm email", url),
    )


def invitation(first_name: str, url: str, hours: int) -> RenderedEmail:
    return _render(
        Template.INVITATION,
        "You have been invited to Augeo",
        f"Hi {first_name},",
        [f"An administrator created an Augeo account for you. Set your password within {hours} hours."],
        ("Set your password", url),
    )


def password_reset(first_name: str, url: str, minutes: int) -> RenderedEmail:
    return _render(
        Template.PASSWORD_RESET,
        "Reset your password",
        f"Hi {first_name},",
        [
            f"Someone asked to reset your password. The link works once and expires in {minutes} minutes.",
            "If it was not you, ignore this message: your password stays as it is.",
        ],
        ("Choose a new password", url),
    )


def password_changed(first_name: str) -> RenderedEmail:
    return _render(
        Template.PASSWORD_CHANGED,
        "Your password was changed",
        f"Hi {first_name},",
        [
            "The password of your Augeo account was just changed and your other sessions were signed out.",
            "If this was not you, reset your password now and contact support.",
        ],
        None,
    )


def new_device(first_name: str, ip_address: str | None, user_agent: str | None, when: str) -> RenderedEmail:
    return _render(
        Template.NEW_DEVICE,
        "New sign-in to your Augeo account",
        f"Hi {first_name},",
        [
            f"Your account was signed in from a new device at {when}.",
            f"IP address: {ip_address or 'unknown'}. Browser or app: {user_agent or 'unknown'}.",
            "If this was not you, reset your password now.",
        ],
        None,
    )
