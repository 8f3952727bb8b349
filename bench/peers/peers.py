"""Runs the same workloads on Legion and on two peers, and prints times, ratios and failures.

Two comparisons, each on the same machine in one run:

- whole processes: `legion run` (release build) against `local-sfn`, the command-line runner of
  aws-local-stepfunctions (npm): start, parse, run, print, exit;
- through the Step Functions API: `legion serve` against moto_server with its state machine
  interpreter turned on (`execute_state_machine`), both driven by boto3: CreateStateMachine once,
  then the time from StartExecution until DescribeExecution reports the end (polled at 2 % of the
  time so far, every 0.5 to 5 ms: a short run is not rounded up to the next 5 ms, a long one is not
  loaded by its polling).

Workloads: 200 Pass states; an inline Map of 1,000 and 10,000 items; a Distributed Map of 1,000 and
10,000 Pass children (items from the input); a Distributed Map over an S3 listing (listObjectsV2) of
10,000 objects, without and with an ItemBatcher (100 items a batch), whose children return 1. The
listing is served to Legion by its embedded S3 endpoint (`--s3-root`), to moto by moto's own S3.

A run counts only when it ends SUCCEEDED with the expected number of results; otherwise the peer
"could not" and the reason is printed. Usage: see run.sh, which installs the peers and calls this
with the scratch folder's Python (boto3 and moto come with moto[server]).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

BUCKET = "peers-bench"
OBJECTS = 10_000
BATCH = 100
ROLE = "arn:aws:iam::123456789012:role/peers-bench"
REGION = "us-east-1"


def pass_chain(n):
    states = {f"P{i}": {"Type": "Pass", "Next": f"P{i + 1}"} for i in range(n - 1)}
    states[f"P{n - 1}"] = {"Type": "Pass", "End": True}
    return {"StartAt": "P0", "States": states}


def pass_child(result=None):
    """A child of one Pass state: it returns its item, or `result` when given (an S3 listing's items
    are objects of about 150 bytes: 10,000 of them exceed the 256 KiB a state may return)."""
    child = {"Type": "Pass", "End": True}
    if result is not None:
        child["Result"] = result
    return {"StartAt": "Child", "States": {"Child": child}}


def counted(map_state):
    """The Map state, then a Pass state that counts its results (so that every peer prints a line, not
    the 10,000 results, and the count shows that every item ran)."""
    count = {"Type": "Pass", "Parameters": {"count.$": "States.ArrayLength($)"}, "End": True}
    return {"StartAt": "Map", "States": {"Map": dict(map_state, Next="Count"), "Count": count}}


def inline_map():
    processor = dict(pass_child(), ProcessorConfig={"Mode": "INLINE"})
    return counted({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor})


def distributed_map(reader=False, batched=False):
    child = pass_child(1 if reader else None)
    processor = dict(child, ProcessorConfig={"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
    state = {"Type": "Map", "ItemProcessor": processor}
    if reader:
        state["ItemReader"] = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": BUCKET}}
    else:
        state["ItemsPath"] = "$.items"
    if batched:
        state["ItemBatcher"] = {"MaxItemsPerBatch": BATCH}
    return counted(state)


def items(n):
    return {"items": list(range(n))}


def workloads():
    """Name, definition, input, expected result count (None: not a list), needs S3."""
    return [
        ("pass-200", pass_chain(200), {"count": 0}, None, False),
        ("inline-map-1000", inline_map(), items(1000), 1000, False),
        ("inline-map-10000", inline_map(), items(10_000), 10_000, False),
        ("distributed-map-1000", distributed_map(), items(1000), 1000, False),
        ("distributed-map-10000", distributed_map(), items(10_000), 10_000, False),
        ("s3-list-10000", distributed_map(reader=True), {}, OBJECTS, True),
        ("s3-list-10000-batched", distributed_map(reader=True, batched=True), {}, OBJECTS // BATCH, True),
    ]


COUNT = re.compile(r"""["']?count["']?\s*:\s*(\d+)""")


def check(output, expected):
    """None when the printed output counts the expected number of results, else why not. The output
    is JSON (Legion, the API) or node's printing of the value (`{ count: 1000 }`, local-sfn)."""
    if expected is None:
        return None
    found = COUNT.search(output or "")
    if not found:
        return f"no count in the output: {(output or '').strip()[:120]}"
    if int(found.group(1)) != expected:
        return f"{found.group(1)} results instead of {expected}"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def run_process(cmd, stdin_text, timeout):
    """(seconds, stdout, error or None) of one whole process."""
    start = time.perf_counter()
    try:
        p = subprocess.run(cmd, input=stdin_text, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "", f"did not finish within {timeout} s"
    seconds = time.perf_counter() - start
    if p.returncode != 0:
        lines = (p.stderr.strip() or p.stdout.strip()).splitlines()
        reason = next((line for line in lines if "rror" in line), lines[0] if lines else "")
        return None, p.stdout, f"exit {p.returncode}: {reason.strip()[:160]}"
    return seconds, p.stdout, None


class Table:
    def __init__(self):
        self.rows = {}
        self.failures = []

    def put(self, workload, column, seconds, error):
        self.rows.setdefault(workload, {})[column] = seconds
        if error:
            self.failures.append((column, workload, error))
        print(f"  {workload:24} {column:12} {fmt(seconds) if seconds else 'could not: ' + error}", flush=True)


def fmt(seconds):
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def ratio(peer, legion):
    if peer is None or legion is None or legion <= 0:
        return "-"
    return f"{peer / legion:.1f}x"


def processes(args, table, folder):
    print("== whole processes: legion run (release) and local-sfn", flush=True)
    s3_root = os.path.join(args.scratch, "s3")
    for name, definition, given, expected, needs_s3 in workloads():
        path = os.path.join(folder, f"{name}.json")
        text = json.dumps(given)
        cmd = [args.legion, "run", path, "--input", text, "-q"]
        if needs_s3:
            cmd += ["--s3-root", s3_root]
        times, error = [], None
        for _ in range(args.legion_repeats):
            seconds, out, error = run_process(cmd, None, args.timeout)
            error = error or check(out, expected)
            if error:
                break
            times.append(seconds)
        table.put(name, "legion run", None if error else statistics.median(times), error)
        cmd = [args.local_sfn, "-f", path]
        seconds, out, error = run_process(cmd, text, args.timeout)
        error = error or check(out, expected)
        table.put(name, "local-sfn", None if error else seconds, error)


def sfn_client(port):
    config = Config(retries={"max_attempts": 1}, read_timeout=600, connect_timeout=10)
    return boto3.client(
        "stepfunctions", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test", config=config,
    )


def through_api(client, name, definition, given, expected, timeout):
    """(seconds, error) from StartExecution to the end, polling DescribeExecution every 0.5 to 5 ms."""
    try:
        arn = client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
        start = time.perf_counter()
        execution = client.start_execution(stateMachineArn=arn, input=json.dumps(given))["executionArn"]
        while True:
            d = client.describe_execution(executionArn=execution)
            if d["status"] != "RUNNING":
                break
            elapsed = time.perf_counter() - start
            if elapsed > timeout:
                return None, f"still RUNNING after {timeout} s"
            time.sleep(min(0.005, max(0.0005, 0.02 * elapsed)))
        seconds = time.perf_counter() - start
    except Exception as e:  # a peer's API error is a result to report, not a crash
        return None, f"{type(e).__name__}: {str(e)[:160]}"
    if d["status"] != "SUCCEEDED":
        return None, f"{d['status']}: {d.get('error', '')} {str(d.get('cause', ''))[:160]}"
    error = check(d.get("output"), expected)
    return (None if error else seconds), error


def api(args, table):
    print("== through the API: legion serve (release) and moto_server, driven by boto3", flush=True)
    s3_root = os.path.join(args.scratch, "s3")
    legion_port, moto_port = free_port(), free_port()
    legion = subprocess.Popen(
        [args.legion, "serve", "--bind", f"127.0.0.1:{legion_port}", "--s3-root", s3_root],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    moto_log = open(os.path.join(args.scratch, "moto.log"), "w")
    moto = subprocess.Popen([args.moto_server, "-H", "127.0.0.1", "-p", str(moto_port)], stdout=moto_log, stderr=moto_log)
    try:
        wait_port(legion_port)
        wait_port(moto_port)
        enable_moto_interpreter(moto_port)
        load_moto_bucket(moto_port)
        legion_client, moto_client = sfn_client(legion_port), sfn_client(moto_port)
        for i, (name, definition, given, expected, _) in enumerate(workloads()):
            times, error = [], None
            for r in range(args.legion_repeats):
                seconds, error = through_api(legion_client, f"{name}-{r}", definition, given, expected, args.timeout)
                if error:
                    break
                times.append(seconds)
            table.put(name, "legion API", None if error else statistics.median(times), error)
            seconds, error = through_api(moto_client, name, definition, given, expected, args.timeout)
            table.put(name, "moto API", None if error else seconds, error)
    finally:
        for p in (legion, moto):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def enable_moto_interpreter(port):
    body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/config", data=body, method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=30).read()


def load_moto_bucket(port):
    s3 = boto3.client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
    )
    s3.create_bucket(Bucket=BUCKET)
    started = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=key(i), Body=b"{}"), range(OBJECTS)))
    print(f"  (moto: {OBJECTS} objects written in {time.perf_counter() - started:.1f} s, not timed)", flush=True)


def key(i):
    return f"item-{i:05}.json"


def write_bucket(scratch):
    bucket = os.path.join(scratch, "s3", BUCKET)
    if os.path.isdir(bucket) and len(os.listdir(bucket)) == OBJECTS:
        return
    shutil.rmtree(bucket, ignore_errors=True)
    os.makedirs(bucket)
    for i in range(OBJECTS):
        with open(os.path.join(bucket, key(i)), "w") as f:
            f.write("{}")


def write_definitions(scratch):
    folder = os.path.join(scratch, "workloads")
    os.makedirs(folder, exist_ok=True)
    for name, definition, *_ in workloads():
        with open(os.path.join(folder, f"{name}.json"), "w") as f:
            json.dump(definition, f)
    return folder


def report(table):
    print()
    header = f"{'workload':24} {'legion run':>12} {'local-sfn':>12} {'ratio':>8}   {'legion API':>12} {'moto API':>12} {'ratio':>8}"
    print(header)
    print("-" * len(header))
    for name, *_ in workloads():
        r = table.rows.get(name, {})
        print(
            f"{name:24} {fmt(r.get('legion run')):>12} {fmt(r.get('local-sfn')):>12} "
            f"{ratio(r.get('local-sfn'), r.get('legion run')):>8}   {fmt(r.get('legion API')):>12} "
            f"{fmt(r.get('moto API')):>12} {ratio(r.get('moto API'), r.get('legion API')):>8}"
        )
    print()
    print("ratio: the peer's time over Legion's (higher: Legion faster); '-' where a side could not run it")
    if table.failures:
        print("could not:")
        for column, name, error in table.failures:
            print(f"  {column} {name}: {error}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scratch", required=True)
    p.add_argument("--legion", required=True)
    p.add_argument("--local-sfn", required=True)
    p.add_argument("--moto-server", required=True)
    p.add_argument("--timeout", type=float, default=300, help="seconds one run may take")
    p.add_argument("--legion-repeats", type=int, default=3, help="Legion's runs per workload (the median counts)")
    p.add_argument("--only", choices=["processes", "api"], help="one comparison only")
    args = p.parse_args()
    folder = write_definitions(args.scratch)
    write_bucket(args.scratch)
    table = Table()
    if args.only in (None, "processes"):
        processes(args, table, folder)
    if args.only in (None, "api"):
        api(args, table)
    report(table)


if __name__ == "__main__":
    sys.exit(main())
