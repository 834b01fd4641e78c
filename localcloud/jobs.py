"""Create a simulated HealthOmics job on the running local cloud (`make local`), to follow with the tracker.

    python -m localcloud.jobs create VARIANT_IMPORT --outcome FAILED --duration 10m

prints the job's ids and the command that follows it. The job moves SUBMITTED -> IN_PROGRESS -> the
outcome over `duration` on the local cloud's clock (at `make local`'s default speed, 60 times faster than
real time: a 10m job takes 10 s), and `aws omics get-...` answers with its status meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.error
import urllib.request
from typing import Any, NamedTuple

from tracker.contract import JOB_TYPES, TERMINAL_STATUSES

JOBS_PATH = "/_localcloud/jobs"  # served by localcloud.omics_http
SPEED_HEADER = "X-Localcloud-Speed"
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(?P<amount>\d+(?:\.\d+)?)(?P<unit>[smhd]?)")


def parse_duration(text: str) -> float:
    """Seconds of "90s", "10m", "2h", "1d" or "45" (seconds)."""
    found = _DURATION.fullmatch(text.strip().lower())
    if found is None or float(found["amount"]) <= 0:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 10m, 2h)")
    return float(found["amount"]) * _UNITS[found["unit"] or "s"]


class Created(NamedTuple):
    ids: dict[str, str]  # jobType first, then the job type's ids in order
    speed: float | None  # the local cloud's clock: simulated seconds per real second


def create(endpoint: str, request: dict[str, Any]) -> Created:
    """POST the job to the local cloud."""
    http_request = urllib.request.Request(
        endpoint.rstrip("/") + JOBS_PATH,
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http_request, timeout=30) as response:
            speed = response.headers.get(SPEED_HEADER)
            return Created(dict(json.loads(response.read())), float(speed) if speed else None)
    except urllib.error.HTTPError as error:  # the local cloud says why (unknown job type, ...)
        raise SystemExit(f"error: {json.loads(error.read() or b'{}').get('message', error)}") from None
    except urllib.error.URLError as error:
        raise SystemExit(f"error: no local cloud at {endpoint} ({error.reason}); start it with `make local`") from None


def follow_command(ids: dict[str, str]) -> str:
    """`omics-tracker follow TYPE ID...`, the ids in the order the job type names them."""
    job_type = ids["jobType"]
    names = JOB_TYPES[job_type].id_names if job_type in JOB_TYPES else [k for k in ids if k != "jobType"]
    return " ".join(["omics-tracker", "follow", job_type, *(ids[name] for name in names)])


def aws_command(ids: dict[str, str]) -> str:
    """The AWS CLI command that reads the job: `aws omics get-variant-import-job --job-id ...`."""
    spec = JOB_TYPES[ids["jobType"]]
    options = [f"--{_kebab(name)} {value}" for name, value in spec.get_request(ids).items()]
    return " ".join(["aws", "omics", _kebab(spec.get_operation), *options])


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m localcloud.jobs", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("create", help="create a simulated job")
    new.add_argument("job_type", metavar="JOB_TYPE", help=f"one of {', '.join(JOB_TYPES)}")
    new.add_argument("--outcome", default="COMPLETED", choices=sorted(TERMINAL_STATUSES), help="how it ends")
    # Long enough to type the follow command at `make local`'s speed (60: 30m is 30 s).
    new.add_argument("--duration", default="30m", help="how long until it ends: 90s, 10m, 2h (default 30m)")
    new.add_argument("--store-id", help="its store (default: the stack's reference store, or an example id)")
    new.add_argument("--job-id", help="its id, e.g. one an example in docs/ names (default: the next free id)")
    new.add_argument(
        "--item", action="append", dest="items", help="a source file or read set id (repeat; default: one example)"
    )
    new.add_argument("--message", help="its status message when it ends")
    new.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL", DEFAULT_ENDPOINT))
    new.add_argument("--json", action="store_true", help="print only the ids, as JSON")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        seconds = parse_duration(args.duration)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    request = {"jobType": args.job_type, "outcome": args.outcome, "duration": seconds}
    optional = {"storeId": args.store_id, "jobId": args.job_id, "items": args.items, "message": args.message}
    request.update({name: value for name, value in optional.items() if value})
    ids, speed = create(args.endpoint, request)
    if args.json:
        print(json.dumps(ids))
        return
    real = f", about {seconds / speed:.0f} s of real time at speed {speed:g}" if speed else ""
    print(f"Created a simulated {ids['jobType']} job that ends {args.outcome} in {args.duration}{real}:")
    for name, value in ids.items():
        if name != "jobType":
            print(f"  {name:<17} {value}")
    print(f"\nFollow it with the tracker:\n  {follow_command(ids)}")
    if ids["jobType"] in JOB_TYPES:
        print(f"\nAsk HealthOmics (the simulator) for it:\n  {aws_command(ids)}")


if __name__ == "__main__":
    main(sys.argv[1:])
