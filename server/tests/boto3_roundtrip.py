#!/usr/bin/env python3
"""A boto3 client against `legion serve`: the whole life cycle and AWS's exception classes.

Usage: boto3_roundtrip.py PATH_TO_LEGION

Starts `legion serve --bind 127.0.0.1:0`, points a boto3 Step Functions client at it (only
`endpoint_url` changes, plus `inject_host_prefix=False` for the `sync-` operations), runs the checks
and prints `N passed, M failed`. Exits 1 when a check fails.
"""

import json
import re
import subprocess
import sys
import time

import boto3
from botocore.config import Config

PASS = json.dumps({"StartAt": "Greet", "States": {"Greet": {
    "Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.name)"}, "End": True}}})
ROLE = "arn:aws:iam::123456789012:role/legion-boto3"

results = []


def check(name, fn):
    try:
        fn()
        results.append((name, None))
    except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
        results.append((name, repr(e)))


def expect_error(call, error_class):
    try:
        call()
    except error_class:
        return
    except Exception as e:  # noqa: BLE001
        raise AssertionError(f"expected {error_class.__name__}, got {e!r}") from e
    raise AssertionError(f"expected {error_class.__name__}, got no error")


def wait_done(sfn, arn):
    for _ in range(500):
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.02)
    raise AssertionError(f"{arn} did not end")


def main():
    server = subprocess.Popen(
        [sys.argv[1], "serve", "--bind", "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True)
    try:
        line = server.stderr.readline()
        match = re.search(r"http://([0-9.]+:[0-9]+)", line)
        if not match:
            print(f"legion serve did not start: {line!r}")
            return 1
        sfn = boto3.client(
            "stepfunctions", endpoint_url=f"http://{match.group(1)}", region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
            config=Config(inject_host_prefix=False))
        run_checks(sfn)
    finally:
        server.terminate()
        server.wait(timeout=10)
    for name, failure in results:
        if failure:
            print(f"FAIL {name}: {failure}")
    failed = sum(1 for _, f in results if f)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_checks(sfn):
    state = {}

    def create():
        state["machine"] = sfn.create_state_machine(name="greeter", definition=PASS, roleArn=ROLE)["stateMachineArn"]
        assert state["machine"].endswith(":stateMachine:greeter")
        assert sfn.describe_state_machine(stateMachineArn=state["machine"])["definition"] == PASS

    def start_describe_history_list():
        arn = sfn.start_execution(stateMachineArn=state["machine"], name="e1",
                                  input=json.dumps({"name": "Ada"}))["executionArn"]
        d = wait_done(sfn, arn)
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"]) == {"greeting": "hello Ada"}
        assert d["stopDate"] >= d["startDate"]
        events = sfn.get_execution_history(executionArn=arn)["events"]
        assert [e["type"] for e in events] == [
            "ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], events
        listed = sfn.list_executions(stateMachineArn=state["machine"])["executions"]
        assert [e["executionArn"] for e in listed] == [arn]
        paginator = sfn.get_paginator("list_state_machines")
        names = [m["name"] for page in paginator.paginate() for m in page["stateMachines"]]
        assert names == ["greeter"], names

    def stop():
        waiting = sfn.create_state_machine(name="waiter", roleArn=ROLE, definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}))
        arn = sfn.start_execution(stateMachineArn=waiting["stateMachineArn"])["executionArn"]
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        sfn.stop_execution(executionArn=arn, error="Stopped", cause="by the test")
        d = sfn.describe_execution(executionArn=arn)
        assert d["status"] == "ABORTED", d
        assert d["error"] == "Stopped" and d["cause"] == "by the test", d
        types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
        assert types[-1] == "ExecutionAborted", types

    def sync_express():
        express = sfn.create_state_machine(name="fast", definition=PASS, roleArn=ROLE, type="EXPRESS")
        r = sfn.start_sync_execution(stateMachineArn=express["stateMachineArn"], input=json.dumps({"name": "Grace"}))
        assert r["status"] == "SUCCEEDED", r
        assert json.loads(r["output"]) == {"greeting": "hello Grace"}

    def test_state():
        r = sfn.test_state(definition=json.dumps({"Type": "Pass", "Result": {"x": 1}, "Next": "N"}),
                           input="{}", inspectionLevel="DEBUG")
        assert r["status"] == "SUCCEEDED" and r["nextState"] == "N", r
        assert json.loads(r["inspectionData"]["result"]) == {"x": 1}

    def versions_and_aliases():
        v = sfn.publish_state_machine_version(stateMachineArn=state["machine"])["stateMachineVersionArn"]
        alias = sfn.create_state_machine_alias(
            name="live", routingConfiguration=[{"stateMachineVersionArn": v, "weight": 100}])["stateMachineAliasArn"]
        arn = sfn.start_execution(stateMachineArn=alias, input=json.dumps({"name": "Alias"}))["executionArn"]
        d = wait_done(sfn, arn)
        assert d["stateMachineAliasArn"] == alias and d["stateMachineVersionArn"] == v, d

    def activities():
        activity = sfn.create_activity(name="packer")["activityArn"]
        machine = sfn.create_state_machine(name="packing", roleArn=ROLE, definition=json.dumps(
            {"StartAt": "Pack", "States": {"Pack": {"Type": "Task", "Resource": activity, "End": True}}}))
        ok = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=json.dumps({"box": 1}))
        task = sfn.get_activity_task(activityArn=activity, workerName="packer-1")
        assert json.loads(task["input"]) == {"box": 1}, task
        sfn.send_task_heartbeat(taskToken=task["taskToken"])
        sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"packed": True}))
        d = wait_done(sfn, ok["executionArn"])
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"packed": True}, d
        events = sfn.get_execution_history(executionArn=ok["executionArn"])["events"]
        assert [e["type"] for e in events][2:5] == ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"], events
        assert events[3]["activityStartedEventDetails"]["workerName"] == "packer-1", events[3]
        bad = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input="{}")
        task = sfn.get_activity_task(activityArn=activity)
        sfn.send_task_failure(taskToken=task["taskToken"], error="Torn", cause="the box tore")
        d = wait_done(sfn, bad["executionArn"])
        assert d["status"] == "FAILED" and d["error"] == "Torn" and d["cause"] == "the box tore", d
        expect_error(lambda: sfn.get_activity_task(
            activityArn="arn:aws:states:us-east-1:123456789012:activity:none"), sfn.exceptions.ActivityDoesNotExist)

    def redrive():
        failing = sfn.create_state_machine(name="failing", roleArn=ROLE, definition=json.dumps(
            {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope", "Cause": "always"}}}))
        arn = sfn.start_execution(stateMachineArn=failing["stateMachineArn"])["executionArn"]
        d = wait_done(sfn, arn)
        assert d["status"] == "FAILED" and d["redriveStatus"] == "REDRIVABLE" and d["redriveCount"] == 0, d
        assert "redriveDate" in sfn.redrive_execution(executionArn=arn)
        d = wait_done(sfn, arn)
        assert d["status"] == "FAILED" and d["redriveCount"] == 1 and "redriveDate" in d, d
        types = [e["type"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
        assert types == ["ExecutionStarted", "FailStateEntered", "ExecutionFailed",
                         "ExecutionRedriven", "FailStateEntered", "ExecutionFailed"], types
        listed = sfn.list_executions(stateMachineArn=failing["stateMachineArn"], redriveFilter="REDRIVEN")
        assert [e["executionArn"] for e in listed["executions"]] == [arn], listed
        succeeded = state["machine"].replace(":stateMachine:", ":execution:") + ":e1"
        expect_error(lambda: sfn.redrive_execution(executionArn=succeeded), sfn.exceptions.ExecutionNotRedrivable)

    def errors():
        c = sfn.exceptions
        machine = state["machine"]
        expect_error(lambda: sfn.describe_execution(executionArn=machine.replace(":stateMachine:", ":execution:") + ":nope"),
                     c.ExecutionDoesNotExist)
        expect_error(lambda: sfn.start_execution(stateMachineArn=machine + "-absent"), c.StateMachineDoesNotExist)
        expect_error(lambda: sfn.describe_state_machine(stateMachineArn="not-an-arn"), c.InvalidArn)
        expect_error(lambda: sfn.create_state_machine(name="bad", roleArn=ROLE, definition='{"StartAt": "A"}'),
                     c.InvalidDefinition)
        expect_error(lambda: sfn.create_state_machine(name="bad name", roleArn=ROLE, definition=PASS), c.InvalidName)
        expect_error(lambda: sfn.start_execution(stateMachineArn=machine, name="e1", input='{"other": 1}'),
                     c.ExecutionAlreadyExists)
        expect_error(lambda: sfn.start_execution(stateMachineArn=machine, input="{oops"), c.InvalidExecutionInput)
        expect_error(lambda: sfn.send_task_success(taskToken="unknown", output="{}"), c.TaskDoesNotExist)
        expect_error(lambda: sfn.list_executions(stateMachineArn=machine, nextToken="forged"), c.InvalidToken)
        expect_error(lambda: sfn.describe_activity(
            activityArn="arn:aws:states:us-east-1:123456789012:activity:none"), c.ActivityDoesNotExist)

    for name, fn in [("create", create), ("start, describe, history, list", start_describe_history_list),
                     ("stop", stop), ("sync express", sync_express), ("test state", test_state),
                     ("versions and aliases", versions_and_aliases), ("activities", activities), ("redrive", redrive),
                     ("errors", errors)]:
        check(name, fn)


if __name__ == "__main__":
    sys.exit(main())
