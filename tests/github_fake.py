"""A local HTTP server speaking the slice of GitHub's REST API the action uses, recording every request."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    """Pull requests by (owner/name, number); comments and reactions posted are kept per issue/comment."""

    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    replies: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def log_message(self, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.requests.append(Recorded(method, request.path, dict(request.headers.items()), body))
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _send(request, 401, {"message": "Requires authentication"})
        status, answer = self._route(method, request.path, body)
        _send(request, status, answer)

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "GET" and (m := re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls/(\d+)", path)):
            pull = self.pulls.get((m.group(1), int(m.group(2))))
            return (200, pull) if pull else (404, {"message": "Not Found"})
        if method == "POST" and (m := re.fullmatch(r"/repos/([^/]+/[^/]+)/(issues|pulls)/comments/(\d+)/reactions", path)):
            if body.get("content") not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
                return 422, {"message": "Validation Failed"}
            reaction = {"id": len(self.reactions) + 1, "content": body["content"], "comment_id": int(m.group(3)), "kind": m.group(2)}
            self.reactions.append(reaction)
            return 201, reaction
        if method == "POST" and (m := re.fullmatch(r"/repos/([^/]+/[^/]+)/issues/(\d+)/comments", path)):
            return 201, self._reply(m.group(1), int(m.group(2)), body, in_reply_to=None)
        if method == "POST" and (m := re.fullmatch(r"/repos/([^/]+/[^/]+)/pulls/(\d+)/comments/(\d+)/replies", path)):
            return 201, self._reply(m.group(1), int(m.group(2)), body, in_reply_to=int(m.group(3)))
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def _reply(self, repository: str, number: int, body: Any, in_reply_to: int | None) -> dict[str, Any]:
        reply_id = 9000 + len(self.replies)
        reply = {"id": reply_id, "body": body["body"], "in_reply_to_id": in_reply_to, "number": number, "html_url": f"https://github.example/{repository}/pull/{number}#issuecomment-{reply_id}"}
        self.replies.append(reply)
        return reply


def _send(request: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def pull_payload(repository: str, number: int, *, base_ref: str, base_url: str, head_ref: str, head_sha: str, head_repository: str | None = None, head_url: str | None = None, title: str = "Make the calculator right") -> dict[str, Any]:
    """A pull request as `GET /repos/{owner}/{repo}/pulls/{number}` returns it (the fields the action reads, plus a few)."""
    head_repository = head_repository or repository
    return {
        "number": number,
        "state": "open",
        "title": title,
        "base": {"ref": base_ref, "sha": "0" * 40, "repo": {"full_name": repository, "clone_url": base_url, "fork": False}},
        "head": {"ref": head_ref, "sha": head_sha, "repo": {"full_name": head_repository, "clone_url": head_url or base_url, "fork": head_repository != repository}},
    }
