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

# How CloudWatch evaluates periods, datapoints to alarm and missing data:
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html
#   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
# Both health alarms keep deploy-alarm.sh's settings. The heartbeat keeps the address and the name of the older
# single health alarm (2 of 3 periods of errors, malformed records or silence): an apply updates it in place
# (PutMetricAlarm overwrites the configuration and keeps the state), so an open incident gets its OK.

# The heartbeat: no run reported in twice the window. Every run publishes MonitorExecutionErrors (0 when it
# completes, 1 when it fails), so a failing run counts as running and the data-loss alarm reports it. Twice the
# schedule, because CloudWatch evaluates every minute over the most recent periods and a run publishes when its
# query ends: a period of the schedule's length may hold no run. FILL(runs, 0) makes an empty period a breaching
# 0; with no datapoint in the evaluation range, missing data breaches: a stopped monitor pages.
resource "aws_cloudwatch_metric_alarm" "health" {
  alarm_name          = local.health_alarm_name
  alarm_description   = "The pgaudit monitor of ${local.log_group_name} reported no run in twice its window: it stopped, and detections are not being made. See README runbook."
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = 1
  comparison_operator = "LessThanThreshold"
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = local.tags

  metric_query {
    id          = "runs"
    return_data = false

    metric {
      namespace   = local.metric_namespace
      metric_name = "MonitorExecutionErrors"
      dimensions  = { LogGroup = local.log_group_name }
      period      = local.heartbeat_period_seconds
      stat        = "SampleCount"
    }
  }

  metric_query {
    id          = "heartbeat"
    label       = "runs reported"
    return_data = true
    expression  = "FILL(runs, 0)"
  }
}

# Data lost from alerting: the first window in which a run failed, read an audit record it could not parse
# (MalformedRecords: a damaged record may hide a detection) or got truncated query results (QueryResultsTruncated:
# rows may be missing). 1 of 1: one such window pages; missing data is not breaching (the heartbeat watches silence).
resource "aws_cloudwatch_metric_alarm" "data_loss" {
  alarm_name          = local.data_loss_alarm_name
  alarm_description   = "The pgaudit monitor of ${local.log_group_name} failed a run, read an audit record it could not parse or got truncated query results: a detection may be delayed or missed. See README runbook."
  evaluation_periods  = 1
  datapoints_to_alarm = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
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
    id          = "truncated"
    return_data = false

    metric {
      namespace   = local.metric_namespace
      metric_name = "QueryResultsTruncated"
      dimensions  = { LogGroup = local.log_group_name }
      period      = local.alarm_period_seconds
      stat        = "Sum"
    }
  }

  metric_query {
    id          = "lost"
    label       = "failed runs, unreadable records, truncated results"
    return_data = true
    expression  = "IF(FILL(errors, 0) > 0 OR FILL(malformed, 0) > 0 OR FILL(truncated, 0) > 0, 1, 0)"
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
            [
              aws_cloudwatch_metric_alarm.detection.arn,
              aws_cloudwatch_metric_alarm.health.arn,
              aws_cloudwatch_metric_alarm.data_loss.arn,
            ],
            aws_cloudwatch_metric_alarm.canary[*].arn,
          )
        }
      },
    ]
  })
}
