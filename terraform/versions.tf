terraform {
  # 1.5: the import blocks the README shows for a cluster log group RDS already created
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: data.aws_region's `region` attribute
      version = ">= 6.0, < 7.0"
    }
    time = {
      source = "hashicorp/time"
      # time_static: the epoch in the detection alarm's name, taken once (as deploy-alarm.sh does)
      version = ">= 0.9"
    }
  }
}
