#!/usr/bin/env python3
"""Time two commands side by side, A B A B ..., and report wall time, CPU time and peak memory of each.

Why alternate: the ratio A/B is what the benchmark is about, and a machine's speed drifts (other load, frequency
scaling, the page cache). Taking the ratio pair by pair, each A with the B run right after it, keeps it
meaningful; quote the median, min and max show the spread. Whole processes are timed, start-up included, because
that is what a user of the command waits for.

Each command is one shell command line (it may redirect), run as `sh -c 'exec COMMAND'` so that the process
measured is the command itself, not a shell around it. Standard library only, so that anyone can rerun it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    max_rss_kib: int
    status: int


def run_once(command: str) -> Run:
    """Run one command to its end; the operating system's own accounting of the child for CPU and memory."""
    start = time.perf_counter()
    process = subprocess.Popen(["/bin/sh", "-c", f"exec {command}"], stdin=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode)


def spread(values: list[float], unit: str = "s", digits: int = 3) -> str:
    """min / median / max of a list of figures."""
    return (
        f"min {min(values):.{digits}f}{unit}  median {statistics.median(values):.{digits}f}{unit}  "
        f"max {max(values):.{digits}f}{unit}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="measured runs of each command (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured runs of each first (default 1)")
    parser.add_argument("command_a", metavar="A", help="the command measured")
    parser.add_argument("command_b", metavar="B", help="the yardstick it is compared with")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")

    for _ in range(args.warmup):
        run_once(args.command_a)
        run_once(args.command_b)
    runs_a: list[Run] = []
    runs_b: list[Run] = []
    for _ in range(args.runs):
        runs_a.append(run_once(args.command_a))
        runs_b.append(run_once(args.command_b))

    for name, command, runs in (("A", args.command_a, runs_a), ("B", args.command_b, runs_b)):
        print(f"{name}: {command}")
        print(f"   wall  {spread([r.wall for r in runs])}")
        print(f"   cpu   {spread([r.cpu for r in runs])}")
        print(f"   peak  {spread([r.max_rss_kib / 1024 for r in runs], ' MiB', 1)}")
        print(f"   exit  {sorted({r.status for r in runs})}")
    ratios = [a.wall / b.wall for a, b in zip(runs_a, runs_b, strict=True)]
    print(f"A/B wall, pair by pair: {spread(ratios, 'x', 2)}")
    print(f"ratio_median={statistics.median(ratios):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
