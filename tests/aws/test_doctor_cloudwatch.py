"""The doctor's live probe through CloudWatch Logs (`--log-group`), against moto's server on loopback.

RDS exports the server's log to CloudWatch; here a small forwarder does that job: it reads the real server's log
file and puts each entry into the emulated log group, as one event, newlines inside.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from awskit import aws, moto_endpoint, put_events
from pgaudit_monitor.entries.splitting import EntrySplitter
from pgserver import PgServer, require_postgres

pytestmark = pytest.mark.postgres
__all__ = ["aws", "moto_endpoint"]  # fixtures
GROUP = "/aws/rds/cluster/probe-test/postgresql"


class Forwarder(threading.Thread):
    """Ship every new entry of the server's log files to the log group, like RDS's log export."""

    def __init__(self, log_dir: Path, client: object) -> None:
        super().__init__(daemon=True)
        self.log_dir, self.client = log_dir, client
        self.stop_event = threading.Event()

    def run(self) -> None:
        offsets: dict[Path, int] = {}
        splitter = EntrySplitter(None, continuation=b"\t")
        while not self.stop_event.is_set():
            for path in sorted(self.log_dir.glob("*.log")):
                with open(path, "rb") as handle:
                    handle.seek(offsets.get(path, 0))
                    data = handle.read()
                offsets[path] = offsets.get(path, 0) + len(data)
                # An entry is known complete when the next one starts; a quiet file ends its last entry.
                raws = [*splitter.feed(data)] if data else [*splitter.finish()]
                if not data:
                    splitter = EntrySplitter(None, continuation=b"\t")
                now = int(time.time() * 1000)
                events = [(now, raw.data.decode().rstrip("\n")) for raw in raws]
                if events:
                    put_events(self.client, GROUP, "instance-1", events)
            time.sleep(0.2)


def doctor(server: PgServer, timeout: str) -> tuple[int, dict[str, dict]]:
    proc = subprocess.run(
        [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli", "doctor", "--dsn", server.dsn(),
         "--service-accounts", "postgres", "--log-group", GROUP, "--probe-timeout", timeout, "--format", "json"],
        capture_output=True, text=True, check=False,  # the environment reaches the emulator only (awskit.aws)
    )  # fmt: skip
    assert proc.stderr == ""
    return proc.returncode, {f["check"]: f for f in json.loads(proc.stdout)["findings"]}


def test_probe_found_in_cloudwatch_and_missed_without_the_export(aws: str) -> None:
    require_postgres()
    import boto3

    client = boto3.client("logs")
    put_events(client, GROUP, "instance-1", [])  # RDS creates the group when log export is turned on
    with PgServer(log_destination="stderr") as server:
        server.sql("CREATE EXTENSION pgaudit")
        # No export running: the record never reaches CloudWatch, and the doctor says so.
        code, findings = doctor(server, "2")
        assert code == 1
        assert findings["probe"]["status"] == "fail"
        assert GROUP in findings["probe"]["summary"]
        forwarder = Forwarder(server.log_dir, client)
        forwarder.start()
        try:
            code, findings = doctor(server, "30")
        finally:
            forwarder.stop_event.set()
            forwarder.join()
        assert findings["probe"]["status"] == "ok", findings["probe"]
        assert code == 0
