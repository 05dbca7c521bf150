################################################################################
# pgaudit-monitor: the AWS pipeline of deploy-all.sh, as a Terraform module
#
# Providers: none is configured here, so that a root configuration can call this
# module with for_each (one instance per cluster; see examples/multi-cluster).
# Used as a root module itself (cd terraform && terraform apply), Terraform's
# default "aws" provider applies: the region comes from AWS_REGION or the profile.
#
# One source of truth: every policy document is one of the CLI path's JSON
# templates (../iam, ../sns) rendered with templatefile() and the same
# placeholders lib/deploy-common.sh fills in; the Lambda zip is the one
# lambda/deploy-lambda.sh builds (BUILD_ONLY=1, see README.md).
################################################################################

################################################################################
# Data sources
################################################################################

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

################################################################################
# Locals: names and derived values (lib/deploy-common.sh's defaults)
################################################################################

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region

  # "" by default: the CLI path's names exactly; "-<suffix>" after each name otherwise
  suffix = var.name_suffix == "" ? "" : "-${var.name_suffix}"

  function_name        = "rds-user-audit-monitor${local.suffix}"
  role_name            = "rds-user-audit-monitor-role${local.suffix}"
  role_policy_name     = "rds-user-audit-monitor-permissions${local.suffix}"
  topic_name           = "rds-user-audit-alerts${local.suffix}"
  kms_alias            = "alias/rds-user-audit-alerts${local.suffix}"
  rule_name            = "rds-user-audit-monitor-schedule${local.suffix}"
  alarm_prefix         = "rds-user-dml-detected${local.suffix}-"
  health_alarm_name    = "rds-user-audit-monitor-health${local.suffix}"
  data_loss_alarm_name = "rds-user-audit-monitor-data-loss${local.suffix}"
  canary_alarm_name    = "rds-user-audit-canary-silent${local.suffix}"
  dashboard_name       = "rds-user-audit-${var.cluster_name}"
  metric_namespace     = "RDSAudit/UserActivity"

  log_group_name           = "/aws/rds/cluster/${var.cluster_name}/postgresql"
  function_log_group       = "/aws/lambda/${local.function_name}"
  checkpoint_parameter     = "/rds-user-audit-monitor/${var.cluster_name}/checkpoint"
  topic_arn                = "arn:aws:sns:${local.region}:${local.account_id}:${local.topic_name}"
  alarm_period_seconds     = var.query_window_minutes * 60
  heartbeat_period_seconds = 2 * local.alarm_period_seconds
  schedule_unit            = var.query_window_minutes == 1 ? "minute" : "minutes"
  schedule_expression      = coalesce(var.schedule_expression, "rate(${var.query_window_minutes} ${local.schedule_unit})")
  lambda_zip_path          = coalesce(var.lambda_zip_path, "${path.module}/build/function.zip")
  canary_alarm_enabled     = var.canary_user != ""
  detail_topic_arn         = var.detail_notifications ? local.topic_arn : ""
  service_accounts_list    = join(",", var.service_accounts)

  # The placeholders of the JSON templates: the same names render() in lib/deploy-common.sh fills in.
  policy_template_vars = {
    account_id           = local.account_id
    region               = local.region
    log_group_name       = local.log_group_name
    function_name        = local.function_name
    role_name            = local.role_name
    topic_name           = local.topic_name
    metric_namespace     = local.metric_namespace
    checkpoint_parameter = local.checkpoint_parameter
  }
  policy_dir = "${path.module}/.."

  # The Lambda's environment: deploy-lambda.sh's variables, LOG_LINE_PREFIX only when one is given.
  lambda_environment = merge(
    {
      LOG_GROUP_NAME          = local.log_group_name
      METRIC_NAMESPACE        = local.metric_namespace
      QUERY_WINDOW_MINUTES    = tostring(var.query_window_minutes)
      SERVICE_ACCOUNTS        = local.service_accounts_list
      INGESTION_DELAY_SECONDS = tostring(var.ingestion_delay_seconds)
      STATEMENT_GRACE_SECONDS = tostring(var.statement_grace_seconds)
      CHECKPOINT_PARAMETER    = local.checkpoint_parameter
      CANARY_USER             = var.canary_user
      DETAIL_TOPIC_ARN        = local.detail_topic_arn
      NOTIFY_STATEMENT        = var.notify_statement
    },
    var.log_line_prefix == "" ? {} : { LOG_LINE_PREFIX = var.log_line_prefix },
  )

  tags = merge(
    {
      Project     = "pgaudit-monitor"
      Environment = var.environment
      Cluster     = var.cluster_name
    },
    var.tags,
  )
}
