"""The AWS Lambda entry point: `lambda_handler(event, context)`, run by EventBridge every QUERY_WINDOW_MINUTES.

The clients and the monitor are built once per container (module level, on first use) and reused by every
invocation the container serves; the handler body only hands the event over. `lambda/lambda_function.py` is the
file Lambda loads, a one-line import of this one.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

from pgaudit_monitor.aws.monitor import Monitor, MonitorConfig


@functools.cache
def monitor() -> Monitor:
    """The monitor of this container. Tests that change the environment call `monitor.cache_clear()`."""
    config = MonitorConfig.from_env()
    # standard retries: throttling (StartQuery's concurrency limit included) is retried with backoff
    retries = Config(retries={"mode": "standard", "max_attempts": int(os.environ.get("AWS_MAX_ATTEMPTS") or 5)})
    session = boto3.session.Session(region_name=config.region)
    return Monitor(
        config,
        logs=session.client("logs", config=retries),
        cloudwatch=session.client("cloudwatch", config=retries),
        ssm=session.client("ssm", config=retries),
        sns=session.client("sns", config=retries) if config.detail_topic_arn else None,
    )


def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return monitor().run(event, remaining)
