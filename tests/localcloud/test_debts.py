"""localcloud.debts: every library internal the local cloud replaces is listed, and is still what the pinned
versions wrote; no other module of the local cloud patches a library."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from localcloud import debts


def test_the_pinned_versions_are_the_ones_installed() -> None:
    assert {name: importlib.metadata.version(name) for name in debts.PINNED} == debts.PINNED


@pytest.mark.parametrize("debt", debts.REGISTRY.values(), ids=lambda debt: debt.target.split(":")[-1])
def test_what_each_replacement_assumes_is_unchanged(debt: debts.Debt) -> None:
    """Given a listed target, when its source (or its module's) is hashed, then it is the pinned version's. On an
    upgrade this fails: re-read the new source, adapt or drop the replacement, record the hash it prints."""
    assert debts.source_sha(debt.target) == debt.source, f"{debt.target} changed: now {debts.source_sha(debt.target)}"


def test_only_the_registry_patches_libraries() -> None:
    """mock.patch and setattr appear only in localcloud/debts.py, except the cloud's seams into the handlers' own
    clock (tracker.clock, not a library)."""
    found = [
        f"{path.name}: {line.strip()}"
        for path in sorted(Path(debts.__file__).parent.glob("*.py"))
        if path.name != "debts.py"
        for line in path.read_text().splitlines()
        if re.search(r"\bpatch\b|setattr\(|__setattr__", line) and "clock_module" not in line
    ]
    assert found == []
