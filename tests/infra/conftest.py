"""One synthesis of the stack per test session, with cdk-nag.

Synthesis takes seconds, so every test in this package reads the same synthesized template. Tests
that need another configuration (context overrides, the nag negative test) synthesize their own,
and there are as few of those as possible.
"""

from __future__ import annotations

import pytest

from infra.settings import TrackerSettings
from tests.infra.stack_template import Synthesized, synthesize


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The stack as ``cdk synth`` builds it with default settings, cdk-nag included."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), settings=TrackerSettings())
