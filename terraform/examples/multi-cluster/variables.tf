variable "region" {
  description = "The AWS region of the clusters and of the stacks."
  type        = string
  default     = "us-east-1"
}

variable "clusters" {
  description = "One entry per cluster, keyed by a short name (the stack's name suffix: lowercase letters, digits, hyphens)."
  type = map(object({
    cluster_name       = string
    environment        = string
    service_accounts   = list(string)
    canary_user        = optional(string, "")
    log_retention_days = optional(number, 365)
  }))
}

variable "alert_email" {
  description = "The e-mail address subscribed to every cluster's alert topic."
  type        = string
}

# Not part of `clusters`: for_each cannot iterate over a sensitive value.
variable "incident_platform_url" {
  description = "The incident platform's HTTPS webhook (carries its API key), subscribed to every topic."
  type        = string
  sensitive   = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
