"""The checkpoint: the end of the last window whose results were published, kept in an SSM parameter.

It is written only after a chunk's metrics are published, so a run that fails part-way leaves the failed chunk to
the next run; a retried run reads where the first one got to and counts nothing twice. The value is the ISO-8601
time, readable by the person who looks at it during an incident (`aws ssm get-parameter`).
"""

from __future__ import annotations

from typing import Any

from pgaudit_monitor.aws.windows import parse_time
from pgaudit_monitor.errors import CheckpointError
from pgaudit_monitor.timestamps import iso


class Checkpoint:
    """An SSM String parameter; `name` empty turns checkpointing off (every run takes its last due window)."""

    def __init__(self, ssm: Any, name: str) -> None:
        self.ssm = ssm
        self.name = name

    @property
    def enabled(self) -> bool:
        return bool(self.name)

    def load(self) -> int | None:
        if not self.enabled:
            return None
        try:
            value = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        except self.ssm.exceptions.ParameterNotFound:
            return None
        try:
            return parse_time(value)
        except ValueError as exc:
            raise CheckpointError(f"SSM parameter {self.name}: {value!r} is not a time") from exc

    def save(self, end: int) -> None:
        if self.enabled:
            self.ssm.put_parameter(Name=self.name, Value=iso(end), Type="String", Overwrite=True)
