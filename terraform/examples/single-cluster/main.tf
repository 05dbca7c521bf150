################################################################################
# One cluster: the stack deploy-all.sh deploys, with the CLI path's names
################################################################################

provider "aws" {
  region = var.region
}

module "pgaudit_monitor" {
  source = "../.."

  cluster_name          = var.cluster_name
  environment           = var.environment
  alert_email           = var.alert_email
  incident_platform_url = var.incident_platform_url
  service_accounts      = var.service_accounts
  log_retention_days    = var.log_retention_days
  canary_user           = var.canary_user
  tags                  = var.tags
}
