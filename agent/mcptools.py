"""An MCP server's tools as loopwright tools: `SERVER__TOOL`, the server's own argument schema, kind `command`.

A server tool runs outside the sandbox, on this machine or wherever the server is, so it is a `command` to the
approval policy: in `suggest` and `auto-edit` a person is asked before each call. It may change files without
saying which, so the last test run no longer speaks for them. Its arguments are checked by the server (the
schema it gave is what the model sees); its result is clipped like any tool output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import ConfigDict

from loopwright.mcpclient import McpServers, Reply, ServerTool
from loopwright.tools.base import Tool, ToolArgs, ToolContext, ToolKind, ToolOutput, clip

MAX_NAME = 64
"""Model APIs take tool names of 1 to 64 letters, digits, `_` and `-`."""
SEPARATOR = "__"
DESCRIBED_ARGUMENTS = 120

Caller = Callable[[str, str, dict[str, Any]], Reply]
"""(server, tool as the server names it, arguments) -> the reply."""


class McpArgs(ToolArgs):
    """Any JSON object: the server checks its own arguments and its error goes back to the model."""

    model_config = ConfigDict(extra="allow")


class McpTool:
    """One tool of one server. `server_tools` makes a subclass per tool, so each carries its own name and schema."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Args: ClassVar[type[ToolArgs]] = McpArgs
    input_schema: ClassVar[dict[str, Any]] = {}
    """The server's schema of the arguments, offered to the model as it is (see `tools.base.schema_of`)."""
    server: ClassVar[str] = ""
    remote: ClassVar[str] = ""
    """The tool's name on its server."""

    kind: ClassVar[ToolKind] = "command"
    reports_tests: ClassVar[bool] = False
    unseen_changes: ClassVar[bool] = True
    editable: ClassVar[str | None] = None

    def __init__(self, call: Caller) -> None:
        self._call = call

    @property
    def where(self) -> str:
        """Where a call runs, for the person asked to approve it."""
        return f"by MCP server {self.server}, outside the sandbox"

    def describe(self, args: ToolArgs) -> str:
        shown = json.dumps(args.model_dump(), ensure_ascii=False)
        if len(shown) > DESCRIBED_ARGUMENTS:
            shown = shown[: DESCRIBED_ARGUMENTS - 3] + "..."
        return f"{self.server}: {self.remote} {shown}"

    def preview(self, args: ToolArgs, ctx: ToolContext) -> str | None:
        return f"{self.server}: {self.remote} " + json.dumps(args.model_dump(), ensure_ascii=False, indent=2)

    def run(self, args: ToolArgs, ctx: ToolContext) -> ToolOutput:
        reply = self._call(self.server, self.remote, args.model_dump())
        return ToolOutput(text=clip(reply.text, ctx.max_output_chars), is_error=reply.is_error, data={"mcp_server": self.server, **reply.data})


def server_tools(servers: McpServers) -> list[Tool]:
    """A tool for each tool of each started server, under names that are unique and valid for model APIs."""
    taken: set[str] = set()
    made: list[Tool] = []
    for server, listed in servers.tools():
        name = tool_name(server, listed.name, taken)
        taken.add(name)
        made.append(_tool_class(server, listed, name)(servers.call))
    return made


def tool_name(server: str, remote: str, taken: set[str]) -> str:
    """`SERVER__TOOL`, with characters model APIs refuse as `_`, cut to 64, and numbered when already taken."""
    clean = re.sub(r"[^A-Za-z0-9_-]", "_", remote) or "tool"
    base = f"{server}{SEPARATOR}{clean}"[:MAX_NAME]
    name, number = base, 1
    while name in taken:
        number += 1
        suffix = f"_{number}"
        name = base[: MAX_NAME - len(suffix)] + suffix
    return name


def _tool_class(server: str, listed: ServerTool, name: str) -> type[McpTool]:
    description = listed.description.strip() or f"Tool {listed.name} of the MCP server {server}."
    attributes = {
        "name": name,
        "description": f"[MCP server {server}] {description}",
        "input_schema": listed.input_schema,
        "server": server,
        "remote": listed.name,
    }
    return type(f"McpTool_{name}", (McpTool,), attributes)
