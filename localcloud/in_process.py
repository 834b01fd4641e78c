"""Answer the local cloud's most frequent AWS calls in process: JSON-protocol calls (DynamoDB, Step Functions,
EventBridge) and Lambda's synchronous Invoke. A speed-up: the moto internals it relies on are in localcloud/debts.py.

moto answers a boto3 call at botocore's ``before-send``, turning botocore's HTTP request into a werkzeug request
and matching the URL against every service's patterns: about 4 ms of CPU for a DynamoDB GetItem, of which moto's
backend takes 0.01. Here the call is answered at ``before-call``, after botocore validated and serialized its
parameters (what AWS would refuse is refused as before): the same moto response class gets the same headers and
body through a light request object, and botocore's parser reads its answer. Skipped are transport and botocore's
retries: moto has no throttling or server error for these services, and a test that arms DynamoDB faults
(``LocalCloud.dynamodb_faults``) sends DynamoDB calls the usual way.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore import parsers
from botocore.awsrequest import AWSResponse
from botocore.endpoint import convert_to_response_dict
from moto import backend_index
from moto.awslambda.models import lambda_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.exceptions import HTTPException
from werkzeug.datastructures import Headers

# What moto answers for a synchronous response over Lambda's payload limit.
_MAX_PAYLOAD_BYTES = 6_000_000
_PAYLOAD_TOO_LARGE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}
# The services answered here: JSON protocol (the action is in X-Amz-Target, the parameters in the body).
SERVICES = frozenset({"dynamodb", "stepfunctions", "events"})


class _Request:
    """What moto's BaseResponse.setup_class reads of a request, for a JSON-protocol POST."""

    from_wsgi_server = False

    def __init__(self, method: str, url: str, headers: Any, body: bytes) -> None:
        self.method = method
        self.raw_url = url
        self.headers = Headers([(key, _text(value)) for key, value in headers.items()])
        self.data = body
        self.path = self.raw_path = urlsplit(url).path
        self.content_encoding = self.headers.get("Content-Encoding")
        self.content_type = self.headers.get("Content-Type")
        self.form: dict[str, Any] = {}
        self.files: dict[str, Any] = {}
        self.values: dict[str, Any] = {}
        self.environ: dict[str, Any] = {}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@functools.lru_cache(maxsize=256)
def _handler_for(clean_url: str) -> Callable[..., Any] | None:
    """moto's method for the URL, found as moto's BotocoreStubber finds it; None for other services."""
    import moto.backends as backends

    for service, pattern in backend_index.backend_url_patterns:
        if not pattern.match(clean_url):
            continue
        if service not in SERVICES:
            return None
        backend_dict: Any = backends.get_backend(service)  # type: ignore[call-overload]
        backend = backend_dict[DEFAULT_ACCOUNT_ID]["us-east-1"]
        for url, method in backend.urls.items():
            if re.compile(url).match(clean_url):
                return method
        return None
    return None


@functools.cache
def _parser(protocol: str) -> Any:
    return parsers.create_parser(protocol)


class InProcessCalls:
    """The ``before-call`` handler; answers only while a local cloud runs (`enabled`) and no DynamoDB fault is
    armed (`faults_armed`)."""

    def __init__(self) -> None:
        self.enabled = False
        self.faults_armed: Callable[[], bool] = lambda: False

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not self.enabled or params.get("method") != "POST":
            return None
        service, body = model.service_model, params.get("body") or b""
        if not isinstance(body, bytes | str):  # a query-protocol form: not answered here
            return None
        url = params["url"]
        parts = urlsplit(url)
        request = _Request("POST", url, params["headers"], body if isinstance(body, bytes) else body.encode())
        if service.endpoint_prefix == "lambda" and model.name == "Invoke":
            answered = _invoke(request, parts.path, parts.query)
        elif service.protocol == "json" and not (service.endpoint_prefix == "dynamodb" and self.faults_armed()):
            handler = _handler_for(f"{parts.scheme}://{parts.netloc}{parts.path}")
            if handler is None:
                return None
            answered = _answer(handler, request)
        else:
            return None
        status, headers, answer = answered
        http = AWSResponse(url, status, headers, MockRawResponse(answer))
        response, parser = convert_to_response_dict(http, model), _parser(service.resolved_protocol)
        parsed = parser.parse(response, model.output_shape)
        if status >= 300:  # as botocore's Endpoint adds them: the error's modeled fields (e.g. the Item)
            error_shape = service.shape_for_error_code(parsed.get("Error", {}).get("Code"))
            if error_shape is not None:
                parsed.update(parser.parse(response, error_shape))
        return http, parsed


def _answer(handler: Callable[..., Any], request: _Request) -> tuple[int, Any, Any]:
    try:
        status, headers, answer = handler(request, request.raw_url, request.headers)
    except HTTPException as error:  # as moto's stubber answers them
        return int(error.code or 500), error.get_headers(), error.get_body()
    return status, headers, answer


def _invoke(request: _Request, path: str, query: str) -> tuple[int, Any, Any]:
    """Lambda's Invoke (POST /2015-03-31/functions/{name}/invocations) answered as moto's LambdaResponse.invoke
    answers it (moto 5.2.5): the same backend call, status codes, headers and payload limit."""
    region = request.raw_url.split("lambda.", 1)[1].split(".amazonaws.com", 1)[0]
    function_name = unquote(path.rsplit("/", 2)[-2])
    qualifiers = parse_qs(query).get("Qualifier")
    qualifier = qualifiers[0] if qualifiers else None
    headers: dict[str, str] = {}

    def invoke() -> tuple[int, Any, Any]:
        backend = lambda_backends[DEFAULT_ACCOUNT_ID][region]
        payload = backend.invoke(function_name, qualifier, request.data, request.headers, headers)
        if payload is None:
            return 404, headers, "{}"
        kind = request.headers.get("X-Amz-Invocation-Type")
        if kind != "Event" and sys.getsizeof(payload) > _MAX_PAYLOAD_BYTES:
            headers.update({"Content-Length": "142", "x-amz-function-error": "Unhandled"})
            payload = json.dumps(_PAYLOAD_TOO_LARGE).encode()
        headers["content-type"] = "application/json"
        if kind in ("Event", "DryRun"):
            status = 202 if kind == "Event" else 204
            headers["status"] = str(status)
            return status, headers, payload
        if request.headers.get("X-Amz-Log-Type") != "Tail":
            headers.pop("x-amz-log-result", None)
        return 200, headers, payload

    return _answer(lambda *_: invoke(), request)
