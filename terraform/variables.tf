################################################################################
# The cluster and the people to alert
################################################################################

variable "cluster_name" {
  description = "The Aurora/RDS PostgreSQL cluster to watch: its log group is /aws/rds/cluster/<cluster_name>/postgresql (CLUSTER_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9-]+$", var.cluster_name))
    error_message = "cluster_name: letters, digits and hyphens only (an RDS cluster identifier)."
  }
}

variable "environment" {
  description = "The deployment's environment, set as the Environment tag: dev, staging or production."
  type        = string

  validation {
    condition     = contains(["dev", "staging", "production"], var.environment)
    error_message = "environment must be one of: dev, staging, production."
  }
}

variable "alert_email" {
  description = "The e-mail address subscribed to the alert topic (ALERT_EMAIL); it must confirm the subscription."
  type        = string

  validation {
    condition     = can(regex("^[^@ ]+@[^@ ]+[.][^@ ]+$", var.alert_email))
    error_message = "alert_email must be an e-mail address (name@domain.tld)."
  }
}

variable "incident_platform_url" {
  description = "The incident platform's HTTPS webhook, subscribed to the alert topic (INCIDENT_PLATFORM_URL). It usually carries an API key: sensitive, never in an output; the subscription's endpoint is still in the state (see README, Security)."
  type        = string
  sensitive   = true

  validation {
    condition     = startswith(var.incident_platform_url, "https://")
    error_message = "incident_platform_url must be an https:// URL (value not shown)."
  }
}

################################################################################
# The policy and the windows (the Lambda's environment)
################################################################################

variable "service_accounts" {
  description = "The application's service accounts (shell globs such as app_*), whose DML is expected and never alerted on (SERVICE_ACCOUNTS). Required: give [] if there are none."
  type        = list(string)

  validation {
    condition     = alltrue([for account in var.service_accounts : can(regex("^[^, ]+$", account))])
    error_message = "service_accounts: each entry is one role name or glob, not empty, without commas or spaces."
  }
}

variable "query_window_minutes" {
  description = "The window length in minutes: the schedule's rate, the period of the detection and data-loss alarms (the heartbeat's is twice it) and the monitor's QUERY_WINDOW_MINUTES."
  type        = number
  default     = 5

  validation {
    condition     = var.query_window_minutes >= 1 && floor(var.query_window_minutes) == var.query_window_minutes
    error_message = "query_window_minutes must be a whole number of minutes, 1 or more."
  }
}

variable "schedule_expression" {
  description = "The EventBridge schedule. null (the default, as the CLI path): rate(<query_window_minutes> minutes). A slower schedule makes every run catch up on the windows due since the last one, and delays the alarm as much."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_expression == null || can(regex("^(rate|cron)[(].+[)]$", var.schedule_expression))
    error_message = "schedule_expression must be null, rate(...) or cron(...)."
  }
}

variable "ingestion_delay_seconds" {
  description = "How long a window's events are given to reach CloudWatch Logs before the window is read (INGESTION_DELAY_SECONDS)."
  type        = number
  default     = 120

  validation {
    condition     = var.ingestion_delay_seconds >= 0 && floor(var.ingestion_delay_seconds) == var.ingestion_delay_seconds
    error_message = "ingestion_delay_seconds must be a whole number of seconds, 0 or more."
  }
}

variable "statement_grace_seconds" {
  description = "Context read on both sides of a window, so that a statement across a boundary is judged whole (STATEMENT_GRACE_SECONDS)."
  type        = number
  default     = 60

  validation {
    condition     = var.statement_grace_seconds >= 0 && floor(var.statement_grace_seconds) == var.statement_grace_seconds
    error_message = "statement_grace_seconds must be a whole number of seconds, 0 or more."
  }
}

variable "canary_user" {
  description = "The role `pgaudit-monitor probe` runs as (CANARY_USER). Non-empty: the monitor counts its records and the canary alarm fires when they stop. \"\": no canary."
  type        = string
  default     = ""

  validation {
    condition     = var.canary_user == "" || can(regex("^[^, ]+$", var.canary_user))
    error_message = "canary_user must be \"\" or one role name, without commas or spaces."
  }
}

variable "canary_period_seconds" {
  description = "The canary alarm fires when no canary record reached the log in this many seconds (CANARY_PERIOD_SECONDS)."
  type        = number
  default     = 3600

  validation {
    condition     = var.canary_period_seconds >= 60 && var.canary_period_seconds % 60 == 0
    error_message = "canary_period_seconds must be a multiple of 60, at least 60 (a CloudWatch alarm period)."
  }
}

variable "log_line_prefix" {
  description = "The cluster's log_line_prefix (LOG_LINE_PREFIX). \"\": Aurora/RDS's fixed %t:%r:%u@%d:[%p]:, and the variable is not set on the function."
  type        = string
  default     = ""
}

variable "detail_notifications" {
  description = "The monitor also publishes a detail message for people (who, what, where, when) to the alert topic (DETAIL_NOTIFICATIONS=on)."
  type        = bool
  default     = true
}

variable "notify_statement" {
  description = "What the detail message shows of a statement (NOTIFY_STATEMENT): normalized (its text with literals replaced by $n), full, or none. The function's log always holds the full text."
  type        = string
  default     = "normalized"

  validation {
    condition     = contains(["normalized", "full", "none"], var.notify_statement)
    error_message = "notify_statement must be normalized, full or none."
  }
}

################################################################################
# Retention, the function, names, tags
################################################################################

variable "log_retention_days" {
  description = "Retention of the cluster's log group (the audit trail) and of the monitor's own log (the record of every detection), in days (RETENTION_DAYS)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "lambda_architecture" {
  description = "The function's architecture (LAMBDA_ARCH): arm64 or x86_64. The zip must be built for the same one."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be one of: arm64, x86_64."
  }
}

variable "lambda_runtime" {
  description = "The function's runtime (LAMBDA_RUNTIME), python3.N; the zip must be built for the same one."
  type        = string
  default     = "python3.12"

  validation {
    condition     = can(regex("^python3[.][0-9]+$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Python 3 runtime: python3.N (python3.12, python3.13, ...)."
  }
}

variable "lambda_memory_mb" {
  description = "The function's memory in MB (LAMBDA_MEMORY_MB)."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240 && floor(var.lambda_memory_mb) == var.lambda_memory_mb
    error_message = "lambda_memory_mb must be a whole number from 128 to 10240."
  }
}

variable "lambda_zip_path" {
  description = "The zip `BUILD_ONLY=1 LAMBDA_ZIP_OUT=<path> lambda/deploy-lambda.sh` built. null: build/function.zip inside this module's folder."
  type        = string
  default     = null
}

variable "name_suffix" {
  description = "\"\" (the default): the CLI path's names (rds-user-audit-monitor, ...). Otherwise appended to every account-wide name as -<suffix>, so that several clusters' stacks share one account and region."
  type        = string
  default     = ""

  validation {
    condition     = var.name_suffix == "" || can(regex("^[a-z0-9][a-z0-9-]{0,19}$", var.name_suffix))
    error_message = "name_suffix must be \"\" or 1 to 20 lowercase letters, digits and hyphens, starting with a letter or digit."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags (with Project, Environment and Cluster)."
  type        = map(string)
  default     = {}
}
