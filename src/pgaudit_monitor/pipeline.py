"""The one core every entry point shares: log entries in, an Outcome per audited statement out.

The CLI's `scan`, the Lambda and the watcher differ only in where entries come from and where outcomes go.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from pgaudit_monitor.background import MIN_BACKGROUND_BYTES, read_entries
from pgaudit_monitor.config import Settings
from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.detections.statements import StatementAssembler
from pgaudit_monitor.entries.event_order import Event, log_order
from pgaudit_monitor.entries.model import LogEntry, Malformed
from pgaudit_monitor.entries.prefix import compile_prefix
from pgaudit_monitor.entries.reader import SkipUser, read_events
from pgaudit_monitor.policy.verdict import Judge


class Pipeline:
    """Judges the statements of one or more logs with one policy. Keep one per run: it holds backend state."""

    def __init__(
        self, settings: Settings, *, report_excluded: bool = True, background_min_bytes: int = MIN_BACKGROUND_BYTES
    ) -> None:
        self.settings = settings
        self.background_min_bytes = background_min_bytes  # files this large are read in a second process
        self.prefix = compile_prefix(settings.log_line_prefix)
        self.assembler = StatementAssembler(Judge(settings.policy()), report_excluded=report_excluded)

    def feed(self, entries: Iterable[LogEntry | Malformed]) -> Iterator[Outcome | Malformed]:
        """Outcomes of the statements these entries complete (more may follow until `finish`)."""
        feed = self.assembler.feed
        for entry in entries:
            if isinstance(entry, Malformed):
                yield entry
            elif done := feed(entry):
                yield from done

    def finish(self) -> Iterator[Outcome]:
        """The statements still open at the end of the input."""
        yield from self.assembler.flush()

    def scan_file(self, path: str) -> Iterator[Outcome | Malformed]:
        """Entries of one file (raises InputError if it cannot be read). Call `finish` after the last file."""
        yield from self.feed(
            read_entries(path, self.prefix, skip_user=self.skip_user(), min_bytes=self.background_min_bytes)
        )

    def skip_user(self) -> SkipUser | None:
        """What readers may drop unread: service accounts' records, unless excluded statements are reported."""
        if self.assembler.report_excluded:
            return None
        is_service = self.assembler.is_service

        def skip(user: bytes) -> bool:
            return is_service(user.decode("utf-8", errors="replace"))

        return skip

    def scan_events(self, events: Iterable[Event], source: str) -> Iterator[Outcome | Malformed]:
        """CloudWatch Logs events as (timestamp ms, log stream, message), then the end of input.

        The events of one timestamp may come in any order (the services order by timestamp alone): they are
        read in the log's order, which entries.event_order recovers from the entries themselves. Each
        outcome's `line` is its event's place in `events`, from 1, whatever place it was read in.
        """
        events = list(events)
        order = log_order(events, self.prefix)
        in_order = ((events[index][1], events[index][2]) for index in order)
        for item in self.feed(read_events(in_order, self.prefix, source=source)):
            yield replace(item, line=order[item.line - 1] + 1)
        for outcome in self.finish():
            yield replace(outcome, line=order[outcome.line - 1] + 1)
