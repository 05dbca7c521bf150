################################################################################
# IAM: the execution role (iam/deploy-iam.sh)
################################################################################

resource "aws_iam_role" "monitor" {
  name               = local.role_name
  description        = "pgaudit-monitor: Logs Insights on ${local.log_group_name}, metrics in ${local.metric_namespace}"
  assume_role_policy = templatefile("${local.policy_dir}/iam/lambda-trust-policy.json", local.policy_template_vars)
  tags               = local.tags
}

resource "aws_iam_role_policy" "monitor" {
  name   = local.role_policy_name
  role   = aws_iam_role.monitor.id
  policy = templatefile("${local.policy_dir}/iam/lambda-permissions-policy.json", local.policy_template_vars)
}

################################################################################
# Lambda: the function (lambda/deploy-lambda.sh)
################################################################################

resource "aws_lambda_function" "monitor" {
  # checkov:skip=CKV_AWS_50:No X-Ray: the CLI path deploys none; each run's outcome is a JSON log line and a metric
  # checkov:skip=CKV_AWS_116:No DLQ: the EventBridge target retries twice within an hour, and the next run catches up on every missed window; a failed run raises the health alarm
  # checkov:skip=CKV_AWS_117:No VPC: the function calls only AWS APIs (Logs, CloudWatch, SSM, SNS), never the database
  # checkov:skip=CKV_AWS_173:The environment holds no secret (log group, namespace, role globs, topic ARN); Lambda encrypts it at rest with its own key
  # checkov:skip=CKV_AWS_272:No code signing: the zip is built from this repository by lambda/deploy-lambda.sh, as on the CLI path
  function_name                  = local.function_name
  description                    = "pgaudit-monitor: human DML on application tables in ${local.log_group_name}"
  role                           = aws_iam_role.monitor.arn
  runtime                        = var.lambda_runtime
  handler                        = "lambda_function.lambda_handler"
  architectures                  = [var.lambda_architecture]
  timeout                        = 300
  memory_size                    = var.lambda_memory_mb
  reserved_concurrent_executions = 1 # one run at a time: two concurrent runs would read the same checkpoint
  filename                       = local.lambda_zip_path
  source_code_hash               = filebase64sha256(local.lambda_zip_path)

  environment {
    variables = local.lambda_environment
  }

  tags = local.tags

  # the role's permissions and the log group (with its retention) exist before the first run
  depends_on = [aws_iam_role_policy.monitor, aws_cloudwatch_log_group.function]
}

################################################################################
# EventBridge: the schedule (eventbridge/deploy-eventbridge.sh)
################################################################################

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = local.rule_name
  description         = "pgaudit-monitor: run ${local.function_name} every window"
  schedule_expression = local.schedule_expression
  state               = "ENABLED"
  tags                = local.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "audit-monitor"
  arn       = aws_lambda_function.monitor.arn

  retry_policy {
    maximum_retry_attempts       = 2
    maximum_event_age_in_seconds = 3600
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id   = "AllowEventBridgeSchedule"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.monitor.function_name
  principal      = "events.amazonaws.com"
  source_arn     = aws_cloudwatch_event_rule.schedule.arn
  source_account = local.account_id
}
