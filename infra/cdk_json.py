"""cdk.json's feature flags, for synthesis without the CDK CLI (tests, local cloud); stdlib only: no jsii start."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def feature_flags() -> dict[str, Any]:
    """The flags `cdk synth` passes the app, so that a synthesis without the CLI builds the same template."""
    return {key: value for key, value in json.loads(CDK_JSON.read_text())["context"].items() if key[0] == "@"}
