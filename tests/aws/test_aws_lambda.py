"""The Lambda, in-process, against moto's server: real pgAudit lines from the real test server in the log group,
the published metric equal to what the sessions did, and the faults that must lose nothing and count nothing twice.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from awskit import (
    ACCOUNT,
    REGION,
    VENV_BIN,
    FaultProxy,
    aws,
    aws_env,
    log_entries,
    metric_datapoints,
    moto_endpoint,
    put_events,
)
from awskit import alarm_fires as alarm_fires
from pgaudit_monitor.aws.monitor import Monitor, MonitorConfig
from pgaudit_monitor.entrypoints import lambda_handler
from pgaudit_monitor.timestamps import iso
from pgserver import only
from workload import SERVICE_ACCOUNTS, expected_detections, normalize

__all__ = ["aws", "moto_endpoint"]  # fixtures

GROUP = "/aws/rds/cluster/test-cluster/postgresql"
STREAM = "test-cluster-instance-1"
NAMESPACE = "RDSAudit/UserActivity"
PARAMETER = "/rds-user-audit-monitor/test-cluster/checkpoint"
W = 300
DUE = 120 + 60  # ingestion delay + statement grace: a window is processed this long after its end
NOW = int(datetime.now(UTC).timestamp())
BASE = NOW // W * W - 12 * W  # an aligned window an hour ago: CloudWatch accepts events this old


class Context:
    """What the handler uses of Lambda's context."""

    def __init__(self, remaining_ms: int = 290_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def monitor_env(aws: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "LOG_GROUP_NAME": GROUP,
        "SERVICE_ACCOUNTS": SERVICE_ACCOUNTS,
        "CHECKPOINT_PARAMETER": PARAMETER,
        "QUERY_POLL_SECONDS": "0",
        "INGESTION_DELAY_SECONDS": "120",
        "STATEMENT_GRACE_SECONDS": "60",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    lambda_handler.monitor.cache_clear()
    put_events(boto3.client("logs"), GROUP, STREAM, [])  # RDS created the group when log export was turned on
    yield env
    lambda_handler.monitor.cache_clear()


def invoke(run_at: int, capsys: pytest.CaptureFixture[str] | None = None) -> tuple[dict[str, Any], list[dict]]:
    """One scheduled run at `run_at`, as EventBridge sends it; the summary and the JSON log lines."""
    event = {"source": "aws.events", "detail-type": "Scheduled Event", "time": iso(run_at)}
    summary = lambda_handler.lambda_handler(event, Context())
    lines = []
    if capsys is not None:
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return summary, lines


def published(name: str) -> float:
    cloudwatch = boto3.client("cloudwatch")
    since, until = datetime.fromtimestamp(NOW - 3600, UTC), datetime.fromtimestamp(NOW + 3600, UTC)
    return sum(v for _, v in metric_datapoints(cloudwatch, NAMESPACE, name, GROUP, since, until))


def checkpoint() -> str:
    return boto3.client("ssm").get_parameter(Name=PARAMETER)["Parameter"]["Value"]


def rebased(entries: list[tuple[int, str]], start: int) -> list[tuple[int, str]]:
    """The server's entries moved so that the first is at `start` (epoch s), offsets kept."""
    first = entries[0][0]
    return [(start * 1000 + ms - first, text) for ms, text in entries]


@pytest.fixture
def workload_events(workload_logs: Path) -> list[tuple[int, str]]:
    """Every entry the real server wrote during the scripted sessions (stderr, Aurora prefix), 30 s into BASE."""
    events = rebased(log_entries(only(workload_logs, ".log")), BASE + 30)
    assert events[-1][0] < (BASE + W) * 1000, "the workload must fit in one window for this test"
    return events


def audit_line(second: float, pid: int, user: str, statement_id: int, sub: int, cls: str, command: str, text: str):
    when = datetime.fromtimestamp(int(second), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    prefix = f"{when}:10.0.0.9(50000):{user}@app:[{pid}]:LOG:  "
    line = f"{prefix}AUDIT: SESSION,{statement_id},{sub},{cls},{command},,,{text},<not logged>"
    return (int(second * 1000), line)


# ------------------------------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_the_published_metric_equals_what_the_sessions_did(
    monitor_env: dict, workload_events: list, capsys: pytest.CaptureFixture[str]
) -> None:
    put_events(boto3.client("logs"), GROUP, STREAM, workload_events)
    summary, lines = invoke(BASE + W + DUE, capsys)
    expected = expected_detections()
    assert summary["windows"] == [f"{iso(BASE)}/{iso(BASE + W)}"]
    assert summary["detections"] == len(expected)
    assert published("UserDMLOperationCount") == len(expected)
    assert published("MonitorExecutionErrors") == 0
    assert published("AuditRecordsScanned") == summary["records"] > len(expected)
    # one JSON line per detection: the independent record of who did what, where and when
    detections = [d for d in lines if d.get("event") == "detection"]
    in_order = [normalize(d) for d in sorted(detections, key=lambda d: (d["event_time_ms"], d["pid"]))]
    # the records of one substatement, one per relation (log_relation), carry no order: listed by their text
    assert sorted(map(relations_sorted, in_order)) == sorted(map(relations_sorted, expected))
    for d in detections:
        assert {
            "time",
            "user",
            "database",
            "client",
            "command",
            "relations",
            "statement",
            "pid",
            "statement_id",
        } <= d.keys()
    assert checkpoint() == iso(BASE + W)


@pytest.mark.postgres
def test_the_events_of_one_second_give_the_same_detections_in_any_order(aws: str, workload_events: list) -> None:
    # Aurora stamps whole seconds and Logs Insights does not order events further; moto returns them in the order
    # put, so putting each second's events shuffled is what CloudWatch may hand back.
    seconds: dict[int, int] = {}
    for ms, _ in workload_events:
        seconds[ms // 1000] = seconds.get(ms // 1000, 0) + 1
    assert max(seconds.values()) >= 20, "the workload must put many entries in one second for this test"

    def detections(group: str, shuffle_seed: int | None) -> list[dict[str, Any]]:
        logs = boto3.client("logs")
        put_events(logs, group, STREAM, workload_events, shuffle_seed=shuffle_seed)
        config = replace(MonitorConfig.from_env({"LOG_GROUP_NAME": group, "SERVICE_ACCOUNTS": SERVICE_ACCOUNTS}),
                         poll_seconds=0, region=REGION)  # fmt: skip
        out = io.StringIO()
        clients = {name: boto3.client(name) for name in ("cloudwatch", "ssm")}
        Monitor(config, logs=logs, out=out, **clients).run({"time": iso(BASE + W + DUE)})
        lines = [json.loads(line) for line in out.getvalue().splitlines()]
        return sorted((d for d in lines if d["event"] == "detection"), key=lambda d: json.dumps(d, sort_keys=True))

    in_log_order = detections("/aws/rds/cluster/in-order/postgresql", None)
    assert sorted(relations_sorted(normalize(d)) for d in in_log_order) == sorted(
        map(relations_sorted, expected_detections())
    )
    for seed in range(SHUFFLES):
        shuffled = detections(f"/aws/rds/cluster/shuffled-{seed}/postgresql", seed)
        assert shuffled == in_log_order, f"seed {seed}"


SHUFFLES = 12
"""Orders tried of each second's events (one log group and one run each)."""


def relations_sorted(detection: tuple[str, str, tuple[str, ...], str]) -> tuple[str, str, tuple[str, ...], str]:
    user, command, relations, category = detection
    return (user, command, tuple(sorted(relations)), category)


@pytest.mark.postgres
def test_a_retried_run_counts_nothing_twice(monitor_env: dict, workload_events: list) -> None:
    put_events(boto3.client("logs"), GROUP, STREAM, workload_events)
    first, _ = invoke(BASE + W + DUE)
    retry, _ = invoke(BASE + W + DUE)  # the same scheduled event, delivered again
    assert first["detections"] == len(expected_detections())
    assert retry["windows"] == []
    assert retry["detections"] == 0
    assert published("UserDMLOperationCount") == len(expected_detections())


@pytest.mark.postgres
def test_skipped_runs_are_caught_up_and_the_alarm_still_fires(
    monitor_env: dict, workload_events: list, tmp_path: Path
) -> None:
    invoke(BASE + DUE)  # the last run before the gap: checkpoint at BASE
    assert checkpoint() == iso(BASE)
    put_events(boto3.client("logs"), GROUP, STREAM, workload_events)
    # no run for 8 windows (the function was throttled, EventBridge skipped it...), then one run catches up
    ran_from = datetime.now(UTC)
    summary, _ = invoke(BASE + 9 * W + DUE)
    ran_until = datetime.now(UTC)
    assert len(summary["windows"]) == 1  # one query over the 9 missed windows
    assert summary["windows"][0] == f"{iso(BASE)}/{iso(BASE + 9 * W)}"
    assert summary["detections"] == len(expected_detections())
    assert checkpoint() == iso(BASE + 9 * W)

    # the alarm as deploy-alarm.sh creates it, evaluated as CloudWatch does, right after the run
    deploy_alarm(tmp_path)
    alarm = detection_alarm()
    cloudwatch = boto3.client("cloudwatch")
    since, until = datetime.fromtimestamp(NOW - 3600, UTC), datetime.fromtimestamp(NOW + 7200, UTC)
    points = metric_datapoints(cloudwatch, NAMESPACE, "UserDMLOperationCount", GROUP, since, until)
    # CloudWatch evaluates the alarm every minute: the evaluations from the run's start to a minute after its end
    evaluations = [
        ran_from + timedelta(seconds=s) for s in range(0, int((ran_until - ran_from).total_seconds()) + 61, 60)
    ]
    assert any(alarm_fires(alarm, points, evaluated_at=t) for t in evaluations)
    # the trap avoided: the same count dated in the window it was found in would never be evaluated
    dated_in_window = [(datetime.fromtimestamp(BASE, UTC), float(len(expected_detections())))]
    assert not any(alarm_fires(alarm, dated_in_window, evaluated_at=t) for t in evaluations)


def deploy_alarm(tmp_path: Path) -> None:
    env = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        **aws_env(os.environ["AWS_ENDPOINT_URL"]),
        "ACCOUNT_ID": ACCOUNT,
        "CLUSTER_NAME": "test-cluster",
    }
    script = Path(__file__).resolve().parents[2] / "cloudwatch" / "deploy-alarm.sh"
    subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, text=True)


def detection_alarm() -> dict[str, Any]:
    alarms = boto3.client("cloudwatch").describe_alarms(AlarmNamePrefix="rds-user-dml-detected-")["MetricAlarms"]
    assert len(alarms) == 1
    return alarms[0]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(
            ("StartQuery", 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}), id="throttled"
        ),
        pytest.param(("StartQuery", 400, {"__type": "LimitExceededException", "message": "too many"}), id="limit"),
        pytest.param(("GetQueryResults", None, None), id="query-failed"),
    ],
)
def test_a_failed_run_publishes_an_error_loses_nothing_and_the_next_run_catches_up(
    monitor_env: dict, workload_events: list, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, fault: tuple
) -> None:
    from awskit import Fault

    put_events(boto3.client("logs"), GROUP, STREAM, workload_events)
    invoke(BASE + DUE)  # checkpoint at BASE
    target, status, body = fault
    with FaultProxy(moto_endpoint) as proxy:
        if status is None:  # the query runs, and the service says it failed
            proxy.faults.append(Fault(target, 200, {}, rewrite=lambda r: {**r, "status": "Failed", "results": []}))
        else:  # throttled past the SDK's retries
            proxy.faults.append(Fault(target, status, body))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lambda_handler.monitor.cache_clear()
        with pytest.raises(Exception, match=r"Throttling|LimitExceeded|Failed"):
            invoke(BASE + W + DUE)
        assert proxy.seen.count(f"Logs_20140328.{target}") >= 1
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    lambda_handler.monitor.cache_clear()
    assert published("MonitorExecutionErrors") == 1
    assert published("UserDMLOperationCount") == 0
    assert checkpoint() == iso(BASE)  # the failed window stays to do

    summary, _ = invoke(BASE + 2 * W + DUE)  # the next scheduled run
    assert summary["windows"] == [f"{iso(BASE)}/{iso(BASE + 2 * W)}"]
    assert published("UserDMLOperationCount") == len(expected_detections())


def test_a_throttled_query_is_retried_within_the_run(monitor_env: dict, moto_endpoint: str, monkeypatch) -> None:
    from awskit import Fault

    events = [audit_line(BASE + 10, 100, "alice", 1, 1, "WRITE", "UPDATE", "UPDATE accounts SET x = 1")]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    with FaultProxy(moto_endpoint) as proxy:
        proxy.faults.append(Fault("StartQuery", 400, {"__type": "ThrottlingException", "message": "slow"}, times=1))
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        lambda_handler.monitor.cache_clear()
        summary, _ = invoke(BASE + W + DUE)
        assert proxy.seen.count("Logs_20140328.StartQuery") == 2
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    assert summary["detections"] == 1
    assert published("MonitorExecutionErrors") == 0


def test_a_window_over_the_row_limit_is_split_until_every_row_is_read(monitor_env: dict) -> None:
    # 6,000 people's statements and 6,000 service-account ones: 12,000 records, over the 10,000-row limit
    events = []
    for i in range(6000):
        second = BASE + i * (W - 1) / 6000
        events.append(audit_line(second, 1000 + i, "alice", 1, 1, "WRITE", "UPDATE", f"UPDATE accounts SET x = {i}"))
        events.append(audit_line(second, 9000 + i, "app_svc", 1, 1, "READ", "SELECT", "SELECT * FROM accounts"))
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    summary, _ = invoke(BASE + W + DUE)
    assert summary["queries"] >= 3  # the first answer hit the limit: split, and split again as needed
    assert summary["truncated_seconds"] == 0
    assert summary["records"] == 12000
    assert summary["detections"] == 6000
    assert published("UserDMLOperationCount") == 6000


def test_a_statement_across_a_window_boundary_is_judged_whole_and_counted_once(
    monitor_env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    # `SELECT purge()` starts 0.5 s before the window ends; the DELETE inside it is logged 0.3 s after
    boundary = BASE + W
    events = [
        audit_line(boundary - 0.5, 42, "alice", 3, 1, "READ", "SELECT", "SELECT purge()"),
        audit_line(boundary + 0.3, 42, "alice", 3, 2, "WRITE", "DELETE", "DELETE FROM accounts WHERE id > 1000"),
        audit_line(boundary + 1, 42, "alice", 4, 1, "MISC", "SHOW", "SHOW work_mem"),
    ]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    first, lines_first = invoke(boundary + DUE, capsys)
    second, lines_second = invoke(boundary + W + DUE, capsys)
    assert first["detections"] == 1
    assert second["detections"] == 0
    [detection] = [d for d in lines_first + lines_second if d.get("event") == "detection"]
    assert detection["command"] == "DELETE"  # judged with its inner statement, not as a plain SELECT
    assert published("UserDMLOperationCount") == 1


def test_late_events_within_the_ingestion_delay_are_counted(monitor_env: dict) -> None:
    logs = boto3.client("logs")
    put_events(logs, GROUP, STREAM, [audit_line(BASE + 5, 7, "alice", 1, 1, "READ", "SELECT", "SELECT * FROM t")])
    early, _ = invoke(BASE + W + DUE - 1)  # one second before BASE's window is due: not processed yet
    assert early["windows"] == [f"{iso(BASE - W)}/{iso(BASE)}"]
    # an event of that window arrives late (dated 4:50 into the window, ingested now)
    put_events(logs, GROUP, STREAM, [audit_line(BASE + W - 10, 8, "bob", 1, 1, "WRITE", "DELETE", "DELETE FROM t")])
    due, _ = invoke(BASE + W + DUE)
    assert due["detections"] == 2
    assert published("UserDMLOperationCount") == 2


def test_a_manual_invoke_uses_now_and_publishes_a_zero(monitor_env: dict) -> None:
    summary = lambda_handler.lambda_handler({}, Context())
    assert summary["detections"] == 0
    assert len(summary["windows"]) == 1
    assert published("UserDMLOperationCount") == 0
    assert published("MonitorExecutionErrors") == 0
    # MalformedRecords too, a 0: the health alarm's expression reads a metric that exists from the first run
    metrics = boto3.client("cloudwatch").list_metrics(Namespace=NAMESPACE, MetricName="MalformedRecords")["Metrics"]
    assert metrics == [{"Namespace": NAMESPACE, "MetricName": "MalformedRecords",
                        "Dimensions": [{"Name": "LogGroup", "Value": GROUP}]}]  # fmt: skip
    assert published("MalformedRecords") == 0


def test_the_canary_is_counted_never_detected(monitor_env: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_USER", "pgaudit_canary")
    lambda_handler.monitor.cache_clear()
    events = [audit_line(BASE + 20 + i, 50 + i, "pgaudit_canary", 1, 1, "READ", "SELECT", "SELECT * FROM canary")
              for i in range(3)]  # fmt: skip
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    summary, _ = invoke(BASE + W + DUE)
    assert summary["canary_records"] == 3
    assert summary["detections"] == 0
    assert published("CanaryRecords") == 3


NAME, CARD = "Alice Smith", "4111 1111 1111 1111"
WITH_LITERALS = f"UPDATE accounts SET owner = '{NAME}', card = '{CARD}' WHERE id = 5"


def subscribed_queue(monkeypatch: pytest.MonkeyPatch) -> str:
    """The alert topic with a queue subscribed (what people's e-mail gets), its ARN in DETAIL_TOPIC_ARN."""
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="rds-user-audit-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="people")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("DETAIL_TOPIC_ARN", topic)
    lambda_handler.monitor.cache_clear()
    return queue


def test_the_detail_notification_says_who_did_what_and_links_to_the_logs(
    monitor_env: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queue = subscribed_queue(monkeypatch)
    csv_field = f'"{WITH_LITERALS}"'  # pgAudit quotes a statement that holds a comma
    events = [audit_line(BASE + 20, 77, "alice", 1, 1, "WRITE", "UPDATE", csv_field)]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    _, lines = invoke(BASE + W + DUE, capsys)
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    body = json.loads(message["Body"])
    assert "alice UPDATE x1" in body["Subject"]
    assert "UPDATE accounts SET owner = $1, card = $2 WHERE id = $3" in body["Message"]  # NOTIFY_STATEMENT's default
    for literal in (NAME, CARD, "4111"):
        assert literal not in body["Message"]
        assert literal not in body["Subject"]
    assert "logs-insights" in body["Message"]
    # the function's log is the record: the full text is there
    [logged] = [line for line in lines if line.get("event") == "detection"]
    assert logged["statement"] == WITH_LITERALS


@pytest.mark.parametrize(("mode", "shown"), [("full", WITH_LITERALS), ("none", None)])
def test_notify_statement_full_shows_the_text_and_none_shows_nothing(
    monitor_env: dict, monkeypatch: pytest.MonkeyPatch, mode: str, shown: str | None
) -> None:
    queue = subscribed_queue(monkeypatch)
    monkeypatch.setenv("NOTIFY_STATEMENT", mode)
    lambda_handler.monitor.cache_clear()
    events = [audit_line(BASE + 20, 77, "alice", 1, 1, "WRITE", "UPDATE", f'"{WITH_LITERALS}"')]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    invoke(BASE + W + DUE)
    [message] = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    text = json.loads(message["Body"])["Message"]
    if shown is None:
        assert NAME not in text
        assert "SET owner" not in text
        assert "alice@app" in text  # who, what, which table: still said
        assert "UPDATE accounts" in text
    else:
        assert shown in text


def test_a_damaged_record_is_published_as_malformed_records(
    monitor_env: dict, capsys: pytest.CaptureFixture[str]
) -> None:
    cut_at, cut = audit_line(BASE + 30, 78, "bob", 1, 1, "WRITE", "UPDATE", f"\"UPDATE accounts SET owner = '{NAME}")
    broken_at, broken = audit_line(BASE + 40, 79, "carol", 1, 1, "WRITE", "UPDATE", "x")
    events = [
        audit_line(BASE + 20, 77, "alice", 1, 1, "WRITE", "DELETE", "DELETE FROM accounts WHERE id = 5"),
        (cut_at, cut.removesuffix(",<not logged>")),  # cut short inside its quoted statement
        (broken_at, broken.split("AUDIT: ")[0] + "AUDIT: SESSION,broken"),  # two fields of nine
    ]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    summary, lines = invoke(BASE + W + DUE, capsys)
    assert (summary["malformed"], summary["detections"]) == (2, 1)
    assert published("MalformedRecords") == 2
    assert len([line for line in lines if line.get("event") == "malformed"]) == 2
    summary, _ = invoke(BASE + 2 * W + DUE)  # the next window is clean
    assert summary["malformed"] == 0
    assert published("MalformedRecords") == 2
    assert published("UserDMLOperationCount") == 1


def test_moto_ignores_the_query_filter_so_the_python_policy_decides_alone(monitor_env: dict) -> None:
    # the service-account record should have been dropped by the query; moto returns it, and the policy drops it
    events = [
        audit_line(BASE + 10, 1, "app_svc", 1, 1, "WRITE", "UPDATE", "UPDATE accounts SET x = 1"),
        audit_line(BASE + 11, 2, "alice", 1, 1, "WRITE", "UPDATE", "UPDATE accounts SET x = 2"),
    ]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    summary, _ = invoke(BASE + W + DUE)
    assert summary["records"] == 2
    assert summary["detections"] == 1


def test_a_catch_up_near_the_timeout_leaves_the_rest_to_the_next_run(monitor_env: dict) -> None:
    invoke(BASE - 20 * W + DUE)  # checkpoint 20 windows back: two chunks of 12 and 8 to catch up
    put_events(
        boto3.client("logs"),
        GROUP,
        STREAM,
        [audit_line(BASE - 2 * W, 3, "bob", 1, 1, "READ", "SELECT", "SELECT * FROM t")],
    )
    event = {"time": iso(BASE + DUE)}
    short = lambda_handler.lambda_handler(event, Context(remaining_ms=40_000))  # 10 s left after the margin
    assert len(short["windows"]) == 1
    assert len(short["deferred_windows"]) == 1
    assert checkpoint() == iso(BASE - 8 * W)
    rest, _ = invoke(BASE + DUE)
    assert rest["windows"] == [f"{iso(BASE - 8 * W)}/{iso(BASE)}"]
    assert published("UserDMLOperationCount") == 1


def test_a_checkpoint_that_is_not_a_time_stops_the_run_and_says_so(monitor_env: dict) -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value="yesterday", Type="String")
    with pytest.raises(Exception, match="is not a time"):
        invoke(BASE + W + DUE)
    assert published("MonitorExecutionErrors") == 1


@pytest.mark.parametrize(("next_second", "truncated"), [(4, False), (0, True)], ids=["next-second-fills", "full"])
def test_a_part_at_the_row_limit_only_with_the_next_seconds_rows_is_complete(
    monitor_env: dict, moto_endpoint: str, next_second: int, truncated: bool
) -> None:
    # StartQuery's endTime is inclusive in whole seconds (API_StartQuery): a one-second part gets the next second's
    # rows too. moto's end is exclusive: the proxy asks it for one second more, as the service answers. A result
    # at the limit whose sorted rows reach past the part's end holds all of the part's: not truncated.
    from awskit import Fault
    from pgaudit_monitor.aws.insights import InsightsRunner, build_query
    from pgaudit_monitor.aws.windows import Span
    from pgaudit_monitor.entries.prefix import AURORA_PREFIX

    in_part = 3 if next_second else 5
    events = [audit_line(BASE + 0.1 * i, 100 + i, "alice", 1, 1, "WRITE", "UPDATE", "UPDATE t") for i in range(in_part)]
    events += [
        audit_line(BASE + 1 + 0.1 * i, 200 + i, "bob", 1, 1, "READ", "SELECT", "SELECT t") for i in range(next_second)
    ]
    put_events(boto3.client("logs"), GROUP, STREAM, events)
    with FaultProxy(moto_endpoint) as proxy:
        proxy.faults.append(Fault("StartQuery", 200, {}, request=lambda r: {**r, "endTime": r["endTime"] + 1}))
        logs = boto3.client("logs", endpoint_url=proxy.endpoint)
        runner = InsightsRunner(logs, GROUP, build_query(AURORA_PREFIX), row_limit=5, poll_seconds=0.01)
        fetched = runner.fetch(Span(BASE, BASE + 1))
    assert [r.message for r in fetched.rows] == [message for _, message in events[:in_part]]
    assert fetched.truncated == ([Span(BASE, BASE + 1)] if truncated else [])
