################################################################################
# KMS: the topic's customer-managed key (sns/deploy-sns.sh)
#
# Not alias/aws/sns: an AWS-managed key's policy cannot grant CloudWatch alarms
# kms:GenerateDataKey, so alarms could not publish to the topic.
################################################################################

resource "aws_kms_key" "alerts" {
  description         = "pgaudit-monitor: encrypts the ${local.topic_name} topic"
  enable_key_rotation = true
  policy              = templatefile("${local.policy_dir}/sns/kms-key-policy.json", local.policy_template_vars)
  tags                = local.tags

  # the policy names the role as a principal, which KMS requires to exist (deploy-all.sh runs IAM first too)
  depends_on = [aws_iam_role.monitor]
}

resource "aws_kms_alias" "alerts" {
  name          = local.kms_alias
  target_key_id = aws_kms_key.alerts.key_id
}

################################################################################
# SNS: the alert topic, its policy, the subscriptions
################################################################################

resource "aws_sns_topic" "alerts" {
  name              = local.topic_name
  kms_master_key_id = aws_kms_key.alerts.arn
  tags              = local.tags
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = templatefile("${local.policy_dir}/sns/topic-policy.json", local.policy_template_vars)
}

resource "aws_sns_topic_subscription" "email" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

# The endpoint carries the platform's API key: the variable is sensitive, so plans and outputs never show it,
# but Terraform keeps this attribute in the state. Keep the state in an encrypted backend (README, Security).
resource "aws_sns_topic_subscription" "incident_platform" {
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "https"
  endpoint  = var.incident_platform_url
}
