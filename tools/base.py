"""Tools are data: a name, a description, typed arguments (a pydantic model) and a function.

Imports only the sandbox interface of ours.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from loopwright.sandboxes.base import CUT_NOTE, CUT_NOTE_PATTERN, Sandbox


ToolKind = Literal["read", "edit", "command"]
"""What a call does to the world: reads, changes files (and can be previewed), or runs a command."""


class ToolArgs(BaseModel):
    """Base for a tool's arguments; unknown arguments are an error the model can fix."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ToolOutput:
    text: str
    is_error: bool = False
    ends_run: bool = False
    """Set by `submit`: the model says it is done."""
    changed_files: tuple[str, ...] = ()
    """Workspace-relative paths this call wrote."""
    data: dict[str, Any] = field(default_factory=dict)
    """Structured extras for the trajectory and the summary (e.g. a test report)."""


@dataclass
class ToolContext:
    """What a tool may touch: the workspace on the host and the sandbox that runs commands."""

    root: Path
    sandbox: Sandbox
    test_command: str
    command_timeout_s: float = 120.0
    test_timeout_s: float = 600.0
    max_output_chars: int = 12_000
    env: dict[str, str] = field(default_factory=lambda: {"PYTHONDONTWRITEBYTECODE": "1"})
    """Environment for every command; keeps byte-code caches out of the user's tree."""

    def local(self, path: str) -> str:
        """A path as the model wrote it, with the sandbox's view of the workspace (e.g. /workspace/x.py)
        turned into a workspace-relative one: the model sees the repository there and often writes so."""
        workdir = (getattr(self.sandbox, "workdir", "") or "").rstrip("/")
        if workdir and Path(workdir) != self.root and (path == workdir or path.startswith(workdir + "/")):
            return path[len(workdir) :].lstrip("/") or "."
        return path


class ToolFailure(Exception):
    """Raised by a tool for an error the model should see and can fix (bad path, no match...)."""


@runtime_checkable
class Tool(Protocol):
    """A tool and the facts about it that approval, rendering and the loop ask for instead of matching its name."""

    name: ClassVar[str]
    description: ClassVar[str]
    Args: ClassVar[type[ToolArgs]]
    kind: ClassVar[ToolKind]
    """Decides when a person is asked (see loopwright.approval); a tool that declares none counts as a command."""
    reports_tests: ClassVar[bool]
    """Its output is a test report: the loop takes its verdict as the latest test run."""
    unseen_changes: ClassVar[bool]
    """A call may change files without naming them in `ToolOutput.changed_files` (a shell command), so the
    last test run no longer speaks for the files."""
    editable: ClassVar[str | None]
    """The argument a person may rewrite while approving a call (a shell command), or None."""

    def describe(self, args: Any) -> str:
        """One line for a person: what the call reads, the command it runs, the files it edits."""
        ...

    def preview(self, args: Any, ctx: ToolContext) -> str | None:
        """What the call would do, worked out without doing it: an edit's diff, a command line in full.

        None when there is nothing more to show than `describe`; raises `ToolFailure` with the reason when
        an edit would not apply."""
        ...

    def run(self, args: Any, ctx: ToolContext) -> ToolOutput: ...


def schema_of(tool: Tool) -> dict[str, Any]:
    """The JSON schema of a tool's arguments, flattened for model APIs.

    A tool whose arguments are described elsewhere (an MCP server's tool) gives that schema as its
    `input_schema` attribute; every other tool's schema is generated from its `Args`."""
    given = getattr(tool, "input_schema", None)
    schema = copy.deepcopy(given) if isinstance(given, dict) else tool.Args.model_json_schema()
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    schema.setdefault("properties", {})
    return schema


def clip(text: str, limit: int) -> str:
    """Keep a long tool result readable for the model: head and tail, with a note of exactly what was cut.

    A sandbox's note of output it had cut (in bytes) that falls in the part cut here is taken into this
    note, so the one note left says everything that is not shown: characters and bytes.
    """
    if len(text) <= limit:
        return text
    half = limit // 2
    start, end = half, len(text) - half
    notes = list(CUT_NOTE_PATTERN.finditer(text))
    widened = True
    while widened:
        widened = False
        for note in notes:
            if note.start() < end and note.end() > start and (note.start() < start or note.end() > end):
                start, end, widened = min(start, note.start()), max(end, note.end()), True
    inside = [note for note in notes if start <= note.start() and note.end() <= end]
    cut_bytes = sum(int(note.group(1)) for note in inside)
    cut_chars = end - start - sum(len(note.group(0)) for note in inside)
    if not cut_chars:
        return text[:start] + CUT_NOTE.format(cut_bytes) + text[end:]
    also = f" and {cut_bytes} bytes of output" if cut_bytes else ""
    return f"{text[:start]}\n[... {cut_chars} characters{also} cut ...]\n{text[end:]}"
