"""When to ask a person, combined with what the sandbox allows: one pure function says allow, ask or forbid.

The approval mode is the person's choice of how much to watch; the sandbox policy is what isolation
is actually in place. Neither overrides the other: `full-auto` never asks about a command because the
sandbox confines it, so without a sandbox a command is asked about whatever the mode says.
"""

from __future__ import annotations

from typing import Literal, get_args

from loopwright.config import SandboxSettings
from loopwright.tools.base import Tool, ToolKind

ApprovalMode = Literal["suggest", "auto-edit", "full-auto"]
Action = ToolKind
Decision = Literal["allow", "ask", "forbid"]

MODES: tuple[str, ...] = get_args(ApprovalMode)


def action_of(tool: Tool | object) -> Action:
    """What a tool's calls do to the world, as the tool declares it. A tool that declares no kind we know
    counts as a command, the cautious side."""
    kind = getattr(tool, "kind", None)
    return kind if kind in ("read", "edit") else "command"


def decide(mode: ApprovalMode, action: Action, sandbox: SandboxSettings, *, person_present: bool = True) -> Decision:
    """Allow, ask or forbid one action. With nobody to ask, what would be asked is forbidden."""
    if mode not in MODES:
        raise ValueError(f"unknown approval mode {mode!r}; choose one of {', '.join(MODES)}")
    if action == "read":
        return "allow"
    if action == "edit":
        wanted: Decision = "ask" if mode == "suggest" else "allow"
    else:
        isolated = sandbox.kind == "docker"
        wanted = "allow" if mode == "full-auto" and isolated else "ask"
    if wanted == "ask" and not person_present:
        return "forbid"
    return wanted
