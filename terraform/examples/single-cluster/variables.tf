variable "region" {
  description = "The AWS region of the cluster and of the stack."
  type        = string
  default     = "us-east-1"
}

variable "cluster_name" {
  description = "The Aurora/RDS PostgreSQL cluster to watch."
  type        = string
}

variable "environment" {
  description = "dev, staging or production."
  type        = string
  default     = "production"
}

variable "alert_email" {
  description = "The e-mail address subscribed to the alert topic."
  type        = string
}

variable "incident_platform_url" {
  description = "The incident platform's HTTPS webhook (carries its API key)."
  type        = string
  sensitive   = true
}

variable "service_accounts" {
  description = "The application's service accounts (globs); [] if none."
  type        = list(string)
}

variable "log_retention_days" {
  description = "Retention of the cluster's log and the monitor's log, in days."
  type        = number
  default     = 365
}

variable "canary_user" {
  description = "The `pgaudit-monitor probe` role; \"\" for no canary."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
