################################################################################
# Outputs: names and ARNs only. Nothing here is derived from
# incident_platform_url, so no output is sensitive.
################################################################################

output "lambda_function_arn" {
  description = "The monitor function's ARN."
  value       = aws_lambda_function.monitor.arn
}

output "lambda_function_name" {
  description = "The monitor function's name (for aws lambda invoke, the first invoke)."
  value       = aws_lambda_function.monitor.function_name
}

output "lambda_role_arn" {
  description = "The function's execution role."
  value       = aws_iam_role.monitor.arn
}

output "sns_topic_arn" {
  description = "The encrypted alert topic's ARN."
  value       = aws_sns_topic.alerts.arn
}

output "kms_key_id" {
  description = "The ID of the customer-managed key that encrypts the topic."
  value       = aws_kms_key.alerts.key_id
}

output "kms_key_arn" {
  description = "The ARN of the customer-managed key that encrypts the topic."
  value       = aws_kms_key.alerts.arn
}

output "detection_alarm_name" {
  description = "The detection alarm (rds-user-dml-detected-<epoch>), the incident identity platforms deduplicate on."
  value       = aws_cloudwatch_metric_alarm.detection.alarm_name
}

output "alarm_names" {
  description = "Every alarm of the stack: detection, health (the heartbeat), data_loss and, with a canary user, canary (null without)."
  value = {
    detection = aws_cloudwatch_metric_alarm.detection.alarm_name
    health    = aws_cloudwatch_metric_alarm.health.alarm_name
    data_loss = aws_cloudwatch_metric_alarm.data_loss.alarm_name
    canary    = one(aws_cloudwatch_metric_alarm.canary[*].alarm_name)
  }
}

output "dashboard_url" {
  description = "The CloudWatch console URL of the dashboard."
  value       = "https://${local.region}.console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.audit.dashboard_name}"
}

output "log_group_name" {
  description = "The cluster's PostgreSQL log group the monitor reads."
  value       = aws_cloudwatch_log_group.cluster.name
}

output "checkpoint_parameter" {
  description = "The SSM parameter the monitor keeps its window checkpoint in (written by the function at its first run)."
  value       = local.checkpoint_parameter
}
