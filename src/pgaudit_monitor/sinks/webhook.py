"""Deliver notifications to a webhook: generic JSON, PagerDuty Events v2, or Opsgenie's Alert API.

Only https, or plain http to a loopback address (a local relay): an alert says who touched which table and must
not cross a network in clear. Self-signed receivers are trusted through a CA file, never by turning verification
off. Redirects are not followed. The key (PagerDuty routing key, Opsgenie API key, or a bearer token for a generic
receiver) is added when sending; it is never stored in the outbox nor written to a log, and neither is the URL's
path or query (some receivers put their token there): errors name the host only.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import ssl
import urllib.parse
from dataclasses import dataclass
from typing import Any

from pgaudit_monitor.errors import DeliveryError, WebhookConfigError
from pgaudit_monitor.policy.severity import Severity
from pgaudit_monitor.sinks.base import OK, REMINDER, Notification, describe

SHAPES = ("generic", "pagerduty", "opsgenie")
USER_AGENT = "pgaudit-monitor"


def check_url(url: str) -> urllib.parse.SplitResult:
    """https anywhere, http only to loopback; anything else is refused before the watcher starts."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookConfigError("webhook URL must be https://host/... (or http:// to a loopback address)")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise WebhookConfigError(f"webhook URL: plain http is allowed to a loopback address only, not {parts.hostname}")
    return parts


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    shape: str = "generic"
    key: str | None = None
    ca_file: str | None = None
    timeout: float = 10.0

    def __post_init__(self) -> None:
        check_url(self.url)
        if self.shape not in SHAPES:
            raise WebhookConfigError(f"webhook format must be one of {', '.join(SHAPES)}")
        if self.shape in ("pagerduty", "opsgenie") and not self.key:
            raise WebhookConfigError(f"the {self.shape} webhook needs a key (environment variable or key file)")

    @property
    def host(self) -> str:
        return urllib.parse.urlsplit(self.url).netloc.rpartition("@")[2]


@dataclass(frozen=True)
class Request:
    url: str
    body: dict[str, Any]
    headers: dict[str, str]


# Our levels in the receivers' words: PagerDuty's Events API v2 takes critical, error, warning or info
# (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/); Opsgenie's Alert API P1 (highest) to P5
# (https://docs.opsgenie.com/docs/alert-api). A notification that lists no detection pages at the top level.
CRITICAL = Severity.CRITICAL.value
PAGERDUTY_SEVERITY = {"critical": "critical", "high": "error", "medium": "warning", "low": "info"}
OPSGENIE_PRIORITY = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}


def build_request(n: Notification, config: WebhookConfig) -> Request:
    """The request a receiver of the configured shape expects for this notification."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if config.shape == "pagerduty":
        return Request(config.url, _pagerduty(n, config.key or ""), headers)
    if config.shape == "opsgenie":
        headers["Authorization"] = f"GenieKey {config.key}"
        return _opsgenie(n, config.url, headers)
    if config.key:
        headers["Authorization"] = f"Bearer {config.key}"
    return Request(config.url, {"title": n.title, **n.to_dict()}, headers)


def _details(n: Notification) -> dict[str, Any]:
    return {
        "count": n.count,
        "window_seconds": n.window_seconds,
        "threshold": n.threshold,
        "detections": [describe(d) for d in n.detections],
        "statements": [d.statement for d in n.detections if d.statement],  # as `notified` made them
    }


def _pagerduty(n: Notification, key: str) -> dict[str, Any]:
    # One PagerDuty incident per ALARM episode: its trigger, re-triggers and resolve share a dedup_key.
    body: dict[str, Any] = {
        "routing_key": key,
        "event_action": "resolve" if n.kind == OK else "trigger",
        "dedup_key": f"{n.alarm}/{n.incident}",
    }
    if n.kind != OK:
        first = n.detections[0] if n.detections else None
        body["payload"] = {
            "summary": n.title[:1024],
            "source": n.host,
            "severity": PAGERDUTY_SEVERITY[n.severity or CRITICAL],
            "timestamp": n.at,
            "component": (first and first.database) or "postgresql",
            "group": "pgaudit-monitor",
            "class": (first and first.category) or "app-dml",
            "custom_details": _details(n),
        }
    return body


def _opsgenie(n: Notification, url: str, headers: dict[str, str]) -> Request:
    alias = f"{n.alarm}/{n.incident}"
    base = url.split("?", 1)[0].rstrip("/")
    quoted = urllib.parse.quote(alias, safe="")
    if n.kind == OK:
        return Request(f"{base}/{quoted}/close?identifierType=alias", {"source": n.host, "note": n.title}, headers)
    if n.kind == REMINDER:
        return Request(
            f"{base}/{quoted}/notes?identifierType=alias", {"source": n.host, "note": n.text()[:25000]}, headers
        )
    body = {
        "message": n.title[:130],
        "alias": alias[:512],
        "description": n.text()[:15000],
        "source": n.host,
        "priority": OPSGENIE_PRIORITY[n.severity or CRITICAL],
        "tags": ["pgaudit-monitor", "human-dml"],
        "details": {k: str(v)[:8000] for k, v in _details(n).items()},
    }
    return Request(url, body, headers)


class WebhookSink:
    """POST one notification; any answer but 2xx, a timeout or a refused connection is a DeliveryError."""

    name = "webhook"

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self._context = ssl.create_default_context(cafile=config.ca_file)

    def send(self, n: Notification) -> None:
        request = build_request(n, self.config)
        parts = urllib.parse.urlsplit(request.url)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        port = parts.port
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname or "", port, timeout=self.config.timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname or "", port, timeout=self.config.timeout)
        body = json.dumps(request.body).encode()
        try:
            conn.request("POST", path, body=body, headers=request.headers)
            response = conn.getresponse()
            response.read(65536)
        except ssl.SSLError as exc:
            raise DeliveryError(f"webhook {self.config.host}: TLS error: {exc.reason or type(exc).__name__}") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DeliveryError(f"webhook {self.config.host}: {reason}") from None
        except http.client.HTTPException as exc:
            raise DeliveryError(f"webhook {self.config.host}: {type(exc).__name__}") from None
        finally:
            conn.close()
        if not 200 <= response.status < 300:
            raise DeliveryError(f"webhook {self.config.host}: HTTP {response.status}")
