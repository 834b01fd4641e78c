"""The project's local cloud: moto + a HealthOmics simulator + the real handlers, on a simulated clock.

It runs the state machine that ``cdk synth`` produced, never a hand-written copy. See docs/local-cloud.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalCloud"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `python -m localcloud.jobs` (a small HTTP client) should not load moto.
    if name == "LocalCloud":
        from localcloud.cloud import LocalCloud

        return LocalCloud
    raise AttributeError(name)
