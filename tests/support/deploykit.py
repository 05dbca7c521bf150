"""What the deployment tests deploy: deploy-all.sh's inputs and the Lambda environment they must give, shared by
the CLI path's tests (deploy/test_aws_deploy.py) and the Terraform module's (deploy/test_terraform.py)."""

from __future__ import annotations

from awskit import ACCOUNT, REGION

SECRET = "sk-live-7f3a9c"  # the API key inside the webhook URL
INPUTS = {
    "ACCOUNT_ID": ACCOUNT,
    "CLUSTER_NAME": "prod-aurora",
    "ALERT_EMAIL": "security@example.com",
    "INCIDENT_PLATFORM_URL": f"https://127.0.0.1:9/integrations/cloudwatch?apiKey={SECRET}",
    "SERVICE_ACCOUNTS": "app_*,etl",
    "RETENTION_DAYS": "400",
}
GROUP = "/aws/rds/cluster/prod-aurora/postgresql"
TOPIC = f"arn:aws:sns:{REGION}:{ACCOUNT}:rds-user-audit-alerts"
FUNCTION = "rds-user-audit-monitor"
LAMBDA_ENVIRONMENT = {
    "LOG_GROUP_NAME": GROUP,
    "METRIC_NAMESPACE": "RDSAudit/UserActivity",
    "QUERY_WINDOW_MINUTES": "5",
    "SERVICE_ACCOUNTS": "app_*,etl",
    "INGESTION_DELAY_SECONDS": "120",
    "STATEMENT_GRACE_SECONDS": "60",
    "CHECKPOINT_PARAMETER": "/rds-user-audit-monitor/prod-aurora/checkpoint",
    "CANARY_USER": "",
    "DETAIL_TOPIC_ARN": TOPIC,
    "NOTIFY_STATEMENT": "normalized",
}
"""The deployed function's environment for INPUTS; the Terraform module must give the same."""


def _stat(query_id: str, metric: str, stat: str, period: int) -> dict:
    return {
        "Id": query_id,
        "ReturnData": False,
        "MetricStat": {
            "Metric": {
                "Namespace": "RDSAudit/UserActivity",
                "MetricName": metric,
                "Dimensions": [{"Name": "LogGroup", "Value": GROUP}],
            },
            "Period": period,
            "Stat": stat,
        },
    }


# The two health alarms for INPUTS (a 5-minute window), as DescribeAlarms gives them: both paths must deploy these.
# How CloudWatch evaluates periods and missing data: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/
# alarm-evaluation.html and alarms-and-missing-data.html.
HEALTH_ALARMS: dict[str, dict] = {
    # the heartbeat: no run reported (every run publishes MonitorExecutionErrors) in twice the window
    "rds-user-audit-monitor-health": {
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
        "AlarmActions": [TOPIC],
        "OKActions": [TOPIC],
        "Metrics": [
            _stat("runs", "MonitorExecutionErrors", "SampleCount", 600),
            {"Id": "heartbeat", "Label": "runs reported", "ReturnData": True, "Expression": "FILL(runs, 0)"},
        ],
    },
    # data lost from alerting: the first window with a failed run, an unreadable record or truncated results
    "rds-user-audit-monitor-data-loss": {
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 0.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [TOPIC],
        "OKActions": [TOPIC],
        "Metrics": [
            _stat("errors", "MonitorExecutionErrors", "Sum", 300),
            _stat("malformed", "MalformedRecords", "Sum", 300),
            _stat("truncated", "QueryResultsTruncated", "Sum", 300),
            {
                "Id": "lost",
                "Label": "failed runs, unreadable records, truncated results",
                "ReturnData": True,
                "Expression": "IF(FILL(errors, 0) > 0 OR FILL(malformed, 0) > 0 OR FILL(truncated, 0) > 0, 1, 0)",
            },
        ],
    },
}
HEALTH_SETTINGS = ("EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator", "TreatMissingData",
                   "AlarmActions", "OKActions", "Metrics")  # fmt: skip
"""What HEALTH_ALARMS compares of a deployed alarm."""
