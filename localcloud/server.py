"""`make local`: the local cloud kept running on http://127.0.0.1:4566 for standard clients.

The AWS CLI or boto3 with AWS_ENDPOINT_URL=http://127.0.0.1:4566 can upload files, start executions,
read execution histories and query the table. Stop with Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import warnings

from moto.server import ThreadedMotoServer

from localcloud.cloud import ROOT, LocalCloud, synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4566)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only by default")
    args = parser.parse_args()
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="aws_lambda_powertools")

    out = ROOT / ".local" / "cdk.out"
    out.mkdir(parents=True, exist_ok=True)
    print("Synthesizing the stack ...")
    with LocalCloud(synthesize(out)) as cloud:
        server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
        server.start()
        endpoint = f"http://{args.host}:{args.port}"
        print(
            f"""
Local cloud running at {endpoint}  (Ctrl-C to stop)

  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \\
         AWS_DEFAULT_REGION=us-east-1 AWS_DISABLE_HOST_PREFIX_INJECTION=true

  upload bucket     {cloud.bucket}
  history table     {cloud.table}
  state machine     {cloud.state_machine_arn}
  reference store   {cloud.reference_store_id}

  aws s3 cp genome.fa s3://{cloud.bucket}/references/genome.fa
  aws stepfunctions list-executions --state-machine-arn {cloud.state_machine_arn}
  aws dynamodb scan --table-name {cloud.table}
""",
            flush=True,
        )
        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        stop.wait()
        server.stop()


if __name__ == "__main__":
    main()
