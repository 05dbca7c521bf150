output "lambda_function_arns" {
  description = "The monitor function of each cluster."
  value       = { for key, stack in module.pgaudit_monitor : key => stack.lambda_function_arn }
}

output "sns_topic_arns" {
  description = "The alert topic of each cluster."
  value       = { for key, stack in module.pgaudit_monitor : key => stack.sns_topic_arn }
}

output "kms_key_ids" {
  description = "The topic key of each cluster."
  value       = { for key, stack in module.pgaudit_monitor : key => stack.kms_key_id }
}

output "alarm_names" {
  description = "The alarms of each cluster."
  value       = { for key, stack in module.pgaudit_monitor : key => stack.alarm_names }
}

output "dashboard_urls" {
  description = "The dashboard of each cluster."
  value       = { for key, stack in module.pgaudit_monitor : key => stack.dashboard_url }
}
