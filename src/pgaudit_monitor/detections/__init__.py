"""Stage 4: records grouped into statements, each judged once by the policy (Outcome); a flagged one is a Detection."""

from pgaudit_monitor.detections.model import Detection, Outcome
from pgaudit_monitor.detections.statements import StatementAssembler

__all__ = ["Detection", "Outcome", "StatementAssembler"]
