################################################################################
# Log retention (cloudwatch/set-log-retention.sh)
#
# The cluster's group is created here if RDS has not exported to it yet, so the
# retention holds from the first event. If it exists already, import it first
# (README, "A cluster that already exports its log").
################################################################################

resource "aws_cloudwatch_log_group" "cluster" {
  # checkov:skip=CKV_AWS_158:RDS writes this group; the CLI path keeps CloudWatch Logs' default encryption at rest, and a KMS key here would need a key policy for the logs service that the CLI path does not have
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

resource "aws_cloudwatch_log_group" "function" {
  # checkov:skip=CKV_AWS_158:As the CLI path: CloudWatch Logs' default encryption at rest; the lines hold detections (who, what, where), no secret
  name              = local.function_log_group
  retention_in_days = var.log_retention_days
  tags              = local.tags
}

################################################################################
# Alarms (cloudwatch/deploy-alarm.sh), each with alarm and OK actions on the topic
################################################################################

# The epoch in the detection alarm's name, taken at the first apply and kept by later ones. A fresh incident
# identity (NEW_ALARM_NAME=1 on the CLI path): terraform apply -replace='time_static.alarm_epoch'.
resource "time_static" "alarm_epoch" {}

# A person ran DML on application tables. The monitor timestamps its datapoints when it publishes them, so a
# detection found while catching up fires the alarm; a period without data is not a detection.
resource "aws_cloudwatch_metric_alarm" "detection" {
  alarm_name          = "${local.alarm_prefix}${time_static.alarm_epoch.unix}"
  alarm_description   = "A person ran DML on application tables (${local.log_group_name}). See the monitor's log and README runbook."
  namespace           = local.metric_namespace
  metric_name         = "UserDMLOperationCount"
  dimensions          = { LogGroup = local.log_group_name }
  statistic           = "Sum"
  period              = local.alarm_period_seconds
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = local.tags

  lifecycle {
    create_before_destroy = true
  }
}

# The monitor failed, read an audit record it could not parse (MalformedRecords: a truncated or damaged record may
# hide a detection), or stopped running (every run publishes UserDMLOperationCount, a 0 too), in 2 of 3 windows.
resource "aws_cloudwatch_metric_alarm" "health" {
  alarm_name          = local.health_alarm_name
  alarm_description   = "The pgaudit monitor of ${local.log_group_name} failed, stopped running or read unreadable audit records: detections may be delayed or missed. See README runbook."
  evaluation_periods  = 3
  datapoints_to_alarm = 2
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = local.tags

  metric_query {
    id          = "errors"
    return_data = false

    metric {
      namespace   = local.metric_namespace
      metric_name = "MonitorExecutionErrors"
      dimensions  = { LogGroup = local.log_group_name }
      period      = local.alarm_period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id          = "runs"
    return_data = false

    metric {
      namespace   = local.metric_namespace
      metric_name = "UserDMLOperationCount"
      dimensions  = { LogGroup = local.log_group_name }
      period      = local.alarm_period_seconds
      stat        = "SampleCount"
    }
  }

  metric_query {
    id          = "malformed"
    return_data = false

    metric {
      namespace   = local.metric_namespace
      metric_name = "MalformedRecords"
      dimensions  = { LogGroup = local.log_group_name }
      period      = local.alarm_period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id          = "unhealthy"
    label       = "failed or silent runs, unreadable records"
    return_data = true
    expression  = "IF(FILL(errors, 0) > 0 OR FILL(malformed, 0) > 0 OR FILL(runs, 0) < 1, 1, 0)"
  }
}

# With a canary user: its audited statements stopped reaching the log, so pgAudit may be logging nothing.
resource "aws_cloudwatch_metric_alarm" "canary" {
  count = local.canary_alarm_enabled ? 1 : 0

  alarm_name          = local.canary_alarm_name
  alarm_description   = "No audit record of the canary role ${var.canary_user} reached ${local.log_group_name}: is pgAudit logging?"
  namespace           = local.metric_namespace
  metric_name         = "CanaryRecords"
  dimensions          = { LogGroup = local.log_group_name }
  statistic           = "Sum"
  period              = var.canary_period_seconds
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = local.tags
}

################################################################################
# Dashboard (cloudwatch/deploy-dashboard.sh): the live table of audit records
# (the console query of log-insights-query.txt) and the alarms' status
################################################################################

resource "aws_cloudwatch_dashboard" "audit" {
  dashboard_name = local.dashboard_name
  dashboard_body = jsonencode({
    widgets = [
      {
        type   = "log"
        x      = 0
        y      = 0
        width  = 24
        height = 12
        properties = {
          title  = "pgAudit records: ${local.log_group_name}"
          region = local.region
          view   = "table"
          query  = "SOURCE '${local.log_group_name}' | ${trimsuffix(file("${local.policy_dir}/cloudwatch/log-insights-query.txt"), "\n")}"
        }
      },
      {
        type   = "alarm"
        x      = 0
        y      = 12
        width  = 24
        height = 4
        properties = {
          title = "Audit monitor alarms"
          alarms = concat(
            [aws_cloudwatch_metric_alarm.detection.arn, aws_cloudwatch_metric_alarm.health.arn],
            aws_cloudwatch_metric_alarm.canary[*].arn,
          )
        }
      },
    ]
  })
}
