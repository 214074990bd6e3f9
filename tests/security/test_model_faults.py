"""A model server is hostile: whatever it sends, `loopwright run` ends on time, as a normal run, and remembers no lie.

Each test points the real command at a real server on 127.0.0.1 that misbehaves on the socket: it hangs before
the headers, trickles a byte a second, streams without end, sends what is not a chat completion, or fails once.
The run must end within its --time-limit (plus a little), with a stop reason, a summary, a trajectory and no
traceback; and the tool mode the adapter probes for is remembered only from a conclusive answer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.fakes.wire import Reply, WireServer, openai_chunks, openai_completion, openai_error
from tests.repos import buggy_calc_repo

MODEL = "qwen2.5-coder"
LIMIT = 3.0
"""The --time-limit of the runs that must be cut off."""
CUT_MARGIN = 1.5
"""How long past the limit a cut-off run may take to end."""
STARTUP_ALLOWANCE = 25.0
"""Process start, imports and repository map before the run's clock starts (slow on a shared machine)."""

Writer = Callable[[BaseHTTPRequestHandler], None]


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set when the test ends: the server's hanging and trickling handlers stop then."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def server(release) -> Iterator[WireServer]:
    with WireServer(models=[MODEL]) as wire:
        yield wire


def run_against(server: WireServer, tmp_path: Path, *flags: str, limit: float = LIMIT) -> tuple[subprocess.CompletedProcess, float]:
    """`loopwright run` on a fresh repository against `server`, with its own state, cache and config folders."""
    repo = buggy_calc_repo(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPWRIGHT_", "OPENAI_", "ANTHROPIC_"))}
    env.update(
        LOOPWRIGHT_STATE_DIR=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        COLUMNS="300",
    )
    spec = f"local:{MODEL}@{server.url}/v1"
    command = [sys.executable, "-m", "loopwright", "run", "fix the add test", "--repo", str(repo), "--model", spec]
    command += ["--sandbox", "local", "--time-limit", f"{limit:g}", *flags]
    started = time.monotonic()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=limit + STARTUP_ALLOWANCE + 10)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"the run was still going {expired.timeout:.0f}s after it started, with --time-limit {limit:g}")
    return proc, time.monotonic() - started


def summary_of(tmp_path: Path) -> dict:
    """The summary recorded in the run's trajectory."""
    runs = sorted((tmp_path / "state").rglob("runs/*.json"))
    assert len(runs) == 1, f"expected one trajectory, found {runs}"
    summary = json.loads(runs[0].read_text())["summary"]
    assert summary is not None, "the trajectory has no summary"
    return summary


def assert_normal_end(proc: subprocess.CompletedProcess, tmp_path: Path, reason: str) -> dict:
    """The run ended through the loop: summary printed, trajectory written, non-zero exit, no traceback."""
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    assert f"stop reason : {reason}" in proc.stdout, output
    assert "trajectory  : " in proc.stdout, output
    assert proc.returncode == 1, output
    summary = summary_of(tmp_path)
    assert summary["reason"] == reason
    return summary


def assert_cut_at_the_limit(server: WireServer, tmp_path: Path, *flags: str) -> None:
    proc, wall = run_against(server, tmp_path, *flags)
    summary = assert_normal_end(proc, tmp_path, "time_limit")
    assert summary["duration_s"] <= LIMIT + CUT_MARGIN, f"the run took {summary['duration_s']}s with --time-limit {LIMIT:g}"
    assert wall <= LIMIT + STARTUP_ALLOWANCE


# -- what the server writes --------------------------------------------------------------------------------------


def hang_before_headers(release: threading.Event) -> Writer:
    return lambda handler: release.wait()


def trickle(release: threading.Event, head: bytes, body: bytes) -> Writer:
    """`head` at once, then `body` a byte a second, then silence until the test ends."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(head)
        handler.wfile.flush()
        for byte in body:
            if release.wait(1.0):
                return
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
        release.wait()

    return write


def endless_stream(release: threading.Event) -> Writer:
    """A streamed completion whose text never ends, a chunk every few milliseconds."""
    start, piece = (json.dumps(data).encode() for _, data in openai_chunks(["more "], usage=None)[:2])

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        handler.wfile.write(b"data: " + start + b"\n\n")
        while not release.wait(0.005):
            handler.wfile.write(b"data: " + piece + b"\n\n")
            handler.wfile.flush()

    return write


def body(status: int, content_type: str, payload: bytes) -> Writer:
    """A complete answer with any body at all."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        handler.wfile.write(head.encode() + payload)

    return write


def json_body(data: object) -> Writer:
    return body(200, "application/json", json.dumps(data).encode())


def events_then_close(events: list[bytes]) -> Writer:
    """A stream that stops after `events`, with neither a finish reason nor [DONE]."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
        for event in events:
            handler.wfile.write(b"data: " + event + b"\n\n")

    return write


JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
SUBMIT_AS_TEXT = '<tool_call>\n{"name": "submit", "arguments": {"summary": "nothing to change"}}\n</tool_call>'


# -- the deadline ------------------------------------------------------------------------------------------------


def test_a_server_that_never_sends_headers_is_cut_off_at_the_time_limit(server, release, tmp_path):
    server.push(Reply(raw=hang_before_headers(release)))
    assert_cut_at_the_limit(server, tmp_path)


def test_headers_trickled_a_byte_a_second_are_cut_off_at_the_time_limit(server, release, tmp_path):
    server.push(Reply(raw=trickle(release, b"", b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000)))
    assert_cut_at_the_limit(server, tmp_path)


def test_a_body_trickled_a_byte_a_second_is_cut_off_at_the_time_limit(server, release, tmp_path):
    server.push(Reply(raw=trickle(release, JSON_HEAD, b'{"id": "' + b"x" * 1000)))
    assert_cut_at_the_limit(server, tmp_path, "--quiet")


def test_silence_after_the_headers_is_cut_off_at_the_time_limit(server, release, tmp_path):
    server.push(Reply(raw=trickle(release, JSON_HEAD, b"")))
    assert_cut_at_the_limit(server, tmp_path, "--quiet")


def test_an_endless_stream_is_cut_off_at_the_time_limit(server, release, tmp_path):
    server.push(Reply(raw=endless_stream(release)))
    assert_cut_at_the_limit(server, tmp_path)


def test_a_retry_wait_never_runs_past_the_time_limit(server, tmp_path):
    # A 429 asking to wait far longer than the run has left: the run must not sleep through its own limit.
    retry_later = Reply(status=429, body=openai_error("slow down", "rate_limit_error"), headers={"Retry-After": "120"})
    server.push(*[retry_later] * 6)
    proc, _ = run_against(server, tmp_path, "--quiet")
    summary = assert_normal_end(proc, tmp_path, "model_error")
    assert summary["duration_s"] <= LIMIT + CUT_MARGIN and "429" in summary["detail"]


# -- malformed answers -------------------------------------------------------------------------------------------

WRONG_CONTENT = {"choices": [{"index": 0, "message": {"role": "assistant", "content": 42}}]}
WRONG_USAGE = {"usage": {"prompt_tokens": "many", "completion_tokens": []}}
MALFORMED = {
    "invalid JSON": (body(200, "application/json", b'{"choices": [{"message": '), "invalid JSON"),
    "not JSON at all": (body(200, "text/html", b"<html><body>502 Bad Gateway</body></html>"), "not JSON"),
    "an empty body": (body(200, "application/json", b""), "invalid JSON"),
    "choices of the wrong type": (body(200, "application/json", b'{"choices": "none"}'), "malformed answer"),
    "content of the wrong type": (json_body(openai_completion(None) | WRONG_CONTENT), "malformed answer"),
    "usage of the wrong type": (json_body(openai_completion("hi") | WRONG_USAGE), "malformed answer"),
}


@pytest.mark.parametrize("answer, reason", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_answer_ends_the_run_as_a_model_error(server, tmp_path, answer, reason):
    server.push(Reply(raw=answer))
    proc, _ = run_against(server, tmp_path, "--quiet", limit=30)
    summary = assert_normal_end(proc, tmp_path, "model_error")
    assert reason in summary["detail"] and "\n" not in summary["detail"], summary["detail"]
    assert len(server.posts()) == 1, "a malformed answer is not asked for again"


STREAMED = {
    "invalid JSON in an event": ([b'{"id": "c", "choices": [{"delta": '], "invalid JSON"),
    "an event of the wrong shape": ([b'{"id": "c", "choices": [{"index": 0, "delta": "text"}]}'], "malformed answer"),
}


@pytest.mark.parametrize("events, reason", STREAMED.values(), ids=STREAMED.keys())
def test_a_malformed_stream_ends_the_run_as_a_model_error(server, tmp_path, events, reason):
    server.push(Reply(raw=events_then_close(events)))
    proc, _ = run_against(server, tmp_path, limit=30)
    summary = assert_normal_end(proc, tmp_path, "model_error")
    assert reason in summary["detail"], summary["detail"]


def test_a_stream_broken_off_before_its_end_is_not_taken_as_the_answer(server, tmp_path):
    # Text that stops mid-call must not reach the loop as a finished turn; after the retries the run ends.
    start, piece = (json.dumps(data).encode() for _, data in openai_chunks(['<tool_call>{"name": "sub'], usage=None)[:2])
    server.push(*[Reply(raw=events_then_close([start, piece]))] * 6)
    proc, _ = run_against(server, tmp_path, limit=4)
    summary = assert_normal_end(proc, tmp_path, "model_error")
    assert "broke off the answer" in summary["detail"], summary["detail"]


# -- the tool-mode probe -----------------------------------------------------------------------------------------


def remembered_modes(tmp_path: Path) -> dict:
    path = tmp_path / "cache" / "loopwright" / "tool_modes.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.parametrize("status", [500, 503])
def test_a_transient_server_error_on_the_probe_is_not_remembered(server, tmp_path, status):
    server.push(
        Reply(status=status, body=openai_error("The server had an error while processing your request", "server_error")),
        Reply(body=openai_completion(SUBMIT_AS_TEXT)),
    )
    proc, _ = run_against(server, tmp_path, "--quiet", limit=30)
    assert proc.returncode == 0 and "stop reason : submitted" in proc.stdout, proc.stdout + proc.stderr
    assert remembered_modes(tmp_path) == {}


@pytest.mark.parametrize(
    "first, mode",
    [
        (Reply(status=400, body=openai_error('"auto" tool choice requires --enable-auto-tool-choice', "BadRequestError")), "text"),
        (Reply(body=openai_completion(None, tool_calls=[("call_1", "submit", '{"summary": "done"}')])), "native"),
    ],
    ids=["rejected tools", "native call"],
)
def test_a_conclusive_probe_is_remembered(server, tmp_path, first, mode):
    server.push(first, Reply(body=openai_completion(SUBMIT_AS_TEXT)))
    proc, _ = run_against(server, tmp_path, "--quiet", limit=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert remembered_modes(tmp_path) == {f"{server.url}/v1|{MODEL}": mode}
