"""Regenerates the trimmed AWS service models in this folder from the `botocore` package.

Usage: python3 trim.py [SERVICE...]   (botocore must be importable; defaults to the shipped set)

Keeps what the AWS protocol client reads: metadata (protocol, target prefix, JSON version, endpoint
prefix, signing name, service id), each operation's HTTP binding, input, output and errors, and the
shapes with their types, members, locations, flattening and XML names. Documentation, examples and
everything else is dropped.
"""
import gzip
import json
import os
import sys

import botocore

SERVICES = ["sqs", "sns", "dynamodb", "events", "secretsmanager", "sts", "iam", "lambda"]
META = ["apiVersion", "endpointPrefix", "globalEndpoint", "jsonVersion", "protocol", "serviceId", "signingName", "targetPrefix"]
OP = ["http", "input", "output", "errors"]
SHAPE = ["type", "members", "member", "key", "value", "flattened", "locationName", "exception", "error",
         "timestampFormat", "queryName", "location", "payload"]
MEMBER = ["shape", "location", "locationName", "flattened", "queryName", "timestampFormat", "jsonvalue", "xmlNamespace"]


def load(service):
    root = os.path.join(os.path.dirname(botocore.__file__), "data", service)
    version = sorted(os.listdir(root))[-1]
    path = os.path.join(root, version, "service-2.json")
    opener = gzip.open if not os.path.exists(path) else open
    return json.load(opener(path if os.path.exists(path) else path + ".gz", "rt"))


def trim(model):
    out = {"metadata": {k: model["metadata"][k] for k in META if k in model["metadata"]}, "operations": {}, "shapes": {}}
    for name, op in model["operations"].items():
        out["operations"][name] = {k: op[k] for k in OP if k in op}
        for e in out["operations"][name].get("errors", []):
            e.pop("documentation", None)
        for k in ("input", "output"):
            if k in out["operations"][name]:
                out["operations"][name][k] = {x: y for x, y in op[k].items() if x in ("shape", "resultWrapper")}
    for name, shape in model["shapes"].items():
        s = {k: shape[k] for k in SHAPE if k in shape}
        if "members" in s:
            s["members"] = {m: {k: v for k, v in d.items() if k in MEMBER} for m, d in s["members"].items()}
        for k in ("member", "key", "value"):
            if k in s:
                s[k] = {x: y for x, y in s[k].items() if x in MEMBER}
        out["shapes"][name] = s
    return out


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    for service in sys.argv[1:] or SERVICES:
        with open(os.path.join(here, service + ".json"), "w") as f:
            json.dump(trim(load(service)), f, separators=(",", ":"), sort_keys=True)
            f.write("\n")
