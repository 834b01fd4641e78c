"""One Logger and Metrics for all handlers (service name and namespace come from the environment).

No Powertools Tracer: it imports the X-Ray SDK, about 0.4 s of every cold start (more than boto3 itself).
The functions keep Lambda's active tracing, so each invocation is a segment of its execution's X-Ray trace
without the SDK; what a subsegment per AWS call would add is in each function's structured logs.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
