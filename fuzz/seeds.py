#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/TARGET/) from the recorded AWS cases.

Usage: python3 fuzz/seeds.py [CASES_DIR]   (default: ../shared/conformance/cases beside the checkout)

- parse_definition: every recorded definition, as text.
- run_execution: definition, NUL, input, for every execution case.
- evaluate_expression: every path, intrinsic call, payload template and JSONata expression found in
  the definitions (kind byte, expression, NUL, the case's input as the document).
- api_request: one request per operation (operation byte, body), plus TestState requests of the
  recorded TestState cases.
Seeds are named by their content's hash, so running the script twice writes nothing new.
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "conformance", "cases")

# Must match legion_fuzz::operation: the order of legion_server::Operation::ALL, then an unknown one.
OPERATIONS = [
    "CreateStateMachine", "DescribeStateMachine", "UpdateStateMachine", "DeleteStateMachine", "ListStateMachines",
    "ValidateStateMachineDefinition", "PublishStateMachineVersion", "ListStateMachineVersions",
    "DeleteStateMachineVersion", "CreateStateMachineAlias", "DescribeStateMachineAlias", "UpdateStateMachineAlias",
    "DeleteStateMachineAlias", "ListStateMachineAliases", "TagResource", "UntagResource", "ListTagsForResource",
    "StartExecution", "StartSyncExecution", "DescribeExecution", "StopExecution", "ListExecutions",
    "GetExecutionHistory", "RedriveExecution", "DescribeStateMachineForExecution", "DescribeMapRun", "ListMapRuns",
    "UpdateMapRun", "CreateActivity", "DescribeActivity", "DeleteActivity", "ListActivities", "GetActivityTask",
    "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat", "TestState", "NoSuchOperation",
]
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:fuzz"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:fuzz:first"
ACTIVITY = "arn:aws:states:us-east-1:123456789012:activity:act"
ROLE = "arn:aws:iam::123456789012:role/r"
PASS = '{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}'
API_BODIES = {
    "CreateStateMachine": {"name": "m2", "definition": PASS, "roleArn": ROLE, "type": "EXPRESS", "publish": True},
    "DescribeStateMachine": {"stateMachineArn": MACHINE},
    "UpdateStateMachine": {"stateMachineArn": MACHINE, "definition": PASS, "publish": True, "versionDescription": "v"},
    "DeleteStateMachine": {"stateMachineArn": MACHINE},
    "ListStateMachines": {"maxResults": 1, "nextToken": "x"},
    "ValidateStateMachineDefinition": {"definition": PASS, "type": "STANDARD", "severity": "WARNING", "maxResults": 5},
    "PublishStateMachineVersion": {"stateMachineArn": MACHINE, "description": "d"},
    "ListStateMachineVersions": {"stateMachineArn": MACHINE, "maxResults": 1000},
    "DeleteStateMachineVersion": {"stateMachineVersionArn": MACHINE + ":1"},
    "CreateStateMachineAlias": {"name": "live", "routingConfiguration": [{"stateMachineVersionArn": MACHINE + ":1", "weight": 100}]},
    "DescribeStateMachineAlias": {"stateMachineAliasArn": MACHINE + ":live"},
    "UpdateStateMachineAlias": {"stateMachineAliasArn": MACHINE + ":live", "description": "x"},
    "DeleteStateMachineAlias": {"stateMachineAliasArn": MACHINE + ":live"},
    "ListStateMachineAliases": {"stateMachineArn": MACHINE},
    "TagResource": {"resourceArn": MACHINE, "tags": [{"key": "k", "value": "v"}]},
    "UntagResource": {"resourceArn": MACHINE, "tagKeys": ["k"]},
    "ListTagsForResource": {"resourceArn": MACHINE},
    "StartExecution": {"stateMachineArn": MACHINE, "name": "second", "input": "{\"a\": 1}"},
    "StartSyncExecution": {"stateMachineArn": MACHINE, "input": "{}"},
    "DescribeExecution": {"executionArn": EXECUTION},
    "StopExecution": {"executionArn": EXECUTION, "error": "E", "cause": "C"},
    "ListExecutions": {"stateMachineArn": MACHINE, "statusFilter": "RUNNING", "maxResults": 2},
    "GetExecutionHistory": {"executionArn": EXECUTION, "reverseOrder": True, "includeExecutionData": False},
    "RedriveExecution": {"executionArn": EXECUTION},
    "DescribeStateMachineForExecution": {"executionArn": EXECUTION},
    "DescribeMapRun": {"mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:fuzz/m:1"},
    "ListMapRuns": {"executionArn": EXECUTION},
    "UpdateMapRun": {"mapRunArn": "arn:aws:states:us-east-1:123456789012:mapRun:fuzz/m:1", "maxConcurrency": 5, "toleratedFailurePercentage": 200.5},
    "CreateActivity": {"name": "act2", "tags": [{"key": "a", "value": "b"}]},
    "DescribeActivity": {"activityArn": ACTIVITY},
    "DeleteActivity": {"activityArn": ACTIVITY},
    "ListActivities": {},
    "GetActivityTask": {"activityArn": ACTIVITY, "workerName": "w"},
    "SendTaskSuccess": {"taskToken": "AAAA", "output": "{}"},
    "SendTaskFailure": {"taskToken": "AAAA", "error": "E", "cause": "C"},
    "SendTaskHeartbeat": {"taskToken": "AAAA"},
    "TestState": {"definition": '{"Type": "Pass", "End": true}', "input": "{}", "inspectionLevel": "TRACE"},
    "NoSuchOperation": {},
}


def write(target, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


def expressions(value, out):
    """Collects (kind, text) for every expression in a definition: 0 path, 2 intrinsic, 3 template, 4 JSONata."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("Parameters", "ResultSelector", "ItemSelector") and isinstance(v, (dict, list)):
                out.append((3, json.dumps(v)))
            if k.endswith(".$") and isinstance(v, str):
                out.append((2 if v.startswith("States.") else 0, v))
            if k.endswith("Path") and isinstance(v, str):
                out.append((1 if k == "ResultPath" else 0, v))
            expressions(v, out)
    elif isinstance(value, list):
        for v in value:
            expressions(v, out)
    elif isinstance(value, str) and value.startswith("{%") and value.endswith("%}"):
        out.append((4, value[2:-2].strip()))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def text(value):
    return value if isinstance(value, str) else json.dumps(value)


def main():
    if not os.path.isdir(CASES):
        print(f"seeds: no recorded cases at {CASES}; the targets start from an empty corpus")
        return
    count = 0
    for folder, _, files in os.walk(CASES):
        for name in sorted(files):
            if not name.endswith(".json"):
                continue
            try:
                case = load(os.path.join(folder, name))
            except (OSError, ValueError):
                continue
            definition = case.get("definition")
            if definition is None:
                continue
            definition_text = text(definition).encode()
            input_text = (case.get("input_raw") or text(case.get("input") or {})).encode()
            write("parse_definition", definition_text)
            if case.get("kind") == "execution":
                write("run_execution", definition_text + b"\0" + input_text)
            if case.get("kind") == "test_state" or "test_state" in folder:
                body = {"definition": text(definition), "input": input_text.decode(), "inspectionLevel": "DEBUG"}
                write("api_request", bytes([OPERATIONS.index("TestState")]) + json.dumps(body).encode())
            parsed = definition if isinstance(definition, dict) else None
            if parsed is None:
                try:
                    parsed = json.loads(definition)
                except ValueError:
                    parsed = None
            found = []
            expressions(parsed, found)
            for kind, expression in found:
                write("evaluate_expression", bytes([kind]) + expression.encode() + b"\0" + input_text)
            count += 1
    for i, operation in enumerate(OPERATIONS):
        write("api_request", bytes([i]) + json.dumps(API_BODIES[operation]).encode())
    print(f"seeds: {count} recorded cases written to {os.path.join(HERE, 'corpus')}")


if __name__ == "__main__":
    main()
