"""Helpers for the local-mode tests and benchmark: a real HTTPS webhook receiver and a real SMTP server on
loopback (both with a self-signed certificate made here by openssl), and the watcher as a separate process."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

WATCH = [sys.executable, "-m", "pgaudit_monitor.entrypoints.cli"]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll until `predicate` is truthy; a hang guard, not a timing assertion (the timeout is generous)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        time.sleep(0.05)


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made with the openssl command."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@dataclass
class Received:
    path: str
    authorization: str | None
    body: dict[str, Any]
    at: float


@dataclass
class HttpsReceiver:
    """A webhook receiver on loopback over TLS. `mode`: "ok" (202), "fail" (500), or "down" (refusing)."""

    cert: Path
    key: Path
    port: int = 0
    mode: str = "ok"
    delivered: list[Received] = field(default_factory=list)
    failed: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> HttpsReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._lock:
                    if receiver.mode == "fail":
                        receiver.failed += 1
                        self.send_response(500)
                    else:
                        auth = self.headers.get("Authorization")
                        receiver.delivered.append(Received(self.path, auth, body, time.time()))
                        self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.socket = _server_context(self.cert, self.key).wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def go_down(self) -> None:
        self.stop()
        self.mode = "down"

    def come_back(self, mode: str = "ok") -> None:
        self.mode = mode
        self.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.delivered]


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on loopback that requires STARTTLS and a login before it takes mail."""

    def __init__(self, cert: Path, key: Path, user: str, password: str, port: int) -> None:
        self.cert, self.key, self.user, self.password, self.port = cert, key, user, password, port
        self.messages: list[Any] = []
        self.logins: list[str] = []
        self._controller: Any = None

    def start(self) -> SmtpReceiver:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                receiver.messages.append(message_from_bytes(envelope.original_content or envelope.content))
                return "250 OK"

        def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
            ok = isinstance(data, LoginPassword) and data.login.decode() == receiver.user
            ok = ok and data.password.decode() == receiver.password
            if ok:
                receiver.logins.append(data.login.decode())
            return AuthResult(success=ok)

        self._controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, tls_context=_server_context(self.cert, self.key),
            require_starttls=True, authenticator=authenticator, auth_required=True, auth_require_tls=True,
        )  # fmt: skip
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def incidents(self) -> list[tuple[str, str]]:
        return [(m["X-Pgaudit-Monitor-Kind"], m["X-Pgaudit-Monitor-Incident"]) for m in self.messages]


class WatcherProcess:
    """`pgaudit-monitor watch` as a separate process, its output kept in files."""

    def __init__(self, args: list[str], state_dir: Path, env: dict[str, str] | None = None) -> None:
        self.args, self.state_dir = args, state_dir
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> WatcherProcess:
        self.runs += 1
        out = open(self.state_dir.parent / f"watch-{self.state_dir.name}-{self.runs}.out", "wb")  # noqa: SIM115
        err = open(self.state_dir.parent / f"watch-{self.state_dir.name}-{self.runs}.err", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([*WATCH, "watch", "--state-dir", str(self.state_dir), *self.args],
                                     stdout=out, stderr=err, env=self.env)  # fmt: skip
        out.close()
        err.close()
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def ensure_stopped(self) -> None:
        """For a test's `finally`: a watcher left running would outlive the test."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def output(self) -> str:
        texts = []
        for run in range(1, self.runs + 1):
            for kind in ("out", "err"):
                path = self.state_dir.parent / f"watch-{self.state_dir.name}-{run}.{kind}"
                with contextlib.suppress(OSError):
                    texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)

    def journal(self) -> list[dict[str, Any]]:
        path = self.state_dir / "detections.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        path = self.state_dir / "state.sqlite3"
        if not path.exists():
            return []
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            conn.close()

    def meta(self, key: str) -> Any:
        rows = self.query(f"SELECT value FROM meta WHERE key = '{key}'")
        return json.loads(rows[0][0]) if rows else None

    def status(self) -> tuple[int, str]:
        proc = subprocess.run([*WATCH, "status", "--state-dir", str(self.state_dir)], capture_output=True,
                              text=True, check=False)  # fmt: skip
        return proc.returncode, proc.stdout + proc.stderr
