#!/usr/bin/env python3
# ruff: noqa: S608 - SQL text is written into log lines here, never run against a database
"""One Lambda run over a window of N audit records, through moto's server: duration, peak memory, cold import.

    .venv/bin/python bench/lambda_run.py            # 10,000 and 100,000 records
    .venv/bin/python bench/lambda_run.py 20000      # other sizes

The emulator runs as its own process (`moto_server` on loopback), so the handler's process holds only what the
Lambda would: the query results, the Pipeline and the metric calls. The records are Aurora-prefix pgAudit lines,
deterministic: half from people (psql-style UPDATE/SELECT, one in ten a function call with an inner DELETE, so
two records for one statement), half from a service account that the query cannot exclude in moto (moto ignores
`filter`): the Python policy drops them, as it would any row the query let through. Each size is checked: the
published UserDMLOperationCount must equal the number of human statements written.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import resource
import socket
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GROUP = "/aws/rds/cluster/bench/postgresql"
W = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def records(n: int, start: int) -> tuple[list[tuple[int, str]], int]:
    """n audit records spread over one window; the number of human statements among them."""
    rng = random.Random(n)
    events, humans, pid, i = [], 0, 1000, 0
    while len(events) < n:
        ms = start * 1000 + (len(events) * (W - 2) * 1000) // n
        when = datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        pid += 1
        i += 1
        if i % 2:
            user = rng.choice(("alice", "bob", "carol"))
            head = f"{when}:10.0.4.{pid % 200}({40000 + pid % 20000}):{user}@app:[{pid}]:LOG:  AUDIT: SESSION,1,"
            if i % 10 == 1:
                events.append((ms, head + "1,READ,SELECT,,,SELECT purge_old(),<not logged>"))
                events.append((ms, head + f"2,WRITE,DELETE,,,DELETE FROM orders WHERE id < {pid},<not logged>"))
            else:
                events.append(
                    (ms, head + f"1,WRITE,UPDATE,,,UPDATE accounts SET note = 'n{pid}' WHERE id = {pid},<not logged>")
                )
            humans += 1
        else:
            head = f"{when}:10.0.9.1(5{pid % 10000:04d}):app_svc@app:[{pid}]:LOG:  AUDIT: SESSION,1,"
            events.append((ms, head + f"1,READ,SELECT,,,SELECT * FROM accounts WHERE id = {pid},<not logged>"))
    return events, humans  # n records, or n + 1 when the last statement has two


def cold_import_seconds() -> float:
    code = (
        "import time; t = time.perf_counter(); import pgaudit_monitor.entrypoints.lambda_handler; "
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(5)
    ]
    return sorted(runs)[len(runs) // 2]


def bench(n: int, endpoint: str) -> dict[str, float]:
    import boto3

    from pgaudit_monitor.aws.windows import iso
    from pgaudit_monitor.entrypoints import lambda_handler

    logs = boto3.client("logs")
    if logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]:
        logs.delete_log_group(logGroupName=GROUP)
    logs.create_log_group(logGroupName=GROUP)
    logs.create_log_stream(logGroupName=GROUP, logStreamName="instance-1")
    start = int(time.time()) // W * W - 6 * W
    events, humans = records(n, start)
    for i in range(0, len(events), 5000):
        logs.put_log_events(logGroupName=GROUP, logStreamName="instance-1",
                            logEvents=[{"timestamp": ms, "message": m} for ms, m in events[i : i + 5000]])  # fmt: skip
    os.environ.update(LOG_GROUP_NAME=GROUP, SERVICE_ACCOUNTS="app_*", CHECKPOINT_PARAMETER="", QUERY_POLL_SECONDS="0")
    lambda_handler.monitor.cache_clear()
    lambda_handler.monitor()  # the container's clients exist before the timed run, as on a warm start
    tracemalloc.start()
    log = io.StringIO()  # the function's log: one JSON line per detection, part of the run's cost
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(log):
        summary = lambda_handler.lambda_handler({"time": iso(start + W + 180)}, None)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if summary["detections"] != humans or summary["records"] != len(events):
        raise SystemExit(f"wrong count: {summary['detections']} of {humans} statements, {summary['records']} records")
    return {"records": len(events), "humans": humans, "queries": summary["queries"], "seconds": elapsed,
            "peak_mib": peak / 2**20}  # fmt: skip


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    env = {**os.environ, **keys}
    server = subprocess.Popen([str(ROOT / ".venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        os.environ.update(keys, AWS_ENDPOINT_URL=endpoint, AWS_REGION="us-east-1")
        os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        print(f"cold import of the handler module: {cold_import_seconds() * 1000:.0f} ms (median of 5)")
        for n in sizes:
            r = bench(n, endpoint)
            print(f"{r['records']:>7} records ({r['humans']} human statements): {r['seconds']:.2f} s, "
                  f"{r['queries']} queries, peak Python memory {r['peak_mib']:.0f} MiB")  # fmt: skip
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"handler process max RSS over the whole benchmark (data generation included): {rss:.0f} MiB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
