"""The README and docs/ stay true to the code: every setting, error code and audit event
is documented where a reader looks for it, and every relative link leads somewhere."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from shared.config import Settings
from shared.errors import STATUSES, ErrorCode
from shared.services.audit import AuditEvent
from tests.support import ROOT

DOCS = ROOT / "docs"
DOCUMENTS = [ROOT / "README.md", ROOT / "infra" / "README.md", *sorted(DOCS.glob("*.md"))]

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]\n]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def _prose(path: Path) -> str:
    """The text outside fenced code blocks: what a renderer turns into links and headings."""
    return _FENCE.sub("", path.read_text())


def _section(path: Path, heading: str) -> str:
    """The lines under ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    text = _prose(path)
    start = text.index(f"\n{heading}\n")
    following = re.search(rf"^#{{1,{len(level)}}} ", text[start + len(heading) + 2 :], re.MULTILINE)
    return text[start : start + len(heading) + 2 + following.start()] if following else text[start:]


def _table_cells(text: str) -> Iterator[str]:
    for line in text.splitlines():
        if line.startswith("|"):
            yield from line.strip("|").split("|")


def _code_spans_in_tables(text: str) -> set[str]:
    return {span.strip("`") for cell in _table_cells(text) for span in _CODE_SPAN.findall(cell)}


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors: set[str] = set()
    for heading in _HEADING.findall(_prose(path)):
        slug, suffix = _slug(heading), 0
        while (slug if not suffix else f"{slug}-{suffix}") in anchors:
            suffix += 1
        anchors.add(slug if not suffix else f"{slug}-{suffix}")
    return anchors


def _broken_links(path: Path) -> list[str]:
    broken = []
    for target in _LINK.findall(_CODE_SPAN.sub("", _prose(path))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...: not a file of the repository
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    return broken


def test_every_relative_link_leads_to_a_file_and_heading_that_exist() -> None:
    broken = {path.relative_to(ROOT).as_posix(): _broken_links(path) for path in DOCUMENTS}
    assert not {name: links for name, links in broken.items() if links}


def test_the_link_check_catches_a_missing_file_and_a_missing_heading(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## A heading: `with code`\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[fine](other.md#a-heading-with-code) [gone](missing.md#x) [no such heading](other.md#nothing)\n"
        "[web](https://example.org/x.md) `[in code](missing.md)`\n```\n[in a block](missing.md)\n```\n"
    )
    assert _broken_links(page) == ["missing.md#x", "other.md#nothing"]


def test_the_readme_points_at_every_page_in_docs() -> None:
    linked = {target.partition("#")[0] for target in _LINK.findall(_prose(ROOT / "README.md"))}
    assert not [page.name for page in DOCS.glob("*.md") if f"docs/{page.name}" not in linked]


def test_the_configuration_page_lists_every_setting() -> None:
    table = " ".join(_table_cells(_prose(DOCS / "configuration.md")))
    missing = [name.upper() for name in Settings.model_fields if name.upper() not in table]
    # Settings documented with a shared row ("RATE_LIMIT_X / _WINDOW_SECONDS") count via their stem.
    missing = [
        name for name in missing if not (name.endswith("_WINDOW_SECONDS") and name[: -len("_WINDOW_SECONDS")] in table)
    ]
    assert not missing, f"docs/configuration.md's table lacks {missing}"


def _error_rows() -> set[tuple[int, str]]:
    """The (status, code) of each row of docs/api.md's error table."""
    rows = set()
    for line in _section(DOCS / "api.md", "## Errors").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 2 and cells[0].isdigit() and re.fullmatch(r"`[A-Z_]+`", cells[1]):
            rows.add((int(cells[0]), cells[1].strip("`")))
    return rows


def test_the_error_table_is_the_codes_table_with_each_codes_statuses() -> None:
    """Both ways: every code at each status shared.errors.STATUSES gives it, and no row the code lacks."""
    in_code = {(status, code.value) for code, statuses in STATUSES.items() for status in statuses}
    documented = _error_rows()
    assert {code.value for code in ErrorCode} == {code for _, code in in_code}, "a code without a status"
    assert documented == in_code, {
        "rows docs/api.md lacks": sorted(in_code - documented),
        "rows no code answers": sorted(documented - in_code),
    }


def test_the_audit_table_lists_every_audit_event() -> None:
    documented = _code_spans_in_tables(_section(DOCS / "security.md", "## The audit log"))
    assert {event.value for event in AuditEvent} <= documented
