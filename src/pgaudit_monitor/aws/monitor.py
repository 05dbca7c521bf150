"""One run of the AWS monitor: plan the due windows, query, judge with the core Pipeline, publish, checkpoint.

Everything a run needs comes from environment variables (`MonitorConfig.from_env`), so one package serves every
environment. The order inside a chunk is what makes the counts exact: query every row of the chunk (split at the
row limit), judge, publish the metrics, notify, and only then move the checkpoint.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from pgaudit_monitor.aws.checkpoint import Checkpoint
from pgaudit_monitor.aws.insights import ROW_LIMIT, Fetch, InsightsRunner, Row, build_query
from pgaudit_monitor.aws.windows import Span, last_due_end, parse_time, plan
from pgaudit_monitor.config import Settings, load_settings
from pgaudit_monitor.detections.model import Detection, json_line
from pgaudit_monitor.entries.model import Malformed
from pgaudit_monitor.entries.prefix import compile_prefix
from pgaudit_monitor.entries.splitting import AUDIT_MARKER
from pgaudit_monitor.errors import ConfigError
from pgaudit_monitor.pipeline import Pipeline
from pgaudit_monitor.sinks.base import NORMALIZED, statement_mode
from pgaudit_monitor.sinks.metric import CANARY, DETECTIONS, ERRORS, MALFORMED, RECORDS, TRUNCATED, MetricSink
from pgaudit_monitor.sinks.sns_detail import DetailNotifier, DetectionBatch
from pgaudit_monitor.timestamps import iso

DEFAULT_NAMESPACE = "RDSAudit/UserActivity"
SUMMARY_DETECTIONS = 50  # detections listed in the returned summary; every one is in the log


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {value}")
    return value


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


@dataclass(frozen=True)
class MonitorConfig:
    """The Lambda's environment; README "AWS deployment" documents each variable and its default."""

    log_group: str
    namespace: str = DEFAULT_NAMESPACE
    window_seconds: int = 300  # QUERY_WINDOW_MINUTES, matching the EventBridge schedule
    ingestion_delay: int = 120  # INGESTION_DELAY_SECONDS
    grace: int = 60  # STATEMENT_GRACE_SECONDS
    checkpoint_parameter: str = ""  # CHECKPOINT_PARAMETER; empty: no checkpoint, no catch-up
    max_windows_per_query: int = 12  # MAX_WINDOWS_PER_QUERY: how many windows one catch-up query covers
    canary_user: str = ""  # CANARY_USER
    detail_topic_arn: str = ""  # DETAIL_TOPIC_ARN; empty: no detail notification
    notify_statement: str = NORMALIZED  # NOTIFY_STATEMENT: what the detail message shows of a statement
    exclude_service_accounts_in_query: bool = True  # QUERY_EXCLUDES_SERVICE_ACCOUNTS
    poll_seconds: float = 1.0  # QUERY_POLL_SECONDS
    deadline_margin: int = 30  # DEADLINE_MARGIN_SECONDS: kept free before the Lambda timeout
    region: str = "us-east-1"
    settings: Settings = field(default_factory=Settings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> MonitorConfig:
        env = os.environ if env is None else env
        log_group = env.get("LOG_GROUP_NAME", "").strip()
        if not log_group:
            raise ConfigError("LOG_GROUP_NAME is not set: the CloudWatch log group of the cluster to watch")
        canary = env.get("CANARY_USER", "").strip()
        settings = load_settings(env=env)
        if canary:  # the probe's statements are expected: counted as canary records, never as detections
            settings = replace(settings, service_accounts=(*settings.service_accounts, canary))
        poll = env.get("QUERY_POLL_SECONDS", "").strip()
        return cls(
            log_group=log_group,
            namespace=env.get("METRIC_NAMESPACE", "").strip() or DEFAULT_NAMESPACE,
            window_seconds=60 * _int(env, "QUERY_WINDOW_MINUTES", 5, minimum=1),
            ingestion_delay=_int(env, "INGESTION_DELAY_SECONDS", 120),
            grace=_int(env, "STATEMENT_GRACE_SECONDS", 60),
            checkpoint_parameter=env.get("CHECKPOINT_PARAMETER", "").strip(),
            max_windows_per_query=_int(env, "MAX_WINDOWS_PER_QUERY", 12, minimum=1),
            canary_user=canary,
            detail_topic_arn=env.get("DETAIL_TOPIC_ARN", "").strip(),
            notify_statement=statement_mode(env.get("NOTIFY_STATEMENT", "")),
            exclude_service_accounts_in_query=_flag(env, "QUERY_EXCLUDES_SERVICE_ACCOUNTS", True),
            poll_seconds=float(poll) if poll else 1.0,
            deadline_margin=_int(env, "DEADLINE_MARGIN_SECONDS", 30),
            region=env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip() or "us-east-1",
            settings=settings,
        )

    def query(self) -> str:
        accounts: tuple[str, ...] = ()
        if self.exclude_service_accounts_in_query:
            accounts = self.settings.builtin_service_accounts + self.settings.service_accounts
        return build_query(self.settings.log_line_prefix, accounts, keep_users=(self.canary_user,))


def emit(record: dict[str, Any], out: TextIO | None = None) -> None:
    """One JSON object per line on stdout: what Lambda writes to the function's log group."""
    stream = out or sys.stdout
    stream.write(json_line(record).decode("utf-8"))  # valid UTF-8 whatever the log held (a lone surrogate escaped)
    stream.flush()


@dataclass
class ChunkResult:
    span: Span
    detections: list[Detection]
    first_ms: int  # when the first detection's event was logged (the detail message links around it)
    records: int
    canary: int
    malformed: int
    queries: int
    truncated: int
    published: bool = True


def run_time(event: Any, clock: Callable[[], float]) -> int:
    """The scheduled event's `time` (a retried or late run plans what its schedule said); now for a manual invoke."""
    if isinstance(event, Mapping) and isinstance(event.get("time"), str):
        return parse_time(event["time"])
    return int(clock())


class Monitor:
    def __init__(
        self,
        config: MonitorConfig,
        *,
        logs: Any,
        cloudwatch: Any,
        ssm: Any,
        sns: Any = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        out: TextIO | None = None,
    ) -> None:
        self.config = config
        self.logs = logs
        self.metrics = MetricSink(cloudwatch, config.namespace, config.log_group)
        self.checkpoint = Checkpoint(ssm, config.checkpoint_parameter)
        self.notifier = (
            DetailNotifier(sns, config.detail_topic_arn, config.region, config.log_group, config.notify_statement)
            if config.detail_topic_arn and sns is not None
            else None
        )
        self.query = config.query()
        self.clock = clock
        self.sleep = sleep
        self.out = out
        self._canary_prefix = compile_prefix(config.settings.log_line_prefix)

    # ------------------------------------------------------------------------------------------------------
    def run(self, event: Any = None, remaining_ms: Callable[[], int] | None = None) -> dict[str, Any]:
        """Process every due window; return a summary. A failure publishes MonitorExecutionErrors and is raised."""
        started = time.monotonic()
        remaining = remaining_ms or (lambda: 900_000)
        try:
            return self._run(event, remaining, started)
        except Exception as exc:
            emit({"level": "ERROR", "event": "run-failed", "error": f"{type(exc).__name__}: {exc}"}, self.out)
            try:
                self.metrics.send({ERRORS: 1})
            except Exception as publish_exc:  # the raise below is what Lambda records; say why the metric is missing
                emit({"level": "ERROR", "event": "error-metric-failed", "error": str(publish_exc)}, self.out)
            raise

    def _run(self, event: Any, remaining: Callable[[], int], started: float) -> dict[str, Any]:
        cfg = self.config
        now = run_time(event, self.clock)
        due = last_due_end(now, cfg.window_seconds, cfg.ingestion_delay, cfg.grace)
        checkpoint = self.checkpoint.load()
        chunks = plan(checkpoint, due, cfg.window_seconds, cfg.max_windows_per_query)

        def seconds_left() -> float:
            return remaining() / 1000 - cfg.deadline_margin

        results: list[ChunkResult] = []
        deferred: list[Span] = []
        for index, chunk in enumerate(chunks):
            if results and seconds_left() < max(15.0, 10 * cfg.poll_seconds):
                deferred = chunks[index:]  # the next run continues from the checkpoint
                break
            results.append(self._process(chunk, seconds_left))
        if not any(r.published for r in results):
            self.metrics.send({DETECTIONS: 0, RECORDS: 0, MALFORMED: 0, ERRORS: 0})  # every run says it ran
        detections = [d for r in results for d in r.detections]
        summary = {
            "run_time": iso(now),
            "windows": [str(r.span) for r in results if r.published],
            "skipped_windows": [str(r.span) for r in results if not r.published],
            "deferred_windows": [str(s) for s in deferred],
            "checkpoint": iso(results[-1].span.end) if results else (iso(checkpoint) if checkpoint else None),
            "detections": len(detections),
            "records": sum(r.records for r in results),
            "canary_records": sum(r.canary for r in results),
            "malformed": sum(r.malformed for r in results),
            "queries": sum(r.queries for r in results),
            "truncated_seconds": sum(r.truncated for r in results),
            "duration_ms": int((time.monotonic() - started) * 1000),
            "detections_listed": detections[:SUMMARY_DETECTIONS],
        }
        emit({"level": "INFO", "event": "run", **{k: v for k, v in summary.items() if k != "detections_listed"}},
             self.out)  # fmt: skip
        return summary

    def _process(self, chunk: Span, seconds_left: Callable[[], float]) -> ChunkResult:
        cfg = self.config
        runner = InsightsRunner(
            self.logs, cfg.log_group, self.query, row_limit=ROW_LIMIT, poll_seconds=cfg.poll_seconds,
            deadline=seconds_left, sleep=self.sleep,
        )  # fmt: skip
        # grace seconds of context on each side: a statement is judged whole, and counted in its first record's window
        fetch = runner.fetch(Span(chunk.start - cfg.grace, chunk.end + cfg.grace))
        result = self._judge(chunk, fetch)
        if self.checkpoint.enabled and (self.checkpoint.load() or 0) >= chunk.end:
            result.published = False  # another run got here first (EventBridge delivers at least once)
            emit({"level": "WARNING", "event": "chunk-already-processed", "window": str(chunk)}, self.out)
            return result
        values: dict[str, float] = {
            DETECTIONS: len(result.detections),
            RECORDS: result.records,
            MALFORMED: result.malformed,  # an unreadable record may hide a detection: the health alarm calls a person
            ERRORS: 0,
        }
        if cfg.canary_user:
            values[CANARY] = result.canary
        if result.truncated:
            values[TRUNCATED] = result.truncated
            values[ERRORS] = 1  # rows may be missing from these seconds: the health alarm calls a person
        self.metrics.send(values)
        if self.notifier is not None and result.detections:
            try:
                self.notifier.send(DetectionBatch(tuple(result.detections), result.first_ms))
            except Exception as exc:  # people's copy only; the alarm has the count already
                emit({"level": "ERROR", "event": "notification-failed", "error": str(exc)}, self.out)
        self.checkpoint.save(chunk.end)
        return result

    def _judge(self, chunk: Span, fetch: Fetch) -> ChunkResult:
        cfg = self.config
        low, high = chunk.start * 1000, chunk.end * 1000
        rows = fetch.rows
        pipeline = Pipeline(cfg.settings, report_excluded=False)
        detections: list[Detection] = []
        first_ms = 0
        malformed = 0
        events = ((r.timestamp, r.stream, r.message) for r in rows)
        for item in pipeline.scan_events(events, source=cfg.log_group):
            row = rows[item.line - 1]  # the event's place in the order given, from 1
            if not low <= row.timestamp < high:
                continue  # context: the statement starts in a neighbouring window, which counts it
            if isinstance(item, Malformed):
                malformed += 1
                emit({"level": "WARNING", "event": "malformed", "stream": row.stream, "reason": item.reason,
                      "excerpt": item.excerpt}, self.out)  # fmt: skip
                continue
            detection = item.detection()
            detections.append(detection)
            first_ms = first_ms or row.timestamp
            emit({"level": "INFO", "event": "detection", **self._logged(detection, row, chunk)}, self.out)
        for span in fetch.truncated:
            emit({"level": "ERROR", "event": "row-limit", "window": str(span),
                  "detail": f"{ROW_LIMIT} rows in one second: some records of that second were not read"},
                 self.out)  # fmt: skip
        in_chunk = [r for r in rows if low <= r.timestamp < high]
        return ChunkResult(
            span=chunk,
            detections=detections,
            first_ms=first_ms,
            records=sum(1 for r in in_chunk if AUDIT_MARKER in r.message),
            canary=self._canary(in_chunk),
            malformed=malformed,
            queries=fetch.queries,
            truncated=len(fetch.truncated),
        )

    @staticmethod
    def _logged(detection: Detection, row: Row, chunk: Span) -> dict[str, Any]:
        """A detection as the Lambda logs it: placed by log stream, event time and window, which say where to
        look in CloudWatch (its place among the rows fetched, `source` and `line`, would not)."""
        d = detection.to_dict()
        d.pop("source")
        d.pop("line")
        d.update(log_stream=row.stream, event_time_ms=row.timestamp, window=str(chunk))
        return d

    def _canary(self, rows: list[Any]) -> int:
        user = self.config.canary_user
        if not user:
            return 0
        regex = self._canary_prefix.regex
        count = 0
        for r in rows:
            if user in r.message and AUDIT_MARKER in r.message:
                match = regex.match(r.message)
                if match is not None and match.groupdict().get("user") == user:
                    count += 1
        return count
