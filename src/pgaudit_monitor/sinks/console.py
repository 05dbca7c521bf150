"""The console sinks: a table for people, JSON lines for programs, and the --explain report."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.entries.model import Malformed
from pgaudit_monitor.sinks.base import Notification

_COLUMNS = ("time", "user", "database", "client", "command", "relations", "statement")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _cut(text: str, width: int) -> str:
    if width <= 1:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(outcome: Outcome) -> list[str]:
    v = outcome.verdict
    command = v.command if v.category != "sensitive-catalog" else f"{v.command} (sensitive catalog)"
    return [
        outcome.time or "",
        outcome.user,
        outcome.database or "",
        outcome.client or "",
        command,
        ", ".join(v.relations) or "?",
        _one_line(v.statement),
    ]


def write_table(outcomes: Sequence[Outcome], out: TextIO, width: int | None = None) -> None:
    """A fixed-width table, the statement cut to the terminal's width, then a summary per user and command."""
    width = width or shutil.get_terminal_size((160, 24)).columns
    rows = [_row(o) for o in outcomes]
    widths = [max([len(_COLUMNS[i])] + [len(r[i]) for r in rows]) for i in range(len(_COLUMNS) - 1)]
    widths = [min(w, 40) for w in widths]
    statement_width = max(20, width - sum(widths) - 2 * len(widths))

    def line(cells: Sequence[str]) -> str:
        fixed = "  ".join(_cut(c, w).ljust(w) for c, w in zip(cells, widths, strict=False))
        return f"{fixed}  {_cut(cells[-1], statement_width)}".rstrip()

    out.write(line([c.upper() for c in _COLUMNS]) + "\n")
    for row in rows:
        out.write(line(row) + "\n")
    write_summary(outcomes, out)


def write_summary(outcomes: Sequence[Outcome], out: TextIO) -> None:
    counts = Counter((o.user, o.verdict.command, o.verdict.category or "") for o in outcomes)
    noun = "statement" if len(outcomes) == 1 else "statements"
    out.write(f"\n{len(outcomes)} {noun} detected")
    out.write(":\n" if counts else ".\n")
    for (user, command, category), n in sorted(counts.items()):
        suffix = " (sensitive catalog)" if category == "sensitive-catalog" else ""
        out.write(f"  {user:<24} {command:<10} {n}{suffix}\n")


class ExplainReport:
    """What the policy excluded and by which rule: how a user tunes the policy on their own traffic.

    Keeps counts, not statements, so it stays small on a large log: per rule, the most frequent statements.
    """

    def __init__(self, examples_per_rule: int = 10) -> None:
        self.examples_per_rule = examples_per_rule
        self.by_rule: Counter[str] = Counter()
        self.examples: Counter[tuple[str, str, str, str]] = Counter()

    def add(self, outcome: Outcome) -> None:
        v = outcome.verdict
        self.by_rule[v.rule] += 1
        self.examples[(v.rule, outcome.user, v.command, _one_line(v.statement))] += 1

    def write(self, out: TextIO, width: int | None = None) -> None:
        width = width or shutil.get_terminal_size((160, 24)).columns
        total = sum(self.by_rule.values())
        out.write(f"\nExcluded: {total} statement{'' if total == 1 else 's'}\n")
        for rule, n in self.by_rule.most_common():
            out.write(f"  {rule:<20} {n}\n")
        for rule, _ in self.by_rule.most_common():
            rows = [(key, n) for key, n in self.examples.most_common() if key[0] == rule][: self.examples_per_rule]
            out.write(f"\n{rule}: most frequent statements\n")
            for (_, user, command, statement), n in rows:
                head = f"  {n:>7}  {user:<20}  {command:<12}  "
                out.write(head + _cut(statement, max(20, width - len(head))) + "\n")


class ConsoleNotifier:
    """Alarm notifications on standard output: the console channel of the watcher's outbox."""

    name = "console"

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def send(self, notification: Notification) -> None:
        self.out.write(notification.text() + "\n")
        self.out.flush()


class ScanReport:
    """What `scan` and `triage` print, from the same stream of outcomes.

    Detections go to stdout (JSON lines as they come, or a table sorted by place in the log at the end), excluded
    statements to the --explain report, malformed entries to stderr with their place and reason.
    """

    JSON_LINES_HELD = 512
    """JSON lines written at once: standard output may be unbuffered (PYTHONUNBUFFERED), and a write per line
    then costs a system call per detection. `flush` writes what is held."""

    def __init__(self, command: str, *, as_json: bool, explain: bool, out: TextIO, err: TextIO) -> None:
        self.command, self.as_json, self.out, self.err = command, as_json, out, err
        self.explain = ExplainReport() if explain else None
        self.detections: list[Outcome] = []
        self.found = self.malformed = 0
        self._held: list[bytes] = []

    def take(self, item: Outcome | Malformed) -> None:
        if isinstance(item, Malformed):
            self.malformed += 1
            self.err.write(f"pgaudit-monitor {self.command}: skipped malformed entry: {item}\n")
        elif item.detected:
            self.found += 1
            if self.as_json:
                self._held.append(item.detection().json_line())
                if len(self._held) >= self.JSON_LINES_HELD:
                    self.flush()
            else:
                self.detections.append(item)
        elif self.explain is not None:
            self.explain.add(item)

    def flush(self) -> None:
        """Write the JSON lines held so far: as bytes to the stream's buffer where it has one (no decoding to text
        only to be encoded back), else as text."""
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            binary = getattr(self.out, "buffer", None)
            if binary is None:
                self.out.write(data.decode())
            else:
                self.out.flush()  # what was written as text before goes first
                binary.write(data)

    def finish(self) -> None:
        self.flush()
        if not self.as_json:
            write_table(sorted(self.detections, key=lambda o: (o.source, o.line)), self.out)
        if self.explain is not None:
            self.explain.write(self.err if self.as_json else self.out)
        if self.malformed:
            self.err.write(f"pgaudit-monitor {self.command}: {self.malformed} malformed entries skipped\n")
