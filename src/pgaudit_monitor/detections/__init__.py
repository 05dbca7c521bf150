"""Stage 4: records grouped into statements, each judged once by the policy."""

from pgaudit_monitor.detections.model import Outcome
from pgaudit_monitor.detections.statements import StatementAssembler

__all__ = ["Outcome", "StatementAssembler"]
