"""A real HTTP server in a thread that answers like a provider API, from scripted (recorded-style) replies.

The adapters talk to it through their real SDKs and real sockets; tests script what comes back and inspect what
was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str | None, Any]] | None = None
    """Server-sent events (event name or None, data); a str data is sent as is (e.g. "[DONE]")."""
    delay: float = 0.0
    """Seconds to wait before answering, to make a client time out."""
    raw: Callable[[BaseHTTPRequestHandler], None] | None = None
    """Writes the whole answer itself on the handler's socket: a server that misbehaves below the level of a reply."""


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: Any


class WireServer:
    def __init__(self, models: list[str] | None = None) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self.models = models or []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def posts(self) -> list[Seen]:
        return [r for r in self.requests if r.method == "POST"]

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(Seen("GET", self.path, {k.lower(): v for k, v in self.headers.items()}, None))
                if self.path.endswith("/models"):
                    data = {
                        "object": "list",
                        "data": [{"id": m, "object": "model", "owned_by": "me"} for m in server.models],
                    }
                    self._send(Reply(body=data))
                else:
                    self._send(Reply(status=404, body={"detail": "Not Found"}))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Seen("POST", self.path, headers, json.loads(raw or b"null")))
                reply = (
                    server.replies.popleft()
                    if server.replies
                    else Reply(status=599, body={"error": "no scripted reply"})
                )
                time.sleep(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                try:
                    if reply.raw is not None:
                        self.close_connection = True
                        reply.raw(self)
                        return
                    if reply.events is not None:
                        self._send_events(reply)
                        return
                    payload = json.dumps(reply.body).encode()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _send_events(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                for name, data in reply.events or []:
                    text = data if isinstance(data, str) else json.dumps(data)
                    prefix = f"event: {name}\n" if name else ""
                    self.wfile.write(f"{prefix}data: {text}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        return Handler


# -- recorded-style bodies: the shapes the providers send -------------------------------------------------------------


def openai_completion(content: str | None = "", *, tool_calls: list[tuple[str, str, str]] = (), model: str = "gpt-5-2025-08-07",
                      prompt: int = 100, completion: int = 20, cached: int = 0) -> dict[str, Any]:  # fmt: skip
    calls = [{"id": i, "type": "function", "function": {"name": n, "arguments": a}} for i, n, a in tool_calls]
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-CBd1x2y3z", "object": "chat.completion", "created": 1756000000, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
        "service_tier": "default", "system_fingerprint": None,
    }  # fmt: skip


def openai_chunks(pieces: list[str], *, tool_call: tuple[str, str, list[str]] | None = None, model: str = "gpt-5-2025-08-07",
                  usage: tuple[int, int, int] | None = (50, 7, 32)) -> list[tuple[str | None, Any]]:  # fmt: skip
    """A streamed completion: text pieces, optionally one tool call whose arguments arrive in pieces."""
    base = {"id": "chatcmpl-CBd1s", "object": "chat.completion.chunk", "created": 1756000000, "model": model}
    events: list[tuple[str | None, Any]] = [
        (
            None,
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        )
    ]
    for piece in pieces:
        events.append((None, {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}))
    if tool_call is not None:
        call_id, name, arg_pieces = tool_call
        first = {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        events.append(
            (None, {**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}, "finish_reason": None}]})
        )
        for piece in arg_pieces:
            delta = {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}
            events.append((None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}))
    finish = "tool_calls" if tool_call else "stop"
    events.append((None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    if usage is not None:
        prompt, completion, cached = usage
        totals = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}}  # fmt: skip
        events.append((None, {**base, "choices": [], "usage": totals}))
    events.append((None, "[DONE]"))
    return events


def openai_error(message: str, kind: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_message(blocks: list[dict[str, Any]], *, model: str = "claude-sonnet-4-5-20250929", input_tokens: int = 12,
                      output_tokens: int = 30, cache_read: int = 0, cache_write: int = 0) -> dict[str, Any]:  # fmt: skip
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant", "model": model,
        "content": blocks, "stop_reason": stop, "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                  "cache_creation_input_tokens": cache_write, "cache_read_input_tokens": cache_read},
    }  # fmt: skip


def anthropic_events(pieces: list[str], *, tool_use: tuple[str, str, list[str]] | None = None,
                     model: str = "claude-sonnet-4-5-20250929") -> list[tuple[str | None, Any]]:  # fmt: skip
    start = {"type": "message_start", "message": {
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 472, "output_tokens": 2, "cache_read_input_tokens": 400, "cache_creation_input_tokens": 0}}}  # fmt: skip
    events: list[tuple[str | None, Any]] = [("message_start", start)]
    events.append(
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
    )
    events.append(("ping", {"type": "ping"}))
    for piece in pieces:
        events.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}},
            )
        )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    if tool_use is not None:
        tool_id, name, json_pieces = tool_use
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": {}}
        events.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": block}))
        for piece in json_pieces:
            delta = {"type": "input_json_delta", "partial_json": piece}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    stop = "tool_use" if tool_use else "end_turn"
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": 89},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def anthropic_error(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
