"""Least privilege: each role may do exactly what its code does, on exactly its own resources."""

from __future__ import annotations

from typing import Any

from tests.infra.stack_template import FUNCTION_PATHS, Synthesized


def _ref(name: str) -> str:
    return f"${{{name}}}"


def _attr(logical_id: str, attribute: str) -> str:
    return f"${{{logical_id}.{attribute}}}"


def _actions(statements: list[dict[str, Any]], service: str | None = None) -> set[str]:
    return {
        action
        for statement in statements
        for action in statement["Action"]
        if service is None or action.startswith(f"{service}:")
    }


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [statement for statement in statements if action in statement["Action"]]


def _reference_store_arn(synth: Synthesized) -> str:
    store = _attr(synth.logical_id("Storage/ReferenceStore"), "ReferenceStoreId")
    return f"arn:${{AWS::Partition}}:omics:${{AWS::Region}}:${{AWS::AccountId}}:referenceStore/{store}"


# --- the import role HealthOmics assumes ---------------------------------------------------------------


def test_import_role_is_trusted_only_by_healthomics_in_this_account(synth: Synthesized) -> None:
    trust = synth.resource("Storage/ImportRole")["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    assert len(trust) == 1
    assert trust[0]["Effect"] == "Allow"
    assert trust[0]["Action"] == "sts:AssumeRole"
    assert trust[0]["Principal"] == {"Service": "omics.amazonaws.com"}
    # Confused-deputy guard: only HealthOmics acting for this account.
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_import_role_may_only_read_uploads_under_the_prefix(synth: Synthesized) -> None:
    bucket = _attr(synth.logical_id("Storage/Uploads"), "Arn")
    role = synth.resource("Storage/ImportRole")["Properties"]

    statements = synth.statements_of_role("Storage/ImportRole")

    assert "ManagedPolicyArns" not in role
    assert all(statement["Effect"] == "Allow" for statement in statements)
    assert sorted((s["Action"], s["Resource"]) for s in statements) == [
        (["s3:GetBucketLocation", "s3:ListBucket"], [bucket]),
        (["s3:GetObject"], [f"{bucket}/{synth.settings.upload_prefix}*"]),
    ]


# --- the state machine role ----------------------------------------------------------------------------


def test_only_the_state_machine_may_pass_a_role_and_only_the_import_role_to_healthomics(synth: Synthesized) -> None:
    pass_role = [(policy, s) for policy, s in synth.all_statements() if _granting([s], "iam:PassRole")]
    state_machine_policy = synth.logical_id("Workflow/StateMachine/Role/DefaultPolicy")

    assert [policy for policy, _ in pass_role] == [state_machine_policy]
    statement = pass_role[0][1]
    assert statement["Action"] == ["iam:PassRole"]
    assert statement["Resource"] == [_attr(synth.logical_id("Storage/ImportRole"), "Arn")]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "omics.amazonaws.com"}}


def test_only_the_state_machine_may_start_imports_and_only_into_the_reference_store(synth: Synthesized) -> None:
    start = [(policy, s) for policy, s in synth.all_statements() if _granting([s], "omics:StartReferenceImportJob")]

    assert [policy for policy, _ in start] == [synth.logical_id("Workflow/StateMachine/Role/DefaultPolicy")]
    assert start[0][1]["Resource"] == [_reference_store_arn(synth)]


def test_state_machine_may_invoke_only_its_two_functions(synth: Synthesized) -> None:
    statements = _granting(synth.statements_of_role("Workflow/StateMachine/Role"), "lambda:InvokeFunction")
    allowed = {resource for statement in statements for resource in statement["Resource"]}

    functions = [_attr(synth.logical_id(FUNCTION_PATHS[name]), "Arn") for name in ("Prepare", "Poll")]
    assert allowed == {*functions, *(f"{arn}:*" for arn in functions)}


def test_state_machine_may_only_park_its_task_token_in_the_history_table(synth: Synthesized) -> None:
    statements = synth.statements_of_role("Workflow/StateMachine/Role")

    dynamodb = [s for s in statements if _actions([s], "dynamodb")]
    assert _actions(statements, "dynamodb") == {"dynamodb:UpdateItem"}
    assert {r for s in dynamodb for r in s["Resource"]} == {_attr(synth.logical_id("Storage/History"), "Arn")}
    assert _actions(statements, "s3") == set()
    assert _actions(statements, "omics") == {"omics:StartReferenceImportJob", "omics:TagResource"}


# --- the functions' roles ------------------------------------------------------------------------------


def test_poll_may_only_read_and_conditionally_write_the_history_table(synth: Synthesized) -> None:
    statements = synth.statements_of_role("Workflow/PollFunction/ServiceRole")

    dynamodb = [s for s in statements if _actions([s], "dynamodb")]
    assert _actions(statements, "dynamodb") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",  # the STATE item is updated in place, keeping a parked task token
        "dynamodb:ConditionCheckItem",
    }
    # The table itself: not its indexes, not other tables.
    assert {r for s in dynamodb for r in s["Resource"]} == {_attr(synth.logical_id("Storage/History"), "Arn")}


def test_poll_cannot_scan_or_delete_the_history(synth: Synthesized) -> None:
    actions = _actions(synth.statements_of_role("Workflow/PollFunction/ServiceRole"))

    forbidden = {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:*"}
    assert not actions & forbidden


def test_poll_may_read_jobs_but_never_start_or_cancel_them(synth: Synthesized) -> None:
    statements = synth.statements_of_role("Workflow/PollFunction/ServiceRole")

    assert _actions(statements, "omics") == {
        "omics:GetReferenceImportJob",
        "omics:GetReadSetExportJob",
        "omics:GetVariantImportJob",
    }
    (reference_reads,) = _granting(statements, "omics:GetReferenceImportJob")
    assert reference_reads["Resource"] == [_reference_store_arn(synth)]


def test_trigger_may_only_start_executions_of_the_state_machine(synth: Synthesized) -> None:
    statements = synth.statements_of_role("UploadTrigger/Function/ServiceRole")

    assert _actions(statements, "states") == {"states:StartExecution"}
    (start,) = _granting(statements, "states:StartExecution")
    assert start["Resource"] == [_ref(synth.logical_id("Workflow/StateMachine"))]
    assert _actions(statements, "dynamodb") == set()
    assert _actions(statements, "omics") == set()


def test_prepare_only_validates_and_has_no_data_access(synth: Synthesized) -> None:
    actions = _actions(synth.statements_of_role("Workflow/PrepareFunction/ServiceRole"))

    assert {action.split(":")[0] for action in actions} <= {"xray"}


def test_no_policy_grants_wildcard_actions(synth: Synthesized) -> None:
    wildcards = [(policy, action) for policy, s in synth.all_statements() for action in s["Action"] if "*" in action]

    assert wildcards == []
