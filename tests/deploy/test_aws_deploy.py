"""deploy-all.sh, run by the real AWS CLI against moto's server: every resource, policy statement, subscription,
schedule and alarm setting as the README says; a second run updates and duplicates nothing; the webhook URL,
which carries the incident platform's API key, never appears in what the scripts print."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from awskit import ACCOUNT, REGION, VENV_BIN, aws, aws_env, moto_endpoint, use_emulator
from deploykit import FUNCTION, GROUP, INPUTS, LAMBDA_ENVIRONMENT, SECRET, TOPIC
from pgaudit_monitor.aws.insights import build_query
from pgaudit_monitor.entries.prefix import AURORA_PREFIX

__all__ = ["aws", "moto_endpoint"]  # fixtures

ROOT = Path(__file__).resolve().parents[2]


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

    health = alarms["rds-user-audit-monitor-health"]
    assert health["TreatMissingData"] == "breaching"
    assert (health["EvaluationPeriods"], health["DatapointsToAlarm"]) == (3, 2)
    assert health["AlarmActions"] == health["OKActions"] == [TOPIC]
    queries = {q["Id"]: q for q in health["Metrics"]}
    assert queries["errors"]["MetricStat"]["Metric"]["MetricName"] == "MonitorExecutionErrors"
    assert queries["runs"]["MetricStat"]["Stat"] == "SampleCount"
    assert queries["malformed"]["MetricStat"]["Metric"]["MetricName"] == "MalformedRecords"
    assert queries["malformed"]["MetricStat"]["Stat"] == "Sum"
    assert "FILL(runs, 0) < 1" in queries["unhealthy"]["Expression"]
    assert "FILL(malformed, 0) > 0" in queries["unhealthy"]["Expression"]
    assert "rds-user-audit-canary-silent" not in alarms  # no CANARY_USER


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
    assert len(alarm_widget["properties"]["alarms"]) == 2


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
