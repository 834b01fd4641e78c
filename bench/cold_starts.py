"""`make bench-cold`: each function's cold import next to `import boto3` alone, reported (no target: jobs run for
minutes to days, so a cold start's fraction of a second buys nothing).

Each handler module is imported in a fresh interpreter, as a Lambda cold start does, with the environment its
settings need, several times; the median wall time of the import is reported, with the ratio to the median of
`import boto3` measured the same way on the same machine. Writes bench/cold_starts.json and prints a table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
RESULTS = Path(__file__).with_name("cold_starts.json")
RUNS = 7
_PROBE = "import time; started = time.perf_counter(); import {module}; print(time.perf_counter() - started)"


def handler_modules() -> list[str]:
    return sorted(f"tracker.handlers.{path.stem}" for path in (LAMBDAS / "tracker" / "handlers").glob("[a-z]*.py"))


def handler_environment() -> dict[str, str]:
    """What the handlers' settings read at cold start, with placeholder values (no AWS call is made)."""
    sys.path.insert(0, str(LAMBDAS))
    from tracker.contract import Env

    values = {name: "30" for name in vars(Env).values() if isinstance(name, str) and name.isupper()}
    values.update(
        {
            Env.TABLE_NAME: "history",
            Env.STATE_MACHINE_ARN: "arn:aws:states:::stateMachine:x",
            Env.OMICS_CALL_SHARE: "0.5",
            Env.IMPORT_ROLE_ARN: "arn:aws:iam::123456789012:role/import",
            Env.STALL_LIMITS: '{"REFERENCE_IMPORT": {"IN_PROGRESS": 86400}}',
            Env.FOLLOW_ALL_JOBS: '["RUN"]',
            Env.SWEEP_LOOKBACK_SECONDS: "1800",  # account-wide mode on: what JobEvents and the sweep then load
        }
    )
    return {**os.environ, **values, "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(LAMBDAS)}


def import_seconds(module: str, environment: dict[str, str]) -> float:
    timings = []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module=module)],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        timings.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(timings)


def measure() -> dict[str, Any]:
    """`import boto3` and each handler's import, the median of RUNS fresh interpreters each."""
    environment = handler_environment()
    baseline = import_seconds("boto3", environment)
    functions = {module: import_seconds(module, environment) for module in handler_modules()}
    return {
        "runs_per_module": RUNS,
        "boto3_seconds": round(baseline, 3),
        "functions": {
            module: {"seconds": round(seconds, 3), "ratio_to_boto3": round(seconds / baseline, 2)}
            for module, seconds in functions.items()
        },
    }


def main() -> None:
    started = time.monotonic()
    results = measure()
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"import boto3: {results['boto3_seconds']:.3f} s (median of {RUNS})")
    for module, measured in results["functions"].items():
        print(f"  {module:<36} {measured['seconds']:.3f} s  {measured['ratio_to_boto3']:.2f}x")
    print(f"Wrote {RESULTS.relative_to(ROOT)} in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
