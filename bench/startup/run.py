#!/usr/bin/env python3
"""Start-up of `legion run` and `legion validate` on a one-state machine, as whole processes.

Usage: bench/startup/run.py [-n ROUNDS] LEGION [LEGION...]

Each command (`/bin/true`, then `validate` and `run --quiet` of every binary given) runs once per
round, round-robin, after 10 warm-up rounds, so that the machine's load falls on all of them alike.
Prints the median and 90th percentile of the wall time (spawn to exit, as seen by the parent) and the
mean CPU time (user + system) of each command.
"""
import argparse
import os
import statistics
import tempfile
import time

DEFINITION = '{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}'


def once(argv, devnull):
    started = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - started) * 1000
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", "--rounds", type=int, default=300)
    parser.add_argument("binaries", nargs="+")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        machine = os.path.join(scratch, "one.json")
        with open(machine, "w") as f:
            f.write(DEFINITION)
        commands = [("/bin/true", ["/bin/true"])]
        for binary in args.binaries:
            binary = os.path.abspath(binary)
            commands.append((f"{binary} validate", [binary, "validate", machine]))
            commands.append((f"{binary} run --quiet", [binary, "run", machine, "--quiet"]))
        devnull = os.open(os.devnull, os.O_WRONLY)
        for _ in range(10):
            for _, argv in commands:
                once(argv, devnull)
        walls = {label: [] for label, _ in commands}
        cpus = {label: [] for label, _ in commands}
        for _ in range(args.rounds):
            for label, argv in commands:
                wall, cpu = once(argv, devnull)
                walls[label].append(wall)
                cpus[label].append(cpu)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{args.rounds} rounds, {os.cpu_count()} cores, load average {load}")
    for label, _ in commands:
        w = sorted(walls[label])
        print(f"  {label:60s} wall median {statistics.median(w):5.2f} ms, p90 {w[int(len(w) * 0.9)]:5.2f} ms;"
              f" CPU mean {statistics.mean(cpus[label]):5.2f} ms")


if __name__ == "__main__":
    main()
