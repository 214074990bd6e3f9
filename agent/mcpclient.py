"""The session's MCP servers, reached through the official SDK, behind a synchronous face.

The SDK is async (anyio) and the loop is not: one background thread runs an event loop (anyio's blocking
portal) that owns every server connection of the session. Each server is started, initialized and asked for
its tools there, all at once, each within its start timeout; a server that fails is reported on one line and
the session goes on without it. A call waits for its answer up to the server's call timeout. When the session
ends every connection is closed, and the SDK stops a stdio server that does not exit (its stdin closed, then
SIGTERM, then SIGKILL to its process group).

Everything a server sends is hostile: names, descriptions, schemas, results and error messages are data,
limited in size and turned into our own types here (`ServerTool`, `Reply`), the SDK's types stay inside this
module. A server's stderr goes to a file, never to the terminal; its last line explains a failed start.
"""

from __future__ import annotations

import json
import logging
import math
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, TimeoutError as FutureTimeout
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import anyio
import httpx2
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.types import CONNECTION_CLOSED, AudioContent, BlobResourceContents, CallToolResult, EmbeddedResource, ImageContent, ResourceLink, TextContent, TextResourceContents

from loopwright.config import McpServer
from loopwright.visible import visible

MAX_TOOLS = 128
"""Tools taken from one server; a listing longer than this is cut."""
MAX_PAGES = 20
MAX_NAME = 128
"""The protocol's limit on a tool's name; a longer one cannot be cut (calls name the tool whole), so that tool is left out."""
MAX_DESCRIPTION = 2_000
MAX_SCHEMA_CHARS = 20_000
"""A larger schema is replaced by an open one, so a server cannot fill the model's context with it."""
STDERR_TAIL = 4_096
CLOSE_GRACE_S = 10.0
"""How long closing waits for the SDK's own shutdown of a server (stdin, SIGTERM, SIGKILL) before giving up on it."""

State = Literal["started", "failed", "disabled", "gone"]


class McpError(Exception):
    """Something about an MCP server a person should know; the message is one line."""


@dataclass(frozen=True)
class ServerTool:
    """A tool as a server listed it, checked and cut to size."""

    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass
class ServerStatus:
    name: str
    state: State
    detail: str = ""
    """What runs or where it connects when started; why not otherwise. One line."""
    tools: tuple[ServerTool, ...] = ()

    def line(self) -> str:
        """One line for a person (the caller escapes it for the terminal)."""
        if self.state == "started":
            return f"MCP server {self.name}: started, {len(self.tools)} tool(s)"
        return f"MCP server {self.name}: {self.state}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class Reply:
    """A tool call's outcome as text the model can act on."""

    text: str
    is_error: bool
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Connection:
    spec: McpServer
    stderr: IO[bytes]
    ready: Future[tuple[ServerTool, ...]] = field(default_factory=Future)
    life: Future[None] | None = None
    client: Client | None = None


class McpServers:
    """The running servers of one session; made by `start_servers`, which closes them."""

    def __init__(self, portal: BlockingPortal, root: Path) -> None:
        self._portal = portal
        self._root = root
        self._stop = portal.call(anyio.Event)
        self._connections: dict[str, _Connection] = {}
        self.statuses: dict[str, ServerStatus] = {}

    def tools(self) -> list[tuple[str, ServerTool]]:
        """(server, tool) for every tool of every started server, in the order configured and listed."""
        return [(name, tool) for name, status in self.statuses.items() if status.state == "started" for tool in status.tools]

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> Reply:
        """Call `tool` of `server`; every failure (timeout, a server gone, a malformed answer) is an error reply."""
        connection = self._connections.get(server)
        status = self.statuses.get(server)
        if connection is None or connection.client is None or status is None or status.state != "started":
            why = f": {status.detail}" if status and status.detail else ""
            return Reply(f"MCP server {server} is not running{why}", is_error=True)
        timeout = connection.spec.call_timeout_s
        pending = self._portal.start_task_soon(_call, connection.client, tool, arguments, timeout)
        try:
            result = pending.result()
        except TimeoutError:
            return Reply(f"MCP server {server} did not answer {tool} within {timeout:g}s (call_timeout_s); the call was cancelled", is_error=True)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                return Reply(f"MCP server {server} refused the call to {tool}: {one_line(exc)}", is_error=True)
            status.state, status.detail = "gone", "it ended during the session" + _stderr_tail(connection.stderr)
            return Reply(f"MCP server {server} is gone ({status.detail}); its tools fail for the rest of the session", is_error=True)
        except Exception as exc:  # noqa: BLE001 - whatever a server sends or fails to send is the call's error, never the session's end
            return Reply(f"MCP server {server} sent no usable answer to {tool}: {type(exc).__name__}: {one_line(exc)}", is_error=True)
        except BaseException:
            pending.cancel()  # Ctrl-C: the call is abandoned on the server's side too
            raise
        return render(result)

    # -- inside the event loop ----------------------------------------------------------------------

    async def _serve(self, name: str, connection: _Connection) -> None:
        """One server's whole life: connect and list within the start timeout, then wait for the session's end."""
        spec = connection.spec
        try:
            with anyio.CancelScope(deadline=anyio.current_time() + spec.start_timeout_s) as scope:
                async with AsyncExitStack() as stack:
                    transport = await self._transport(spec, connection.stderr, stack)
                    client = await stack.enter_async_context(Client(transport, mode="legacy"))
                    tools = await _list_tools(client)
                    scope.deadline = math.inf
                    connection.client = client
                    connection.ready.set_result(tools)
                    await self._stop.wait()
            if scope.cancelled_caught and not connection.ready.done():
                connection.ready.set_exception(McpError(f"no answer within {spec.start_timeout_s:g}s (start_timeout_s); stopped it"))
        except Exception as exc:  # noqa: BLE001 - a server that cannot start is reported, the session goes on
            if not connection.ready.done():
                connection.ready.set_exception(exc)

    async def _transport(self, spec: McpServer, stderr: IO[bytes], stack: AsyncExitStack) -> Any:
        """The SDK's transport for `spec`; the HTTP client it is given is closed with `stack`."""
        if spec.url is not None:
            headers = {key: value.get_secret_value() for key, value in spec.headers.items()}
            http = await stack.enter_async_context(create_mcp_http_client(headers=headers))
            return streamable_http_client(spec.url, http_client=http)
        cwd = self._root / (spec.cwd or ".")
        if not cwd.is_dir():
            raise McpError(f"cwd {spec.cwd!r} is not a folder")
        params = StdioServerParameters(
            command=spec.command or "", args=spec.args, env={key: value.get_secret_value() for key, value in spec.env.items()}, cwd=cwd
        )
        return stdio_client(params, errlog=stderr)  # type: ignore[arg-type]

    async def _close(self) -> None:
        self._stop.set()


@contextmanager
def start_servers(servers: Mapping[str, McpServer], root: Path) -> Iterator[McpServers]:
    """Start every enabled server (all at once) and yield them started or failed; closes them all at the end."""
    _quiet_sdk_logs()
    with start_blocking_portal() as portal, tempfile.TemporaryDirectory(prefix="loopwright-mcp-") as logs:
        hub = McpServers(portal, root)
        try:
            for name, spec in servers.items():
                if spec.enabled:
                    connection = _Connection(spec, open(Path(logs) / f"{name}.stderr", "w+b"))
                    hub._connections[name] = connection
                    connection.life = portal.start_task_soon(hub._serve, name, connection)
            for name, spec in servers.items():
                started = hub._connections.get(name)
                hub.statuses[name] = _wait_started(name, started) if started else ServerStatus(name, "disabled", spec.summary())
            yield hub
        finally:
            portal.call(hub._close)
            for connection in hub._connections.values():
                if connection.life is not None:
                    try:
                        connection.life.result(timeout=CLOSE_GRACE_S)
                    except (Exception, FutureTimeout):  # noqa: BLE001 - a server that will not close must not keep the session open
                        connection.life.cancel()
                connection.stderr.close()
            portal.call(portal.stop, True)


def _wait_started(name: str, connection: _Connection) -> ServerStatus:
    spec = connection.spec
    try:
        tools = connection.ready.result(timeout=spec.start_timeout_s + CLOSE_GRACE_S)
    except FutureTimeout:
        return ServerStatus(name, "failed", f"no answer within {spec.start_timeout_s:g}s (start_timeout_s)")
    except Exception as exc:  # noqa: BLE001 - every way a start fails becomes the server's one line
        return ServerStatus(name, "failed", _why(exc, spec) + _stderr_tail(connection.stderr))
    return ServerStatus(name, "started", spec.summary(), tools)


async def _call(client: Client, tool: str, arguments: dict[str, Any], timeout: float) -> CallToolResult:
    with anyio.fail_after(timeout):
        return await client.call_tool(tool, arguments)


async def _list_tools(client: Client) -> tuple[ServerTool, ...]:
    found: list[ServerTool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        found.extend(
            ServerTool(tool.name, (tool.description or tool.title or "")[:MAX_DESCRIPTION], checked_schema(tool.input_schema))
            for tool in page.tools
            if len(tool.name) <= MAX_NAME
        )
        cursor = page.next_cursor
        if cursor is None or len(found) >= MAX_TOOLS:
            break
    return tuple(found[:MAX_TOOLS])


def checked_schema(schema: Any) -> dict[str, Any]:
    """The server's argument schema when it is an object schema of sensible size; an open object schema otherwise."""
    open_schema: dict[str, Any] = {"type": "object", "properties": {}}
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return open_schema
    try:
        text = json.dumps(schema)
    except (TypeError, ValueError):
        return open_schema
    properties = schema.get("properties", {})
    if len(text) > MAX_SCHEMA_CHARS or not isinstance(properties, dict) or not all(isinstance(p, dict) for p in properties.values()):
        return open_schema
    checked: dict[str, Any] = json.loads(text)
    checked["type"] = "object"
    checked.pop("$schema", None)
    return checked


# -- results ----------------------------------------------------------------------------------------


def render(result: CallToolResult) -> Reply:
    """A call's result as text: text blocks as they are, other content described, structured content as JSON."""
    parts = [_describe(block) for block in result.content]
    structured = result.structured_content
    if structured is not None and not any(_same_json(part, structured) or structured == {"result": part} for part in parts):
        parts.append(json.dumps(structured, ensure_ascii=False, indent=2))
    text = "\n".join(parts) if parts else "(no content)"
    return Reply(text, is_error=bool(result.is_error), data={"mcp_is_error": bool(result.is_error)})


def _describe(block: Any) -> str:
    if isinstance(block, TextContent):
        return block.text
    if isinstance(block, ImageContent | AudioContent):
        return f"[{block.type}: {block.mime_type}, {_decoded_size(block.data)} bytes, not shown]"
    if isinstance(block, ResourceLink):
        return f"[resource link: {block.name} {block.uri}]"
    if isinstance(block, EmbeddedResource):
        resource = block.resource
        if isinstance(resource, TextResourceContents):
            return f"[resource {resource.uri}]\n{resource.text}"
        if isinstance(resource, BlobResourceContents):
            return f"[resource {resource.uri}: {resource.mime_type or 'binary'}, {_decoded_size(resource.blob)} bytes, not shown]"
    return f"[{getattr(block, 'type', type(block).__name__)} content, not shown]"


def _decoded_size(base64_text: str) -> int:
    return len(base64_text) * 3 // 4 - base64_text[-2:].count("=")


def _same_json(text: str, value: Any) -> bool:
    try:
        return bool(json.loads(text) == value)
    except ValueError:
        return False


# -- failures ---------------------------------------------------------------------------------------


def _why(exc: BaseException, spec: McpServer) -> str:
    """One line for a failed start, from the innermost cause the SDK's task groups wrapped."""
    leaf = _leaf(exc)
    if isinstance(leaf, FileNotFoundError) and spec.command is not None:
        return f"cannot start {spec.command!r}: no such program (not on PATH, nor relative to the folder it starts in)"
    if isinstance(leaf, PermissionError) and spec.command is not None:
        return f"cannot start {spec.command!r}: permission denied"
    if isinstance(leaf, httpx2.ConnectError):
        return f"cannot connect to {spec.url}: {one_line(leaf)}"
    if isinstance(leaf, httpx2.HTTPStatusError):
        return f"{spec.url} answered HTTP {leaf.response.status_code}"
    if isinstance(leaf, McpError):
        return str(leaf)
    if isinstance(leaf, MCPError):
        return f"the server answered with an error: {one_line(leaf)}"
    return f"{type(leaf).__name__}: {one_line(leaf)}" if str(leaf).strip() else type(leaf).__name__


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _stderr_tail(stderr: IO[bytes]) -> str:
    """The server's last line on stderr, as ` (stderr: ...)`, or ""."""
    try:
        stderr.seek(0, 2)
        size = stderr.tell()
        stderr.seek(max(0, size - STDERR_TAIL))
        lines = [line.strip() for line in stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except (OSError, ValueError):
        return ""
    return f" (stderr: {visible(lines[-1])[:300]})" if lines else ""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return visible(text.splitlines()[0])[:300] if text else type(exc).__name__


def _quiet_sdk_logs() -> None:
    """The SDK logs a server's garbage (with tracebacks) through `logging`; with no handler configured Python's
    last-resort handler would print it, unescaped, on the terminal. Failures reach the person as our one lines."""
    for name in ("mcp", "client", "httpx2"):
        logger = logging.getLogger(name)
        if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
            logger.addHandler(logging.NullHandler())
        logger.propagate = False
