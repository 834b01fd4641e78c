"""What a cold start imports: no handler loads the X-Ray SDK (about 0.4 s; Lambda's active tracing needs none) nor
pydantic (about half of `import boto3`; the handlers' records are standard library, tracker.records).
How long the imports take is measured by `make bench-cold`, not here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.cold_starts import handler_environment, handler_modules

_PROBE = "import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
HEAVY = ("aws_xray_sdk", "pydantic")


def test_every_handler_module_is_found() -> None:
    assert {"tracker.handlers.poll", "tracker.handlers.notify", "tracker.handlers.trigger"} <= set(handler_modules())


@pytest.mark.parametrize("module", handler_modules())
def test_a_cold_start_of_the_handler_imports_neither_the_xray_sdk_nor_pydantic(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module, heavy=HEAVY)],
        env=handler_environment(),
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip().splitlines()[-1] == "[]"
