"""What Lambda loads (handler `lambda_function.lambda_handler`): the monitor lives in the pgaudit_monitor package,
shipped in the same zip by deploy-lambda.sh."""

from pgaudit_monitor.entrypoints.lambda_handler import lambda_handler

__all__ = ["lambda_handler"]
