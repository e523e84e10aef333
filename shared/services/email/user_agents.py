"""A short, neutral description of a User-Agent header for the new-device email.

The header is chosen by whoever signs in, and the email goes to the account's
owner: quoting it would let anyone holding a password put their own words
(or links) into a message from Augeo. So the email only ever says one of a
fixed set of phrases built here, such as "Firefox on Linux".
"""

from __future__ import annotations

UNRECOGNISED = "an unrecognised browser"

# Checked in order: the first marker found names the browser. Order matters
# because browsers claim each other's names (Edge says Chrome and Safari too).
_BROWSERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Edge", ("Edg/", "EdgA/", "EdgiOS/", "Edge/")),
    ("Opera", ("OPR/", "Opera/", "OPiOS/")),
    ("Samsung Internet", ("SamsungBrowser/",)),
    ("Firefox", ("Firefox/", "FxiOS/")),
    ("Chrome", ("CriOS/", "Chrome/", "Chromium/")),
    ("Safari", ("Safari/",)),
)
# iOS and Android before macOS and Linux, which their user agents also name.
_SYSTEMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Windows", ("Windows",)),
    ("iOS", ("iPhone", "iPad", "iPod")),
    ("Android", ("Android",)),
    ("ChromeOS", ("CrOS",)),
    ("macOS", ("Macintosh", "Mac OS X")),
    ("Linux", ("Linux", "X11")),
)


def _first_match(user_agent: str, table: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    for name, markers in table:
        if any(marker in user_agent for marker in markers):
            return name
    return None


def describe_user_agent(user_agent: str | None) -> str:
    """ "Firefox on Linux", "Safari", "an unrecognised browser on Windows", or "an unrecognised browser"."""
    if not user_agent:
        return UNRECOGNISED
    browser = _first_match(user_agent, _BROWSERS) or UNRECOGNISED
    system = _first_match(user_agent, _SYSTEMS)
    return f"{browser} on {system}" if system else browser
