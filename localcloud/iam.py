"""IAM as AWS evaluates it, for the calls the tracker makes: each call of a function or of the state
machine is checked against that principal's policies in the synthesized template, and refused with
AccessDeniedException where AWS would refuse it.

moto does not evaluate policies for the in-process handlers (they run with test credentials), so the
local cloud does it here: the principal making a call is the role of the function or execution running
on the calling thread (`acting_as`); calls made by no principal (tests, the deployer) are not checked.
The evaluation follows AWS's for identity policies without boundaries or SCPs: an explicit Deny wins,
otherwise some Allow statement must match the action, every resource and the conditions.
"""

from __future__ import annotations

import contextlib
import fnmatch
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

_local = threading.local()


@contextlib.contextmanager
def acting_as(role_arn: str | None) -> Iterator[None]:
    """Calls made on this thread inside the block are made by `role_arn`."""
    previous = getattr(_local, "principal", None)
    _local.principal = role_arn
    try:
        yield
    finally:
        _local.principal = previous


def current_principal() -> str | None:
    return getattr(_local, "principal", None)


@dataclass(frozen=True)
class Request:
    """What IAM evaluates for one call: an action on resources, with the request's condition keys."""

    action: str
    resources: tuple[str, ...]
    context: dict[str, str] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


_CONDITIONS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": lambda expected, actual: _matches(expected, actual),
    "ArnEquals": lambda expected, actual: expected == actual,
    "ArnLike": lambda expected, actual: _matches(expected, actual),
}


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Statement:
        return cls(
            raw["Effect"],
            tuple(_as_list(raw.get("Action", []))),
            tuple(_as_list(raw.get("Resource", []))),
            dict(raw.get("Condition", {})),
        )

    def covers(self, request: Request, resource: str) -> bool:
        return (
            any(_matches(action, request.action, case_sensitive=False) for action in self.actions)
            and any(_matches(pattern, resource) for pattern in self.resources)
            and self._conditions_hold(request.context)
        )

    def _conditions_hold(self, context: dict[str, str]) -> bool:
        for operator, keys in self.conditions.items():
            test = _CONDITIONS.get(operator)
            if test is None:
                return False  # an operator this evaluator does not know: do not grant on it
            for key, expected in keys.items():
                actual = context.get(key)
                if actual is None or not any(test(str(value), actual) for value in _as_list(expected)):
                    return False
        return True


@dataclass
class Policies:
    """Every identity-policy statement of every role, by role ARN."""

    by_role: dict[str, list[Statement]] = field(default_factory=dict)

    def allows(self, role_arn: str, request: Request) -> bool:
        statements = self.by_role.get(role_arn, [])
        for resource in request.resources:
            if any(s.effect == "Deny" and s.covers(request, resource) for s in statements):
                return False
            if not any(s.effect == "Allow" and s.covers(request, resource) for s in statements):
                return False
        return True

    def check(self, role_arn: str, request: Request, service_error: str = "AccessDeniedException") -> None:
        if not self.allows(role_arn, request):
            raise ClientError(
                {
                    "Error": {
                        "Code": service_error,
                        "Message": f"User: {role_arn} is not authorized to perform: {request.action} on resource: "
                        f"{', '.join(request.resources)} because no identity-based policy allows the "
                        f"{request.action} action",
                    }
                },
                request.action.split(":", 1)[1],
            )


def policies_of(
    resources: dict[str, dict[str, Any]], resolve: Callable[[Any], Any], role_arns: dict[str, str]
) -> Policies:
    """The roles' statements from the template: inline policies and AWS::IAM::Policy resources
    (`role_arns`: role logical id -> ARN). AWS managed policies (basic execution: logs only) are not read."""
    policies = Policies({arn: [] for arn in role_arns.values()})
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            documents = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
            roles = [logical_id]
        elif resource["Type"] == "AWS::IAM::Policy":
            documents = [props["PolicyDocument"]]
            roles = [role["Ref"] for role in props.get("Roles", []) if isinstance(role, dict) and "Ref" in role]
        else:
            continue
        for document in documents:
            statements = [Statement.of(raw) for raw in _as_list(resolve(document)["Statement"])]
            for role in roles:
                policies.by_role.setdefault(role_arns[role], []).extend(statements)
    return policies


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _dynamodb(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    if operation == "TransactWriteItems":
        return [
            Request(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", (arn(f"table/{body['TableName']}"),))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    return [Request(f"dynamodb:{operation}", (arn(f"table/{params['TableName']}"),))] if "TableName" in params else []


def _states(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    # SendTask* are answered by token; which state machine a token belongs to is not known here: not checked.
    if operation == "StartExecution":
        return [Request("states:StartExecution", (params["stateMachineArn"],))]
    return []


def _lambda(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    if operation != "Invoke":
        return []
    name = str(params["FunctionName"])
    function = name if name.startswith("arn:") else arn(f"function:{name}")
    return [Request("lambda:InvokeFunction", (function,))]


def _omics(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    from tracker.contract import JOB_TYPES  # the table as the handlers see it now (tests may extend it)

    for spec in JOB_TYPES.values():
        if spec.get_operation == operation:
            ids = {field.name: str(params.get(field.api_param, "*")) for field in spec.ids}
            resource = "*" if spec.iam_resource == "*" else arn(spec.iam_resource.format(**ids))
            return [Request(spec.iam_action, (resource,))]
        if spec.list_operation == operation:  # on the store, if the kind has stores (Service Authorization Reference)
            stores = {field.name: str(params.get(field.api_param, "*")) for field in spec.ids}
            resource = "*" if spec.list_iam_resource == "*" else arn(spec.iam_resource.format(**stores))
            return [Request(f"omics:{operation}", (resource,))]
    if operation in ("ListReferenceStores", "ListSequenceStores", "CreateReferenceStore"):
        return [Request(f"omics:{operation}", ("*",))]  # no resource-level permissions
    if operation != "StartReferenceImportJob":
        return []
    store = arn(f"referenceStore/{params['referenceStoreId']}")
    requests = [
        Request("omics:StartReferenceImportJob", (store,)),
        Request("iam:PassRole", (params["roleArn"],), {"iam:PassedToService": "omics.amazonaws.com"}),
    ]
    if any(source.get("tags") for source in params.get("sources", [])):
        # Tags on the imported references are applied at creation: TagResource on the references.
        requests.append(Request("omics:TagResource", (f"{store}/reference/*",)))
    return requests


def _sqs(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    if operation != "SendMessage":
        return []
    return [Request("sqs:SendMessage", (arn(str(params["QueueUrl"]).rstrip("/").rsplit("/", 1)[-1]),))]


def _events(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    if operation != "PutEvents":
        return []
    requests = []
    for entry in params.get("Entries", []):
        bus = str(entry.get("EventBusName") or "default")
        # Each entry is authorized on its bus, with its source and detail-type as the events:source and
        # events:detail-type condition keys (EventBridge's "Using IAM policy conditions").
        bus_arn = bus if bus.startswith("arn:") else arn(f"event-bus/{bus}")
        keys = {"events:source": str(entry.get("Source", "")), "events:detail-type": str(entry.get("DetailType", ""))}
        requests.append(Request("events:PutEvents", (bus_arn,), keys))
    return requests


def _sns(operation: str, params: dict[str, Any], arn: Callable[[str], str]) -> list[Request]:
    return (
        [Request("sns:Publish", (str(params["TopicArn"]),))] if operation == "Publish" and "TopicArn" in params else []
    )


REQUESTS: dict[str, Callable[[str, dict[str, Any], Callable[[str], str]], list[Request]]] = {
    "events": _events,
    "sns": _sns,
    "sqs": _sqs,
    "dynamodb": _dynamodb,
    "states": _states,
    "lambda": _lambda,
    "omics": _omics,
}


def requests_for(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> list[Request]:
    """What IAM evaluates for one API call of the services the tracker calls (others: nothing)."""
    service_prefix = {"stepfunctions": "states", "sfn": "states"}.get(service, service)
    build = REQUESTS.get(service_prefix)
    return build(operation, params, lambda resource: _arn(service_prefix, region, account, resource)) if build else []
