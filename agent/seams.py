"""What the loop is handed instead of importing: the final test run and the fitting of the context window.

Protocols only, so the loop depends on no tool and no model module; the session builder supplies both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from loopwright.messages import Message, ToolSpec
from loopwright.model import Model


@dataclass(frozen=True)
class TestVerdict:
    __test__ = False  # not a pytest class

    passed: bool | None
    """None when the tests could not be run."""
    summary: str
    """One line."""
    command: str
    report: dict[str, Any] | None = None
    """The run's structured report, as the test tool records it in its output's data."""


class FinalTests(Protocol):
    def __call__(self) -> TestVerdict:
        """Run the project's tests on the work tree as it is now; may raise SandboxError."""
        ...


@dataclass(frozen=True)
class Fitted:
    messages: tuple[Message, ...]
    note: str
    """One line for the trajectory."""


class ContextFitter(Protocol):
    def __call__(self, model: Model, messages: Sequence[Message], tools: Sequence[ToolSpec]) -> Fitted | None:
        """None when the conversation fits `model`'s window; otherwise a shorter one. Raises ModelError when
        even that cannot fit."""
        ...
