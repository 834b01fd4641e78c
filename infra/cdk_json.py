"""cdk.json's feature flags, for synthesis without the CDK CLI (the tests, the local cloud). Standard library only:
the local cloud imports it without starting jsii."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def feature_flags() -> dict[str, Any]:
    """The flags `cdk synth` passes the app from cdk.json, so that a synthesis without it builds the same template."""
    context = json.loads(CDK_JSON.read_text())["context"]
    return {key: value for key, value in context.items() if key.startswith("@")}
