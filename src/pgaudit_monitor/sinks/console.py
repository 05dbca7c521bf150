"""The console sinks: a table for people, JSON lines for programs, and the --explain report."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from pgaudit_monitor.detections.model import Outcome

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


def write_json_line(outcome: Outcome, out: TextIO) -> None:
    out.write(json.dumps(outcome.to_dict(), ensure_ascii=False) + "\n")


def write_explain(excluded: Sequence[Outcome], out: TextIO, width: int | None = None) -> None:
    """What the policy excluded and by which rule: how a user tunes the policy on their own traffic."""
    width = width or shutil.get_terminal_size((160, 24)).columns
    by_rule = Counter(o.verdict.rule for o in excluded)
    out.write(f"\nExcluded: {len(excluded)} statements\n")
    for rule, n in by_rule.most_common():
        out.write(f"  {rule:<20} {n}\n")
    if excluded:
        out.write("\nRULE                  USER                      COMMAND        STATEMENT\n")
    for o in excluded:
        head = f"{o.verdict.rule:<20}  {o.user:<24}  {o.verdict.command:<13}  "
        out.write(head + _cut(_one_line(o.verdict.statement), max(20, width - len(head))) + "\n")
