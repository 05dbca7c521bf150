################################################################################
# Several clusters from one configuration: one module instance per cluster
# (for_each), each stack's account-wide names suffixed with its key
################################################################################

provider "aws" {
  region = var.region
}

module "pgaudit_monitor" {
  source   = "../.."
  for_each = var.clusters

  name_suffix           = each.key
  cluster_name          = each.value.cluster_name
  environment           = each.value.environment
  service_accounts      = each.value.service_accounts
  canary_user           = each.value.canary_user
  log_retention_days    = each.value.log_retention_days
  alert_email           = var.alert_email
  incident_platform_url = var.incident_platform_url
  tags                  = var.tags
}
