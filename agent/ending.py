"""How a run ends: every way out of the loop is an exception that carries its reason."""

from __future__ import annotations


class RunEnded(Exception):
    reason: str = "ended"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


class Submitted(RunEnded):
    reason = "submitted"


class Answered(RunEnded):
    """A plain answer to the person present; the detail is the answer."""

    reason = "answered"


class LimitsExceeded(RunEnded):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail)
        self.reason = reason


class RepeatedFailure(RunEnded):
    reason = "repeated_failure"


class ModelFailed(RunEnded):
    reason = "model_error"


class Interrupted(RunEnded):
    reason = "interrupted"


class SandboxFailed(RunEnded):
    reason = "sandbox_error"
