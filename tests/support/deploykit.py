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
