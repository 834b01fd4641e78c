"""Every relative link and anchor in README.md and docs/, and every docs reference in the code, leads somewhere.

Anchors follow GitHub's rules: a heading's text, lowercased, without punctuation, spaces made hyphens, and a
repeated heading numbered (-1, -2, ...). Code points to the text that explains it as `docs/<page>.md#<anchor>`.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
THIS = Path(__file__).resolve()
CODE = sorted(
    path
    for folder in ("lambdas", "infra", "localcloud", "tracker_cli", "bench", "ops", "tests")
    for path in (ROOT / folder).rglob("*.py")
    if path != THIS  # its examples of broken references are on purpose
) + [ROOT / "app.py", ROOT / "Makefile"]

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
# A docs reference in code: docs/<page>.md or README.md, with an anchor or not, not part of a URL or longer path.
_CODE_REFERENCE = re.compile(r"(?<![\w/.-])((?:docs/[\w-]+\.md|README\.md)(?:#[\w-]+)?)")
# The old way, a README section by name (README "Configuration", README: Notifications, (README)): no anchor to check.
_SECTION_BY_NAME = re.compile(r'README(?:\s*"|:|\))')


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading's markdown text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        slug = anchor(heading)
        found.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)
        seen[slug] += 1
    return found


def broken(target: str, base: Path) -> str | None:
    """Why a relative link `target` (path, path#anchor or #anchor) from a file in `base` leads nowhere, or None."""
    path, _, fragment = target.partition("#")
    file = (base / path).resolve() if path else None
    if file is not None and not file.exists():
        return f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}"
    if fragment and (file is None or file.suffix == ".md"):
        if file is None:
            return f"{target}: an anchor needs a page"
        if fragment not in anchors(file.read_text()):
            return f"{target}: no heading with anchor #{fragment} in {file.name}"
    return None


def page_problems(page: Path) -> list[str]:
    text = _FENCE.sub("", page.read_text())
    problems = []
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        problem = broken(target if not target.startswith("#") else page.name + target, page.parent)
        if problem:
            problems.append(problem)
    return problems


def code_problems(source: Path) -> list[str]:
    text = source.read_text()
    problems = [why for reference in _CODE_REFERENCE.findall(text) if (why := broken(reference, ROOT))]
    problems += [
        f"line {text.count(chr(10), 0, match.start()) + 1}: a README section by name; point to docs/<page>.md#<anchor>"
        for match in _SECTION_BY_NAME.finditer(text)
    ]
    return problems


def test_anchors_follow_githubs_rules() -> None:
    assert anchor("Imports, one at a time per store") == "imports-one-at-a-time-per-store"
    assert anchor("`CANCELLING` is not terminal") == "cancelling-is-not-terminal"
    assert anchor("Starting executions (console or CLI)") == "starting-executions-console-or-cli"
    assert anchor("The omics-tracker command") == "the-omics-tracker-command"
    assert anchor("The history table's stream → Notify") == "the-history-tables-stream--notify"
    assert anchors("# Setup\n## Setup\n```\n# not a heading\n```\n### Setup") == {"setup", "setup-1", "setup-2"}


def test_a_missing_page_or_anchor_is_reported(tmp_path: Path) -> None:
    page = ROOT / "docs" / "design.md"
    assert broken("design.md#design-decisions", page.parent) is None
    assert broken("design.md#no-such-heading", page.parent) == (
        "design.md#no-such-heading: no heading with anchor #no-such-heading in design.md"
    )
    assert broken("nowhere.md", page.parent) == "nowhere.md: no file docs/nowhere.md"
    (tmp_path / "Makefile").write_text('# see README "Configuration" and docs/design.md#gone\n')
    assert code_problems(tmp_path / "Makefile") == [
        "docs/design.md#gone: no heading with anchor #gone in design.md",
        "line 1: a README section by name; point to docs/<page>.md#<anchor>",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_and_anchor_of_the_page_leads_somewhere(page: Path) -> None:
    assert page_problems(page) == []


def test_every_docs_reference_in_the_code_leads_to_a_heading() -> None:
    problems = {str(path.relative_to(ROOT)): found for path in CODE if (found := code_problems(path))}
    assert problems == {}


def test_the_readme_stays_a_front_page_that_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    linked = {target.partition("#")[0] for target in _LINK.findall(readme)}
    assert {f"docs/{page.name}" for page in PAGES[1:]} <= linked
