"""A small real MCP server (the official SDK's server API) that the client tests start as a subprocess.

    python tests/fakes/mcp_server.py [--hang] [--http PORT] [--marker FILE]

Its tools: `echo` answers with what it was given, `fail` reports an error, `odd` answers with an image, a
binary resource, a link and text full of terminal escapes, `slow` sleeps, `garbled` writes a reply of the
wrong shape straight onto the wire, `die` ends the process mid-call, `header` tells an HTTP header it received, `dotted.name/v2` has a name model
APIs refuse, and `longlong...` has a name of 4,000 characters. `--hang` never answers the handshake and ignores SIGTERM; `--http PORT` serves streamable HTTP instead of stdio;
`--marker FILE` writes FILE when the server starts, so a test can tell whether it ever ran.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image
from mcp.types import BlobResourceContents, CallToolResult, EmbeddedResource, ResourceLink, TextContent

server = MCPServer("fake", instructions="A server for tests.")
WIRE = os.dup(1)
"""The protocol's stdout, kept before the SDK moves it away from fd 1, so `garbled` can write on it."""


@server.tool(description="Answer with the text given, and its length as structured content.")
def echo(text: str, times: int = 1) -> dict[str, object]:
    return {"echo": text * times, "length": len(text) * times}


@server.tool(description="Always fails with the reason given.")
def fail(reason: str) -> str:
    raise ToolError(f"failed on purpose: {reason}")


@server.tool(description="Answers with content a terminal must not obey: \x1b]0;owned\x07 [bold red]markup[/]")
def odd() -> CallToolResult:
    content = [
        Image(data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, format="png").to_image_content(),
        EmbeddedResource(type="resource", resource=BlobResourceContents(uri="file:///blob.bin", blob="AAAA" * 100, mime_type="application/octet-stream")),
        ResourceLink(type="resource_link", uri="https://example.invalid/doc", name="doc"),
        TextContent(type="text", text="title\x1b]0;owned\x07 clear\x1b[2J [bold red]markup[/] \u202eevil"),
    ]
    return CallToolResult(content=content)


@server.tool(description="Sleeps, then answers.")
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "awake"


@server.tool(description="Writes a reply of the wrong shape for this call straight to stdout, then waits.")
def garbled(ctx: Context) -> str:
    reply = {"jsonrpc": "2.0", "id": int(ctx.request_id), "result": {"content": "not a list", "isError": "maybe"}}
    os.write(WIRE, (json.dumps(reply) + "\nthis line is not JSON at all\n").encode())
    time.sleep(30)
    return "too late"


@server.tool(description="Ends the server process in the middle of the call.")
def die() -> str:
    os._exit(3)


@server.tool(description="The value of an HTTP header of this call (streamable HTTP only).")
def header(name: str, ctx: Context) -> str:
    return (ctx.headers or {}).get(name.lower(), "(none)")


@server.tool(name="dotted.name/v2", description="A tool whose name model APIs do not accept as it is.")
def dotted() -> str:
    return "dotted"


@server.tool(name="long" * 1000, description="")
def long() -> str:
    return "a name of 4,000 characters"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--http", type=int)
    parser.add_argument("--marker")
    options = parser.parse_args()
    if options.marker:
        Path(options.marker).write_text(str(os.getpid()))
    print(f"fake server starting, env FAKE_TOKEN={os.environ.get('FAKE_TOKEN', '')}", file=sys.stderr, flush=True)
    if options.hang:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # only SIGKILL ends it
        time.sleep(3600)
    if options.http:
        server.run("streamable-http", host="127.0.0.1", port=options.http, json_response=True)
    else:
        server.run()


if __name__ == "__main__":
    main()
