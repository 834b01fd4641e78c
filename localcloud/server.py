"""`make local`: the local cloud kept running on http://127.0.0.1:4566 for standard clients.

The AWS CLI, boto3 with AWS_ENDPOINT_URL=http://127.0.0.1:4566 or `omics-tracker` can upload files,
start executions, read execution histories, query the table and call the HealthOmics job APIs (the
simulator); `python -m localcloud.jobs create ...` adds simulated jobs. Time runs `--speed` times faster
than real time (default 60), so a job's statuses can be watched as they change. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import warnings
from datetime import datetime
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from localcloud import fixes
from localcloud.cloud import ROOT, LocalCloud, synthesize
from localcloud.omics import Timeline
from localcloud.omics_http import LocalCloudApp

# How often (real seconds) the HealthOmics status events that have fallen due are delivered.
EVENT_INTERVAL = 0.2
DEFAULT_SPEED = 60.0
_log = logging.getLogger(__name__)


class LocalServer(ThreadedMotoServer):
    """moto's threaded server with HealthOmics and the simulated-jobs endpoint in front of its app."""

    def __init__(self, cloud: LocalCloud, ip_address: str, port: int, speed: float) -> None:
        super().__init__(ip_address=ip_address, port=port, verbose=False)
        self._cloud = cloud
        self._speed = speed

    def _server_entry(self) -> None:
        # As moto's own, with its app wrapped (moto builds the app inside the server thread).
        moto = DomainDispatcherApplication(create_backend_app)
        cloud = self._cloud
        stores = {"referenceStoreId": cloud.reference_store_id}
        app = LocalCloudApp(moto, cloud.omics, bucket=cloud.bucket, store_ids=stores, speed=self._speed)
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def deliver_status_events(cloud: LocalCloud, stop: threading.Event) -> None:
    """Deliver each aws.omics status event when it falls due. On the wall-time clock a job changes
    while no execution waits for it (a simulated job nobody follows yet, a job between two polls);
    HealthOmics would still send the event then."""

    def publish(event: dict[str, Any]) -> None:
        try:
            cloud.publish(event)
        except Exception:  # one bad delivery must neither end the deliveries nor lose the events after it
            _log.exception("delivering a HealthOmics status event failed: %s", event.get("detail"))

    while not stop.wait(EVENT_INTERVAL):
        fixes.publish_due_events(cloud.omics, publish)


UPLOAD_IMPORT_TIMELINE = Timeline.ending(submitted=300, running=600)


def positive_speed(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"speed must be positive, got {text}")
    return value


def banner(cloud: LocalCloud, endpoint: str, speed: float, started: datetime) -> str:
    bin_dir = ROOT / ".venv" / "bin"
    ten_minutes = "10 minutes" if speed == 1 else f"{600 / speed:g} s"
    pace = "in real time" if speed == 1 else f"{speed:g} times as fast as real time"
    bucket, store = cloud.bucket, cloud.reference_store_id
    upload = f"s3://{bucket}/references/genome.fa"
    return f"""
Local cloud running at {endpoint}  (Ctrl-C to stop)

Clock: HealthOmics jobs and every time the tracker records run {pace}, from
       {started.isoformat(timespec="seconds")} (a 10-minute job takes {ten_minutes}); moto's own
       timestamps (Step Functions execution dates, S3 LastModified) are real time.

  upload bucket     {bucket}
  history table     {cloud.table}
  state machine     {cloud.state_machine_arn}
  reference store   {store}

In another terminal:

  export PATH="{bin_dir}:$PATH" AWS_ENDPOINT_URL={endpoint} \\
         AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \\
         AWS_DISABLE_HOST_PREFIX_INJECTION=true

Upload a reference and watch its import:

  printf '>chr1\\nACGTACGT\\n' > genome.fa
  aws s3 cp genome.fa {upload}
  omics-tracker watch {upload}
  omics-tracker show {upload}
  aws omics get-reference-import-job --reference-store-id {store} --id <jobId from show>

Simulate a job of any type (VARIANT_IMPORT, READ_SET_EXPORT, REFERENCE_IMPORT) and follow it:

  python -m localcloud.jobs create VARIANT_IMPORT --outcome FAILED --duration 30m
  omics-tracker follow VARIANT_IMPORT <jobId>
  aws omics get-variant-import-job --job-id <jobId>

The raw state:

  aws stepfunctions list-executions --state-machine-arn {cloud.state_machine_arn}
  aws dynamodb scan --table-name {cloud.table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only by default")
    parser.add_argument(
        "--speed", type=positive_speed, default=DEFAULT_SPEED, help="simulated seconds per real second (1: real time)"
    )
    args = parser.parse_args()
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")

    out = ROOT / ".local" / "cdk.out"
    out.mkdir(parents=True, exist_ok=True)
    print("Synthesizing the stack ...", flush=True)
    # Entered, never left: leaving drains, i.e. waits in real time for running executions to end.
    # The process's end takes them (daemon threads) and the in-memory cloud with it.
    cloud = LocalCloud(synthesize(out), speed=args.speed).__enter__()
    # An upload's import: five minutes SUBMITTED and ten IN_PROGRESS, long enough to watch at any speed, and for
    # the first poll to see SUBMITTED on a busy machine (the tests' 20 s is a third of a second at speed 60).
    cloud.omics.default_timeline = UPLOAD_IMPORT_TIMELINE
    server = LocalServer(cloud, args.host, args.port, args.speed)
    server.start()
    stop = threading.Event()
    threading.Thread(target=deliver_status_events, args=(cloud, stop), daemon=True).start()
    print(banner(cloud, f"http://{args.host}:{args.port}", args.speed, cloud.clock.now()), flush=True)
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
