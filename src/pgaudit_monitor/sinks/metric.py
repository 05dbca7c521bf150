"""The metric sink: the numbers the alarms evaluate, published with PutMetricData.

Every datapoint is timestamped when it is published, never with the time of the window it counts. CloudWatch
evaluates an alarm over its most recent periods; a datapoint dated in a window caught up on after a gap would land
in a period the alarm has already left behind and never fire it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

DETECTIONS = "UserDMLOperationCount"
ERRORS = "MonitorExecutionErrors"
RECORDS = "AuditRecordsScanned"
CANARY = "CanaryRecords"
TRUNCATED = "QueryResultsTruncated"
MALFORMED = "MalformedRecords"  # AUDIT records that could not be read (cut short, damaged): the health alarm watches it
DIMENSION = "LogGroup"


class MetricSink:
    """Sends counts (metric name to value) as one PutMetricData call."""

    name = "metric"

    def __init__(
        self,
        cloudwatch: Any,
        namespace: str,
        log_group: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.cloudwatch = cloudwatch
        self.namespace = namespace
        self.dimensions = [{"Name": DIMENSION, "Value": log_group}]
        self.clock = clock

    def send(self, values: Mapping[str, float]) -> None:
        now = self.clock()
        self.cloudwatch.put_metric_data(
            Namespace=self.namespace,
            MetricData=[
                {"MetricName": name, "Dimensions": self.dimensions, "Timestamp": now, "Value": value, "Unit": "Count"}
                for name, value in values.items()
            ],
        )
