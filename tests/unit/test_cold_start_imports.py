"""What a cold start imports: no handler loads the X-Ray SDK (about 0.4 s; Lambda's active tracing needs none).
How long the imports take is reported by `make bench-cold`, not checked here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.cold_starts import handler_environment, handler_modules

_PROBE = "import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
HEAVY = ("aws_xray_sdk",)


def test_every_handler_module_is_found() -> None:
    assert {"tracker.handlers.poll", "tracker.handlers.notify", "tracker.handlers.trigger"} <= set(handler_modules())


@pytest.mark.parametrize("module", handler_modules())
def test_a_cold_start_of_the_handler_does_not_import_the_xray_sdk(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE.format(module=module, heavy=HEAVY)],
        env=handler_environment(),
        capture_output=True,
        text=True,
        check=True,
    )

    assert result.stdout.strip().splitlines()[-1] == "[]"
