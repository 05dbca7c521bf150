"""The captured real server output in tests/data/prefixes (made by scripts/capture_samples.py): where it lies and
the log_line_prefix each capture was written with. Shared by the table tests and the property tests."""

from __future__ import annotations

from pathlib import Path

from pgaudit_monitor.entries import AURORA_PREFIX, DEBIAN_PREFIX, POSTGRES_DEFAULT_PREFIX

DATA = Path(__file__).resolve().parents[1] / "data" / "prefixes"
RICH_PREFIX = "%m|%n|%r|%h|%-10u|%d|%6p|%a|%c|%l|%s|%v|%x|%e|%i|%b|%Q|%% "
CAPTURES = {"aurora": AURORA_PREFIX, "default": POSTGRES_DEFAULT_PREFIX, "debian": DEBIAN_PREFIX, "rich": RICH_PREFIX}
"""Capture name -> the prefix its .log file was written with."""
