"""deploy-all.sh, run by the real AWS CLI against moto's server: every resource, policy statement, subscription,
schedule and alarm setting as the README says; a second run updates and duplicates nothing; the webhook URL,
which carries the incident platform's API key, never appears in what the scripts print."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from awskit import ACCOUNT, REGION, VENV_BIN, alarm_fires, aws, aws_env, metric_datapoints, moto_endpoint, use_emulator
from deploykit import FUNCTION, GROUP, HEALTH_ALARMS, HEALTH_SETTINGS, INPUTS, LAMBDA_ENVIRONMENT, SECRET, TOPIC
from pgaudit_monitor.aws.insights import build_query
from pgaudit_monitor.entries.prefix import AURORA_PREFIX
from pgaudit_monitor.sinks.metric import DETECTIONS, ERRORS, MALFORMED, RECORDS, TRUNCATED, MetricSink

__all__ = ["aws", "moto_endpoint"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT, DATA_LOSS = HEALTH_ALARMS


def old_metric(query_id: str, name: str, stat: str) -> dict[str, Any]:
    metric = {
        "Namespace": "RDSAudit/UserActivity",
        "MetricName": name,
        "Dimensions": [{"Name": "LogGroup", "Value": GROUP}],
    }
    return {"Id": query_id, "ReturnData": False, "MetricStat": {"Metric": metric, "Period": 300, "Stat": stat}}


# The single health alarm deploy-alarm.sh made before the heartbeat and the data-loss alarm: what a redeploy replaces
OLD_HEALTH: dict[str, Any] = {
    "AlarmName": HEARTBEAT,
    "EvaluationPeriods": 3,
    "DatapointsToAlarm": 2,
    "Threshold": 0.0,
    "ComparisonOperator": "GreaterThanThreshold",
    "TreatMissingData": "breaching",
    "AlarmActions": [TOPIC],
    "OKActions": [TOPIC],
    "Metrics": [
        old_metric("errors", "MonitorExecutionErrors", "Sum"),
        old_metric("runs", "UserDMLOperationCount", "SampleCount"),
        old_metric("malformed", "MalformedRecords", "Sum"),
        {
            "Id": "unhealthy",
            "Label": "failed or silent runs, unreadable records",
            "ReturnData": True,
            "Expression": "IF(FILL(errors, 0) > 0 OR FILL(malformed, 0) > 0 OR FILL(runs, 0) < 1, 1, 0)",
        },
    ],
}


def run(script: str, endpoint: str, tmp_path: Path, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "PYTHON": f"{VENV_BIN}/python",
        **aws_env(endpoint),
        **INPUTS,
    }
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run(["bash", str(ROOT / script)], env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def deployed(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    """deploy-all.sh run twice on an empty emulator (module scope: these tests only read what it made)."""
    home = tmp_path_factory.mktemp("deploy-home")
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_emulator(moto_endpoint, monkeypatch)
        first = run("deploy-all.sh", moto_endpoint, home)
        assert first.returncode == 0, first.stderr
        second = run("deploy-all.sh", moto_endpoint, home)
        assert second.returncode == 0, second.stderr
        yield first, second


def statements(policy: str | dict) -> dict[str, dict]:
    document = json.loads(policy) if isinstance(policy, str) else policy
    return {s["Sid"]: s for s in document["Statement"]}


# -- what deploy-all.sh made (these tests come first: the ones after them empty the emulator) ---------------------
def test_the_webhook_url_is_never_printed(deployed) -> None:
    for proc in deployed:
        assert SECRET not in proc.stdout + proc.stderr
        assert "integrations/cloudwatch" not in proc.stdout + proc.stderr


def test_the_role_has_the_trust_and_least_privilege_policies(deployed) -> None:
    iam = boto3.client("iam")
    role = iam.get_role(RoleName="rds-user-audit-monitor-role")["Role"]
    trust = statements(role["AssumeRolePolicyDocument"])["LambdaAssumesTheMonitorRole"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"] == ["rds-user-audit-monitor-permissions"]
    policy = iam.get_role_policy(RoleName=role["RoleName"], PolicyName="rds-user-audit-monitor-permissions")
    sids = statements(policy["PolicyDocument"])
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
    assert sids["QueryTheClusterLogGroup"]["Resource"] == [group_arn, f"{group_arn}:*"]
    assert sids["StopOwnQueries"]["Action"] == "logs:StopQuery"
    assert sids["PublishMonitorMetricsInItsNamespaceOnly"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "RDSAudit/UserActivity"}
    }
    assert sids["KeepTheWindowCheckpoint"]["Resource"] == (
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/rds-user-audit-monitor/prod-aurora/checkpoint"
    )
    assert sids["PublishDetailNotificationsToTheAlertTopic"]["Resource"] == TOPIC
    # nothing else, and no wildcard action anywhere
    assert len(sids) == 6
    actions = [a for s in sids.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])]
    assert not any("*" in a for a in actions)


def test_the_function_runs_the_package_with_its_settings(deployed) -> None:
    config = boto3.client("lambda").get_function(FunctionName=FUNCTION)["Configuration"]
    assert config["Runtime"] == "python3.12"
    assert config["Handler"] == "lambda_function.lambda_handler"
    assert config["Timeout"] == 300
    assert config["MemorySize"] == 256
    assert config["Architectures"] == ["arm64"]
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/rds-user-audit-monitor-role"
    assert config["Environment"]["Variables"] == LAMBDA_ENVIRONMENT
    concurrency = boto3.client("lambda").get_function_concurrency(FunctionName=FUNCTION)
    assert concurrency["ReservedConcurrentExecutions"] == 1


def test_the_schedule_invokes_the_function_every_window(deployed) -> None:
    events = boto3.client("events")
    rule = events.describe_rule(Name="rds-user-audit-monitor-schedule")
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["State"] == "ENABLED"
    [target] = events.list_targets_by_rule(Rule="rds-user-audit-monitor-schedule")["Targets"]
    assert target["Arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
    policy = json.loads(boto3.client("lambda").get_policy(FunctionName=FUNCTION)["Policy"])
    [permission] = policy["Statement"]  # added once, not twice
    assert permission["Sid"] == "AllowEventBridgeSchedule"
    assert permission["Principal"] == {"Service": "events.amazonaws.com"}
    assert permission["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use(deployed) -> None:
    sns, kms = boto3.client("sns"), boto3.client("kms")
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [TOPIC]
    attributes = sns.get_topic_attributes(TopicArn=TOPIC)["Attributes"]
    key = kms.describe_key(KeyId="alias/rds-user-audit-alerts")["KeyMetadata"]
    assert attributes["KmsMasterKeyId"] == key["Arn"]
    assert key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    assert len(kms.list_aliases()["Aliases"]) == len({a["AliasName"] for a in kms.list_aliases()["Aliases"]})
    key_policy = statements(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    cloudwatch = key_policy["AllowCloudWatchAlarmsToUseKey"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    monitor = key_policy["AllowTheMonitorToPublishThroughSNS"]
    assert monitor["Condition"] == {"StringEquals": {"kms:ViaService": f"sns.{REGION}.amazonaws.com"}}

    topic_policy = statements(attributes["Policy"])
    assert set(topic_policy) == {"AllowCloudWatchAlarms", "DenyInsecureTransport", "LimitToAccountOnly"}
    allow = topic_policy["AllowCloudWatchAlarms"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}
    deny_http = topic_policy["DenyInsecureTransport"]
    assert (deny_http["Effect"], deny_http["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    limit = topic_policy["LimitToAccountOnly"]
    assert limit["Effect"] == "Deny"
    assert limit["Condition"]["StringNotEquals"] == {"aws:PrincipalAccount": ACCOUNT}


def test_email_and_https_subscriptions_exist_once(deployed) -> None:
    subscriptions = boto3.client("sns").list_subscriptions_by_topic(TopicArn=TOPIC)["Subscriptions"]
    assert sorted((s["Protocol"], s["Endpoint"]) for s in subscriptions) == [
        ("email", INPUTS["ALERT_EMAIL"]),
        ("https", INPUTS["INCIDENT_PLATFORM_URL"]),
    ]


def test_the_alarms_fire_on_any_detection_and_on_a_silent_or_failing_monitor(deployed) -> None:
    cloudwatch = boto3.client("cloudwatch")
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    [name] = [n for n in alarms if n.startswith("rds-user-dml-detected-")]  # one, after two deployments
    assert name.removeprefix("rds-user-dml-detected-").isdigit()
    alarm = alarms[name]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("RDSAudit/UserActivity", "UserDMLOperationCount")
    assert alarm["Dimensions"] == [{"Name": "LogGroup", "Value": GROUP}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0.0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == alarm["OKActions"] == [TOPIC]

    assert "rds-user-audit-canary-silent" not in alarms  # no CANARY_USER


def settings(alarm: dict[str, Any]) -> dict[str, Any]:
    return {key: alarm.get(key) for key in HEALTH_SETTINGS}


def test_the_heartbeat_and_the_data_loss_alarm_have_their_settings_once(deployed) -> None:
    alarms = {a["AlarmName"]: a for a in boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    # after two deployments: the detection alarm and these two, nothing twice, no other health alarm
    assert sorted(n for n in alarms if not n.startswith("rds-user-dml-detected-")) == sorted(HEALTH_ALARMS)
    for name, expected in HEALTH_ALARMS.items():
        assert settings(alarms[name]) == expected, name
    # the heartbeat's period is twice the schedule's: a run that publishes late in one period is in the next
    [runs] = [q for q in alarms[HEARTBEAT]["Metrics"] if "MetricStat" in q]
    assert runs["MetricStat"]["Period"] == 2 * 60 * int(LAMBDA_ENVIRONMENT["QUERY_WINDOW_MINUTES"])


def run_times(offset: int, until: int, skip: range = range(0)) -> list[datetime]:
    """When runs of a rate(5 minutes) schedule started `offset` s past the hour publish: each when its query ends,
    between 5 s and 295 s after its start (the function times out at 300 s), alternately early and late."""
    start = datetime(2025, 1, 6, 12, tzinfo=UTC).timestamp() + offset
    return [datetime.fromtimestamp(start + 300 * j + (5 if j % 2 else 295), UTC) for j in range(until) if j not in skip]


def evaluations(first: datetime, last: datetime) -> list[datetime]:
    """CloudWatch evaluates an alarm every minute."""
    return [first + timedelta(minutes=m) for m in range(int((last - first).total_seconds()) // 60 + 1)]


def test_the_heartbeat_pages_a_stopped_monitor_but_not_a_drifting_one(deployed) -> None:
    """The evaluation, as CloudWatch documents it (awskit.alarm_fires), of the deployed heartbeat over rolling
    windows: a run's publish time drifting by up to 290 s never pages; a monitor that stopped pages within twice
    the window; a run that failed still reported (MonitorExecutionErrors = 1) and is no silence."""
    [heartbeat] = boto3.client("cloudwatch").describe_alarms(AlarmNames=[HEARTBEAT])["MetricAlarms"]
    for offset in (0, 17, 137, 299):
        runs = run_times(offset, 48)  # four hours
        series = {"MonitorExecutionErrors": [(t, 0.0) for t in runs]}
        quiet = evaluations(runs[2], runs[-1])  # from a full period after the first run
        assert not any(alarm_fires(heartbeat, series, t, rolling=True) for t in quiet), offset
        assert not any(alarm_fires(heartbeat, series, t) for t in quiet), offset
        # the same runs against a heartbeat of the schedule's own period: the false page of issue 15
        short = {**heartbeat, "Metrics": [
            {**q, "MetricStat": {**q["MetricStat"], "Period": 300}} if "MetricStat" in q else q
            for q in heartbeat["Metrics"]
        ]}  # fmt: skip
        assert any(alarm_fires(short, series, t, rolling=True) for t in quiet), offset
        # stopped after the last run: ALARM within twice the window and a minute (the evaluation's own step)
        after = evaluations(runs[-1], runs[-1] + timedelta(seconds=600 + 60))
        assert alarm_fires(heartbeat, series, after[-1], rolling=True)
        assert alarm_fires(heartbeat, series, after[-1])
        # no datapoint at all in the range: missing data breaches
        assert alarm_fires(heartbeat, {}, after[-1], rolling=True)
    # a run that failed published MonitorExecutionErrors = 1: running, not silent (the data-loss alarm pages)
    runs = run_times(137, 48)
    failed = {"MonitorExecutionErrors": [(t, 1.0 if j == 20 else 0.0) for j, t in enumerate(runs)]}
    assert not any(alarm_fires(heartbeat, failed, t, rolling=True) for t in evaluations(runs[2], runs[-1]))


def test_retention_and_dashboard(deployed) -> None:
    groups = {g["logGroupName"]: g for g in boto3.client("logs").describe_log_groups()["logGroups"]}
    assert groups[GROUP]["retentionInDays"] == 400
    assert groups[f"/aws/lambda/{FUNCTION}"]["retentionInDays"] == 400
    body = json.loads(
        boto3.client("cloudwatch").get_dashboard(DashboardName="rds-user-audit-prod-aurora")["DashboardBody"]
    )
    log_widget, alarm_widget = body["widgets"]
    assert log_widget["properties"]["query"] == f"SOURCE '{GROUP}' | " + (
        ROOT / "cloudwatch/log-insights-query.txt"
    ).read_text().rstrip("\n")
    alarms = boto3.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(a["AlarmArn"] for a in alarms)
    assert len(alarms) == 3  # the detection alarm, the heartbeat and the data-loss alarm


# -- single scripts, each on an empty emulator -----------------------------------------------------------------
def test_a_canary_user_adds_its_alarm(aws: str, tmp_path: Path) -> None:
    proc = run("cloudwatch/deploy-alarm.sh", aws, tmp_path, CANARY_USER="pgaudit_canary")
    assert proc.returncode == 0, proc.stderr
    [canary] = boto3.client("cloudwatch").describe_alarms(AlarmNames=["rds-user-audit-canary-silent"])["MetricAlarms"]
    assert (canary["MetricName"], canary["Period"], canary["Threshold"]) == ("CanaryRecords", 3600, 1.0)
    assert canary["ComparisonOperator"] == "LessThanThreshold"
    assert canary["TreatMissingData"] == "breaching"


def test_missing_inputs_are_named_before_anything_is_done(aws: str, tmp_path: Path) -> None:
    proc = run("deploy-all.sh", aws, tmp_path, CLUSTER_NAME=None, ALERT_EMAIL=None)
    assert proc.returncode == 2
    assert "CLUSTER_NAME" in proc.stderr
    assert boto3.client("iam").list_roles()["Roles"] == []
    proc = run("deploy-all.sh", aws, tmp_path, INCIDENT_PLATFORM_URL=None, SERVICE_ACCOUNTS=None)
    assert proc.returncode == 2
    assert "INCIDENT_PLATFORM_URL" in proc.stderr


def test_a_redeploy_replaces_the_old_single_health_alarm(aws: str, tmp_path: Path) -> None:
    """An installation from before the split has one health alarm (2 of 3 periods of errors, malformed records or
    silence) named as the heartbeat now is. deploy-alarm.sh overwrites its whole configuration under the same name
    (PutMetricAlarm keeps an existing alarm's state, so an open incident is closed by the next evaluation's OK) and
    adds the data-loss alarm: two health alarms, no leftover, no duplicate."""
    cloudwatch = boto3.client("cloudwatch")
    old = {key: value for key, value in OLD_HEALTH.items() if key != "AlarmName"}
    cloudwatch.put_metric_alarm(AlarmName=HEARTBEAT, AlarmDescription="the old health alarm", **old)
    assert settings(cloudwatch.describe_alarms(AlarmNames=[HEARTBEAT])["MetricAlarms"][0]) != HEALTH_ALARMS[HEARTBEAT]
    for _ in range(2):
        proc = run("cloudwatch/deploy-alarm.sh", aws, tmp_path)
        assert proc.returncode == 0, proc.stderr
    alarms = {a["AlarmName"]: a for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert sorted(n for n in alarms if not n.startswith("rds-user-dml-detected-")) == sorted(HEALTH_ALARMS)
    assert len(alarms) == 3
    for name, expected in HEALTH_ALARMS.items():
        assert settings(alarms[name]) == expected, name
    assert "no run" in alarms[HEARTBEAT]["AlarmDescription"]


ONE_BAD_WINDOW = {
    "malformed": {DETECTIONS: 0, RECORDS: 40, MALFORMED: 1, ERRORS: 0},
    "truncated": {DETECTIONS: 0, RECORDS: 10_000, MALFORMED: 0, ERRORS: 1, TRUNCATED: 2},
    "failed": {ERRORS: 1},
}


@pytest.mark.parametrize("kind", sorted(ONE_BAD_WINDOW))
def test_one_window_with_lost_data_breaches_the_data_loss_alarm(aws: str, tmp_path: Path, kind: str) -> None:
    """One run's metrics, published by the Lambda's own sink into moto, read back through the API, and the deployed
    data-loss alarm evaluated on them as CloudWatch documents it (moto stores alarms and never evaluates them): one
    datapoint is enough (1 of 1): the old single health alarm needed 2 of 3."""
    proc = run("cloudwatch/deploy-alarm.sh", aws, tmp_path)
    assert proc.returncode == 0, proc.stderr
    cloudwatch = boto3.client("cloudwatch")
    [alarm] = cloudwatch.describe_alarms(AlarmNames=[DATA_LOSS])["MetricAlarms"]
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (1, 1, "notBreaching")

    published = datetime.now(UTC)
    MetricSink(cloudwatch, "RDSAudit/UserActivity", GROUP, clock=lambda: published).send(ONE_BAD_WINDOW[kind])
    # the alarm's own metric queries find the datapoint: same namespace, name and LogGroup dimension
    stats = [q for q in alarm["Metrics"] if "MetricStat" in q]
    found = cloudwatch.get_metric_data(
        MetricDataQueries=[{**q, "ReturnData": True} for q in stats],
        StartTime=published - timedelta(seconds=300),
        EndTime=published + timedelta(seconds=300),
    )["MetricDataResults"]
    values = {r["Id"]: sum(r["Values"]) for r in found}
    sent = ONE_BAD_WINDOW[kind]
    assert values == {
        "errors": sent.get(ERRORS, 0),
        "malformed": sent.get(MALFORMED, 0),
        "truncated": sent.get(TRUNCATED, 0),
    }

    since, until = published - timedelta(hours=1), published + timedelta(hours=1)
    series = {
        q["MetricStat"]["Metric"]["MetricName"]: metric_datapoints(
            cloudwatch, "RDSAudit/UserActivity", q["MetricStat"]["Metric"]["MetricName"], GROUP, since, until
        )
        for q in stats
    }
    now = published + timedelta(seconds=60)  # the next evaluation: CloudWatch evaluates every minute
    assert alarm_fires(alarm, series, now, rolling=True)
    assert alarm_fires(alarm, series, published)  # periods aligned: the one it was published in
    # and OK again once that window has passed: the notification came once; the window is named in the log
    assert not alarm_fires(alarm, series, published + timedelta(seconds=420), rolling=True)
    # a clean run breaches nothing
    clean = {name: [(when, 0.0) for when, _ in points] for name, points in series.items()}
    assert not alarm_fires(alarm, clean, now, rolling=True)


@pytest.mark.parametrize("script", ["iam/deploy-iam.sh", "sns/deploy-sns.sh", "cloudwatch/deploy-alarm.sh"])
def test_each_script_names_what_is_missing(aws: str, tmp_path: Path, script: str) -> None:
    proc = run(script, aws, tmp_path, ACCOUNT_ID=None, AWS_REGION=None)
    assert proc.returncode == 2
    assert "AWS_REGION ACCOUNT_ID" in proc.stderr


def test_an_insecure_webhook_is_refused_without_showing_it(aws: str, tmp_path: Path) -> None:
    proc = run("sns/deploy-sns.sh", aws, tmp_path, INCIDENT_PLATFORM_URL=f"http://platform.example/?apiKey={SECRET}")
    assert proc.returncode == 2
    assert "https://" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr


def test_credentials_of_another_account_are_refused(aws: str, tmp_path: Path) -> None:
    proc = run("iam/deploy-iam.sh", aws, tmp_path, ACCOUNT_ID="210987654321")
    assert proc.returncode == 2
    assert "not ACCOUNT_ID=210987654321" in proc.stderr


def test_the_console_query_is_the_lambdas_narrowing_query() -> None:
    assert (ROOT / "cloudwatch/log-insights-query.txt").read_text() == build_query(AURORA_PREFIX, ()) + "\n"


def test_the_policy_lint_fails_on_a_finding(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    for folder in ("iam", "lib"):
        shutil.copytree(ROOT / folder, copy / folder)
    env = {**os.environ, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    ok = subprocess.run(["bash", str(copy / "iam/lint-policies.sh")], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    (copy / "iam/too-broad.json").write_text(json.dumps(bad))
    proc = subprocess.run(["bash", str(copy / "iam/lint-policies.sh")], env=env, capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Unnecessary use of Resource *" in proc.stderr
