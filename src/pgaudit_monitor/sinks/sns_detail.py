"""The detail notification: who did what, where and when, for the people on the topic.

Optional (DETAIL_TOPIC_ARN). The alarm stays the incident platform's single source of truth; this message only
saves the responder the first Logs Insights query, and links to it. Its statements are as NOTIFY_STATEMENT says
(sinks.base.shown_statement: normalized by default); the function's log holds the full text.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pgaudit_monitor.detections.model import Detection
from pgaudit_monitor.sinks.base import NORMALIZED, shown_statement
from pgaudit_monitor.timestamps import iso

_SUBJECT_MAX = 100
_STATEMENT_MAX = 300
_LISTED = 20


def insights_link(region: str, log_group: str, center_ms: int, minutes: int = 15) -> str:
    """A console link to Logs Insights on the log group, +-`minutes` around `center_ms`."""
    start, end = center_ms - minutes * 60_000, center_ms + minutes * 60_000

    def esc(text: str) -> str:  # the console's own escaping of its URL fragment
        return quote(quote(text, safe=""), safe="").replace("%", "$")

    def at(ms: int) -> str:
        return esc(iso(ms / 1000, milliseconds=True))

    fragment = (
        f"logsV2:logs-insights$3FqueryDetail$3D~(end~'{at(end)}~start~'{at(start)}"
        f"~timeType~'ABSOLUTE~source~(~'{esc(log_group)}))"
    )
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#{fragment}"


@dataclass(frozen=True)
class DetectionBatch:
    """The detections of one window, and when the first one was logged (the message links to the minutes
    around it)."""

    detections: tuple[Detection, ...]
    first_ms: int


class DetailNotifier:
    """Publishes one message per window with detections to the detail topic."""

    name = "sns-detail"

    def __init__(self, sns: Any, topic_arn: str, region: str, log_group: str, statement_mode: str = NORMALIZED) -> None:
        self.sns = sns
        self.topic_arn = topic_arn
        self.region = region
        self.log_group = log_group
        self.statement_mode = statement_mode

    def send(self, batch: DetectionBatch) -> None:
        detections = batch.detections
        if not detections:
            return
        who = Counter((d.user, d.command) for d in detections)
        summary = ", ".join(f"{user} {command} x{n}" for (user, command), n in who.most_common(3))
        subject = f"pgAudit: {len(detections)} human DML statement(s): {summary}"
        lines = [
            f"{len(detections)} statement(s) by people on application data in {self.log_group}.",
            "",
        ]
        for d in detections[:_LISTED]:
            statement = " ".join(shown_statement(d.statement, self.statement_mode).split())
            if len(statement) > _STATEMENT_MAX:
                statement = statement[: _STATEMENT_MAX - 1] + "…"
            lines.append(
                f"- {d.time}  {d.user}@{d.database} from {d.client}  {d.command} "
                f"{', '.join(d.relations) or '?'}  ({d.category}, pid {d.pid})"
                + (f"\n    {statement}" if statement else "")
            )
        if len(detections) > _LISTED:
            lines.append(f"... and {len(detections) - _LISTED} more: see the Lambda's log.")
        lines += ["", "Logs Insights, +-15 minutes:", insights_link(self.region, self.log_group, batch.first_ms)]
        self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=_ascii(subject)[:_SUBJECT_MAX],
            Message="\n".join(lines),
            MessageAttributes={"detections": {"DataType": "Number", "StringValue": str(len(detections))}},
        )


def _ascii(text: str) -> str:
    # SNS subjects: ASCII, no newlines
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)
