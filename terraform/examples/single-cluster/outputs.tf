output "lambda_function_arn" {
  description = "The monitor function's ARN."
  value       = module.pgaudit_monitor.lambda_function_arn
}

output "sns_topic_arn" {
  description = "The alert topic's ARN."
  value       = module.pgaudit_monitor.sns_topic_arn
}

output "kms_key_id" {
  description = "The topic's key."
  value       = module.pgaudit_monitor.kms_key_id
}

output "alarm_names" {
  description = "The stack's alarms."
  value       = module.pgaudit_monitor.alarm_names
}

output "dashboard_url" {
  description = "The dashboard in the console."
  value       = module.pgaudit_monitor.dashboard_url
}
