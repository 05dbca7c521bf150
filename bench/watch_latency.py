"""Local mode's speed: detection latency and the watcher's cost under service-account load.

1. Latency: from the commit of a human's UPDATE in an interactive psql session (no next statement, no disconnection
   to complete it) to the HTTPS webhook receiving the ALARM, over N statements (each waits for the alarm to be OK
   again first, so that each UPDATE is a transition).
2. Load: PostgreSQL writes ~10,000 audit lines per second of a service account's traffic (a function whose inner
   statements pgAudit logs one by one); the watcher's CPU (utime+stime from /proc) and memory (VmRSS, VmHWM), the
   line rate actually written, and a few latencies under that load.

    .venv/bin/python bench/watch_latency.py [--statements 100] [--load-seconds 30] [--rate 10000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

import psycopg

from pgserver import PgServer
from watchkit import HttpsReceiver, WatcherProcess, make_certificate, wait_for

SETUP = """
CREATE EXTENSION pgaudit;
CREATE ROLE alice LOGIN; CREATE ROLE app_svc LOGIN;
ALTER ROLE alice SET pgaudit.log TO 'all';
ALTER ROLE app_svc SET pgaudit.log TO 'all';
CREATE TABLE accounts (id int PRIMARY KEY, balance numeric);
INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 100) g;
GRANT ALL ON accounts TO alice, app_svc;
CREATE FUNCTION burst(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN FOR i IN 1..n LOOP PERFORM balance FROM accounts WHERE id = 1 + i % 100; END LOOP; END $$;
GRANT EXECUTE ON FUNCTION burst(int) TO app_svc;
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Psql:
    """One interactive psql session: a statement, then `\\echo` to know it committed."""

    def __init__(self, server: PgServer, user: str) -> None:
        cmd = ["psql", "-X", "-q", "-h", server.host, "-p", str(server.port), "-U", user, "-d", "postgres"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def run(self, sql: str) -> float:
        assert self.proc.stdin
        assert self.proc.stdout
        self.proc.stdin.write(f"{sql};\n\\echo committed\n")
        self.proc.stdin.flush()
        while self.proc.stdout.readline().strip() != "committed":
            pass
        return time.time()

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def ok_again(watcher: WatcherProcess) -> bool:
    alarm = watcher.meta("alarm") or {}
    return alarm.get("state", "OK") == "OK"


def measure_latencies(server: PgServer, hook: HttpsReceiver, watcher: WatcherProcess, count: int) -> list[float]:
    psql = Psql(server, "alice")
    latencies = []
    try:
        for i in range(count):
            wait_for(lambda: ok_again(watcher), "OK", timeout=30)
            before = len(hook.delivered)
            committed = psql.run(f"UPDATE accounts SET balance = balance + 1 WHERE id = {1 + i % 100}")  # noqa: S608

            def arrived(since: int = before) -> list:
                return [r for r in hook.delivered[since:] if r.body["kind"] == "ALARM"]

            alarm = wait_for(arrived, "the ALARM", timeout=30)
            latencies.append(alarm[0].at - committed)
    finally:
        psql.close()
    return latencies


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def load(server: PgServer, rate: int, stop: threading.Event) -> None:
    """~`rate` audit lines a second: ten calls a second of a function running rate/10 statements."""
    per_call = max(1, rate // 10)
    with psycopg.connect(server.dsn("app_svc"), autocommit=True) as conn:
        next_at = time.monotonic()
        while not stop.is_set():
            conn.execute("SELECT burst(%s)", (per_call,))
            next_at += 0.1
            time.sleep(max(0.0, next_at - time.monotonic()))


def count_lines(server: PgServer) -> int:
    return sum(path.read_bytes().count(b"\n") for path in server.log_files())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--statements", type=int, default=100)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--loaded-statements", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="watch-bench-"))
    cert, key = make_certificate(work)
    hook = HttpsReceiver(cert, key).start()
    with PgServer(log_destination="stderr") as server:
        server.psql("-v", "ON_ERROR_STOP=1", stdin=SETUP)
        watcher = WatcherProcess(
            [str(server.log_dir), "--service-accounts", "app_svc", "--window-seconds", "1", "--no-console",
             "--webhook-url", hook.url, "--webhook-ca-file", str(cert)],
            work / "state",
        )  # fmt: skip
        watcher.start()
        wait_for(lambda: watcher.meta("heartbeat"), "the watcher")
        assert watcher.proc is not None
        pid = watcher.proc.pid

        idle = measure_latencies(server, hook, watcher, args.statements)

        stop = threading.Event()
        loader = threading.Thread(target=load, args=(server, args.rate, stop), daemon=True)
        lines_before, cpu_before, started = count_lines(server), cpu_seconds(pid), time.monotonic()
        loader.start()
        loaded = measure_latencies(server, hook, watcher, args.loaded_statements)
        time.sleep(max(0.0, args.load_seconds - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        cpu, lines = cpu_seconds(pid) - cpu_before, count_lines(server) - lines_before
        memory = memory_kib(pid)
        stop.set()
        loader.join()
        watcher.terminate()
    hook.stop()

    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor())  # fmt: skip
    print(f"machine: {cpu_model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}")
    print(f"idle: {len(idle)} UPDATEs, latency p50 {statistics.median(idle):.3f}s p99 {percentile(idle, 99):.3f}s "
          f"max {max(idle):.3f}s")  # fmt: skip
    rss, peak = memory.get("VmRSS", 0) / 1024, memory.get("VmHWM", 0) / 1024
    print(f"load: {lines / elapsed:,.0f} log lines/s for {elapsed:.0f}s; watcher CPU {100 * cpu / elapsed:.1f}% of one "
          f"core, VmRSS {rss:.1f} MiB, peak {peak:.1f} MiB")  # fmt: skip
    print(f"under load: {len(loaded)} UPDATEs, latency p50 {statistics.median(loaded):.3f}s "
          f"p99 {percentile(loaded, 99):.3f}s max {max(loaded):.3f}s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
