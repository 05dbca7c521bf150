"""The AWS emulator for tests: moto's server on loopback, a fault-injecting proxy in front of it, real log lines
put into its log groups, and a model of how CloudWatch evaluates an alarm (moto stores alarms, never evaluates them).
"""

from __future__ import annotations

import http.client
import http.server
import itertools
import json
import os
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
VENV_BIN = str(Path(__file__).resolve().parents[2] / ".venv" / "bin")


def aws_env(endpoint: str) -> dict[str, str]:
    """What the scripts and boto3 need to reach the emulator and nothing else."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_MAX_ATTEMPTS": "2",
        "AWS_RETRY_MODE": "standard",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
    }


# -- real log lines ----------------------------------------------------------------------------------------------
_ENTRY_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(\d{3}))? (\w+)")


def log_entries(path: Path) -> list[tuple[int, str]]:
    """A stderr log's entries as (epoch ms, text), one per entry as RDS exports them (TAB lines continue one)."""
    entries: list[tuple[int, str]] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _ENTRY_TIME.match(line)
        if match is None and entries:
            ms, text = entries[-1]
            entries[-1] = (ms, text + "\n" + line)
            continue
        if match is None:
            continue
        when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        entries.append((int(when.timestamp() * 1000) + int(match.group(2) or 0), line))
    return entries


def put_events(
    logs: Any, group: str, stream: str, events: list[tuple[int, str]], *, shuffle_seed: int | None = None
) -> None:
    """Put (epoch ms, message) events, in batches CloudWatch accepts, creating the group and stream if needed.

    With `shuffle_seed`, the events of each timestamp are put in a shuffled order: moto returns them in the
    order put, where CloudWatch orders events of one timestamp in no documented way (entries.event_order).
    """
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream)["logStreams"]
    if not any(s["logStreamName"] == stream for s in streams):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    ordered = sorted(events, key=lambda e: e[0])
    if shuffle_seed is not None:
        ordered = within_each_timestamp_shuffled(ordered, random.Random(shuffle_seed))
    for i in range(0, len(ordered), 5000):
        batch = [{"timestamp": ms, "message": text} for ms, text in ordered[i : i + 5000]]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)


def within_each_timestamp_shuffled(events: list[Any], rng: random.Random) -> list[Any]:
    """Events sorted by their first field (the timestamp), each timestamp's events in an order drawn by `rng`."""
    out: list[Any] = []
    for _, same in itertools.groupby(sorted(events, key=lambda e: e[0]), key=lambda e: e[0]):
        group = list(same)
        rng.shuffle(group)
        out.extend(group)
    return out


# -- faults --------------------------------------------------------------------------------------------------------
@dataclass
class Fault:
    """Answer requests whose X-Amz-Target ends with `target` with `status` and `body`, `times` times (-1: always)."""

    target: str
    status: int
    body: dict[str, Any]
    times: int = -1
    rewrite: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # or: change the real answer
    request: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # or: change the request the service gets


class FaultProxy:
    """An HTTP proxy on loopback in front of moto: a real service that misbehaves, for the SDK's own retries."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.faults: list[Fault] = []
        self.seen: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                proxy.seen.append(target)
                fault = next((f for f in proxy.faults if f.times != 0 and target.endswith(f.target)), None)
                if fault is not None and fault.request is not None:
                    body = json.dumps(fault.request(json.loads(body))).encode()
                elif fault is not None and fault.rewrite is None:
                    fault.times -= 1
                    self._answer(fault.status, json.dumps(fault.body).encode(), "application/x-amz-json-1.1")
                    return
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                conn.request("POST", self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                if fault is not None and fault.rewrite is not None and response.status == 200:
                    fault.times -= 1
                    data = json.dumps(fault.rewrite(json.loads(data))).encode()
                self._answer(response.status, data, response.getheader("Content-Type") or "application/json")

            def _answer(self, status: int, data: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- how CloudWatch evaluates an alarm -----------------------------------------------------------------------------
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-evaluation.html and
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
Series = list[tuple[datetime, float]]


def alarm_fires(
    alarm: dict[str, Any],
    datapoints: Series | dict[str, Series],
    evaluated_at: datetime,
    *,
    rolling: bool = False,
) -> bool:
    """Would this metric alarm be in ALARM when evaluated at `evaluated_at`?

    The model: CloudWatch buckets datapoints by their timestamp into periods and at each evaluation looks at the
    `EvaluationPeriods` most recent periods; `DatapointsToAlarm` of them must breach; a period without a value
    counts as TreatMissingData says. Periods are aligned to the period length and the current one holds
    `evaluated_at` (a datapoint timestamped before them is never looked at again, the trap a catching-up monitor
    must avoid), or with `rolling` they end at `evaluated_at`'s minute: CloudWatch evaluates every minute, and a
    schedule's runs need not line up with the periods. A metric math alarm (`Metrics`) takes its datapoints by
    metric name; FILL(x, v) fills a period of x without data, and if no metric has a datapoint in the evaluated
    periods, the expression has no value (it is missing).
    """
    n = alarm["EvaluationPeriods"]
    needed = alarm.get("DatapointsToAlarm") or n
    if alarm.get("Metrics"):  # DescribeAlarms gives a single-metric alarm an empty list
        queries = {q["Id"]: q for q in alarm["Metrics"]}
        stats = {i: q["MetricStat"] for i, q in queries.items() if "MetricStat" in q}
        [result] = [q for q in queries.values() if q.get("ReturnData", True)]
        period = {s["Period"] for s in stats.values()}.pop()
        assert isinstance(datapoints, dict)
        series = {i: datapoints.get(s["Metric"]["MetricName"], []) for i, s in stats.items()}
    else:
        period = alarm["Period"]
        assert isinstance(datapoints, list)
        series = {"metric": datapoints}
    if rolling:
        end = int(evaluated_at.timestamp()) // 60 * 60
        starts = [end - k * period for k in range(n, 0, -1)]
    else:
        current = int(evaluated_at.timestamp()) // period * period
        starts = list(range(current - (n - 1) * period, current + period, period))

    def values(points: Series, start: int) -> list[float]:
        return [v for when, v in points if start <= when.timestamp() < start + period]

    def aggregate(points: list[float], stat: str) -> float | None:
        if not points:
            return None
        return {"Sum": sum(points), "Maximum": max(points), "SampleCount": float(len(points))}[stat]

    any_data = any(values(points, start) for points in series.values() for start in starts)
    breaching = 0
    for start in starts:
        if alarm.get("Metrics"):
            scope = {i: aggregate(values(series[i], start), s["Stat"]) for i, s in stats.items()}
            value = evaluate_expression(result["Expression"], scope) if any_data else None
        else:
            value = aggregate(values(series["metric"], start), alarm["Statistic"])
        if value is None:
            breaching += alarm.get("TreatMissingData") == "breaching"
            continue
        threshold = alarm["Threshold"]
        breaching += {
            "GreaterThanThreshold": value > threshold,
            "GreaterThanOrEqualToThreshold": value >= threshold,
            "LessThanThreshold": value < threshold,
            "LessThanOrEqualToThreshold": value <= threshold,
        }[alarm["ComparisonOperator"]]
    return breaching >= needed


_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(>=|<=|[><()+,]))")


def evaluate_expression(expression: str, scope: dict[str, float | None]) -> float | None:
    """The metric math the alarms use, for one period: numbers, ids, FILL, IF, OR, AND, +, >, <, >=, <=.

    None is a period without data; FILL replaces it; anything else computed from it is None too. A comparison is
    1 or 0, as in CloudWatch metric math. Anything else is refused, so a new function needs a model first.
    """
    tokens: list[str] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            if expression[position:].strip():
                raise ValueError(f"cannot read {expression[position:]!r}")
            break
        tokens.append(next(g for g in match.groups() if g is not None))
        position = match.end()
    tokens.append("")
    at = 0

    def peek() -> str:
        return tokens[at]

    def take(expected: str | None = None) -> str:
        nonlocal at
        token = tokens[at]
        if expected is not None and token != expected:
            raise ValueError(f"{expression!r}: expected {expected!r}, got {token!r}")
        at += 1
        return token

    def both(a: float | None, b: float | None, op: Callable[[float, float], float]) -> float | None:
        return None if a is None or b is None else op(a, b)

    def logical() -> float | None:
        left = comparison()
        while peek() in ("OR", "AND"):
            op = take()
            right = comparison()
            if op == "OR":
                left = both(left, right, lambda a, b: float(bool(a) or bool(b)))
            else:
                left = both(left, right, lambda a, b: float(bool(a) and bool(b)))
        return left

    def comparison() -> float | None:
        left = addition()
        if peek() in (">", "<", ">=", "<="):
            op = take()
            right = addition()
            compare = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__}[op]
            return both(left, right, lambda a, b: float(compare(float(a), float(b))))
        return left

    def addition() -> float | None:
        left = primary()
        while peek() == "+":
            take()
            left = both(left, primary(), lambda a, b: a + b)
        return left

    def primary() -> float | None:
        token = take()
        if token == "(":
            value = logical()
            take(")")
            return value
        if token and token[0].isdigit():
            return float(token)
        if token in ("FILL", "IF"):
            take("(")
            args = [logical()]
            while peek() == ",":
                take()
                args.append(logical())
            take(")")
            if token == "FILL" and len(args) == 2:
                return args[1] if args[0] is None else args[0]
            if token == "IF" and len(args) == 3:
                return None if args[0] is None else (args[1] if args[0] else args[2])
            raise ValueError(f"{expression!r}: {token} with {len(args)} arguments")
        if token in scope:
            return scope[token]
        raise ValueError(f"{expression!r}: unknown {token!r}")

    value = logical()
    take("")
    return value


def metric_datapoints(
    cloudwatch: Any, namespace: str, name: str, log_group: str, since: datetime, until: datetime
) -> list[tuple[datetime, float]]:
    """The metric's sums per minute, read back from the emulator through the API (timestamp, value)."""
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "LogGroup", "Value": log_group}],
        StartTime=since,
        EndTime=until,
        Period=60,
        Statistics=["Sum", "SampleCount"],
    )
    return sorted((p["Timestamp"], p["Sum"]) for p in response["Datapoints"])


# -- fixtures (imported by the AWS test modules) -----------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server, in this process, on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh emulator state and an environment that reaches only it; the endpoint."""
    use_emulator(moto_endpoint, monkeypatch)
    return moto_endpoint


def use_emulator(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty the emulator; point this process's AWS environment at it, and at nothing else."""
    host, port = endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.request("POST", "/moto-api/reset")
    conn.getresponse().read()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in aws_env(endpoint).items():
        monkeypatch.setenv(key, value)
