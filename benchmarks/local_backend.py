"""Local backend: prefix-cache share over a 10-step session, and loopwright's tokens/s against the raw server.

Starts llama.cpp with an installed small model (or --model PATH.gguf) on a free port, runs a 10-step tool-using
session through `LocalModel`, then replays exactly the same request bodies in whole passes, raw over HTTP and
through the adapter in turn, so both meet the same prefix-cache state. Writes a markdown table.

    python benchmarks/local_backend.py [--model PATH_OR_ALIAS] [--rounds N] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import re
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loopwright.messages import Message, ToolSpec
from loopwright.models.local import LocalModel
from loopwright.models.localmodel import smollm2_path
from loopwright.models.retry import RetryPolicy
from loopwright.models.serve import ServerProcess, start_llama_cpp

STEPS = 10
MAX_TOKENS = 48
REPO = Path(__file__).resolve().parent.parent
TOOLS = [
    ToolSpec(
        name="read_file",
        description="Read a text file of the repository.",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    ToolSpec(
        name="list_files",
        description="List the files under a directory.",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    ),
    ToolSpec(
        name="run_tests",
        description="Run the test suite and report failures.",
        parameters={"type": "object", "properties": {}},
    ),
]
SYSTEM = (
    "You are a software engineer working in a repository. Use the tools to look at the code before you answer. "
    "Call one tool per turn. When you know enough, say what you found in one sentence."
)
TASK = "Find where model spec strings are parsed and say which providers are supported."
# Deterministic tool results: real files of this repository, cut to a fixed size.
RESULT_FILES = ["agent/models/spec.py", "agent/models/retry.py", "agent/models/pricing.py", "agent/models/context.py"]

_PREFIX = re.compile(r"Llama\.generate: (\d+) prefix-match hit, remaining (\d+) prompt tokens to eval")
_PROMPT_EVAL = re.compile(r"prompt eval time =\s*[\d.]+ ms /\s*(\d+) tokens")
_TOTAL = re.compile(r"llama_perf_context_print:\s+total time =\s*([\d.]+) ms")
_REQUEST_DONE = re.compile(r'"POST /v1/chat/completions HTTP/1\.1" 200')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _tool_result(step: int) -> str:
    path = REPO / RESULT_FILES[step % len(RESULT_FILES)]
    return path.read_text(encoding="utf-8")[:900]


def run_session(model: LocalModel) -> tuple[list[list[Message]], list[dict]]:
    """Ten steps that only ever append to the conversation; returns each step's messages and usage."""
    messages = [Message.system(SYSTEM), Message.user(TASK)]
    seen, usages = [], []
    for step in range(STEPS):
        seen.append(list(messages))
        response = model.complete(messages, TOOLS)
        usages.append({**response.usage.model_dump(), "calls": len(response.message.tool_calls)})
        messages.append(response.message)
        if response.message.tool_calls:
            messages += [Message.tool(call, _tool_result(step)) for call in response.message.tool_calls]
        else:
            messages.append(Message.user(f"Continue: look at {RESULT_FILES[step % len(RESULT_FILES)]} next."))
    return seen, usages


@dataclass
class Request:
    """One answered request as the server's log tells it."""

    completions: list[tuple[int, int]] = field(default_factory=list)
    """Per completion the server ran: (prompt tokens reused from the cache, prompt tokens evaluated)."""
    server_ms: float = 0.0
    """The server's own time in its completions (prompt processing and generation)."""


def requests_from_log(log_text: str) -> list[Request]:
    """llama.cpp's function-calling handler may run several completions per request; the first one reads the
    request's prompt, later ones extend it with what was generated."""
    requests: list[Request] = []
    current = Request()
    reused = 0
    for line in log_text.splitlines():
        if match := _PREFIX.search(line):
            reused = int(match.group(1))
        elif match := _PROMPT_EVAL.search(line):
            current.completions.append((reused, int(match.group(1))))
            reused = 0
        elif match := _TOTAL.search(line):
            current.server_ms += float(match.group(1))
        elif _REQUEST_DONE.search(line):
            requests.append(current)
            current = Request()
    return requests


def replay(server: ServerProcess, model: LocalModel, seen: list[list[Message]], rounds: int) -> list[dict]:
    """Whole passes over the session's prompts, raw and through the adapter in turn, so each request finds the
    cache in the same state (the previous step's prompt) in both. Returns one record per request, in order."""
    mode = "native" if model.tool_mode == "auto" else model.tool_mode
    bodies = [model.request_body(messages, TOOLS, mode) for messages in seen]
    records = []
    with httpx.Client(base_url=server.base_url, timeout=600) as client:
        for _ in range(rounds):
            for body in bodies:
                start = time.perf_counter()
                answer = client.post("/chat/completions", json=body)
                wall = time.perf_counter() - start
                records.append({"via": "raw", "wall_s": wall, "tokens": answer.json()["usage"]["completion_tokens"]})
            for messages in seen:
                start = time.perf_counter()
                response = model.complete(messages, TOOLS)
                wall = time.perf_counter() - start
                records.append({"via": "loopwright", "wall_s": wall, "tokens": response.usage.output_tokens})
    return records


def speeds(records: list[dict], logged: list[Request]) -> dict[str, float]:
    """Tokens/s end to end, and the server's own tokens/s (its logged time) for the very same requests.

    Other jobs share this machine, so the server's speed varies from request to request; comparing each request's
    wall time with the server's time for that same request cancels that out.
    """
    figures: dict[str, float] = {}
    for via in ("raw", "loopwright"):
        mine = [(r, log) for r, log in zip(records, logged, strict=True) if r["via"] == via]
        tokens = sum(r["tokens"] for r, _ in mine)
        wall = sum(r["wall_s"] for r, _ in mine)
        server = sum(log.server_ms for _, log in mine) / 1000
        figures[f"{via}_tokens"], figures[f"{via}_wall_s"], figures[f"{via}_server_s"] = tokens, wall, server
        figures[f"{via}_tps"], figures[f"{via}_server_tps"] = tokens / wall, tokens / server
        figures[f"{via}_ratio"] = server / wall
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF path or installed model alias (default: SmolLM2-135M)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="replay passes for the speed comparison")
    # llama.cpp's function-calling handler ignores max_tokens when the model answers in prose, and runs several
    # completions per request; the text protocol is one bounded completion per step.
    parser.add_argument("--tool-mode", choices=["text", "native", "auto"], default="text")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "local_backend.md")
    args = parser.parse_args()
    model_ref = args.model or str(smollm2_path())
    log = Path(tempfile.mkdtemp(prefix="lw-bench-")) / "server.log"
    with start_llama_cpp(model_ref, port=_free_port(), n_ctx=8192, n_threads=args.threads, log_path=log) as server:
        settings = {"temperature": 0.0, "seed": 0, "max_tokens": MAX_TOKENS, "retry": RetryPolicy(attempts=2)}
        model = LocalModel(server.model, base_url=server.base_url, tool_mode=args.tool_mode, **settings)
        seen, usages = run_session(model)
        records = replay(server, model, seen, args.rounds)
        time.sleep(0.5)  # let the server flush its log
        logged = requests_from_log(log.read_text(errors="replace"))
    if len(logged) != STEPS + len(records):
        raise SystemExit(f"expected {STEPS + len(records)} answered requests in the server log, found {len(logged)}")
    session = [request.completions for request in logged[:STEPS]]
    speed = speeds(records, logged[STEPS:])
    report(args, server.model, model.tool_mode, usages, session, speed)


def _share(completions: list[tuple[int, int]]) -> float:
    reused = sum(r for r, _ in completions)
    return reused / max(reused + sum(e for _, e in completions), 1)


def report(args, alias, mode, usages, session, speed) -> None:
    command = "python benchmarks/local_backend.py" + (f" --model {args.model}" if args.model else "")
    command += f" --tool-mode {args.tool_mode}" if args.tool_mode != "text" else ""
    firsts = [request[0] for request in session]
    warm = _share(firsts[1:])
    every = _share([c for request in session[1:] for c in request])
    rows = "\n".join(
        f"| {n + 1} | {u['input_tokens']} | {first[0]} | {first[1]} | {_share([first]):.1%} | {len(request)} | {u['calls']} |"
        for n, (u, first, request) in enumerate(zip(usages, firsts, session, strict=True))
    )
    text = f"""# Local backend benchmark

Command: `{command}` (rounds: {args.rounds})
Date: {dt.date.today().isoformat()}; {platform.machine()}, {args.threads} threads, CPU only, shared with other jobs;
llama-cpp-python server (chatml-function-calling), model `{alias}`, tool mode `{mode}`, temperature 0,
max_tokens {MAX_TOKENS}. A 10-step session: system prompt, task, then each step appends the model's turn and the
results of its tool calls (real files of this repository, cut to 900 characters).

| figure | value | goal |
|---|---|---|
| prompt tokens served from the prefix cache, steps 2-10 (each request's prompt) | {warm:.1%} | >= 90% |
| same, every completion the server ran for steps 2-10 | {every:.1%} | |
| loopwright end to end: completion tokens/s | {speed["loopwright_tps"]:.2f} | |
| the server's raw speed on the same requests (its own timings) | {speed["loopwright_server_tps"]:.2f} | |
| **loopwright / server raw** | **{speed["loopwright_ratio"]:.3f}** | >= 0.95 |
| plain HTTP client end to end / server raw, same prompts (baseline) | {speed["raw_ratio"]:.3f} | |

Cache figures come from the server's own log: `Llama.generate: N prefix-match hit, remaining M prompt tokens to
eval` and `prompt eval time = ... / M tokens` per completion. Speed: the session's {STEPS} request bodies sent
{args.rounds} times through `LocalModel.complete` and {args.rounds} times with plain httpx, in whole passes so that
every request meets the same cache state. Each request's wall time is set against the server's own `total time`
for that request (prompt processing plus generation), which cancels out the load of other jobs on this shared
machine: loopwright {speed["loopwright_tokens"]:.0f} tokens in {speed["loopwright_wall_s"]:.1f} s wall,
{speed["loopwright_server_s"]:.1f} s in the server; httpx {speed["raw_tokens"]:.0f} tokens in
{speed["raw_wall_s"]:.1f} s wall, {speed["raw_server_s"]:.1f} s in the server.

| step | prompt tokens (usage) | reused | evaluated | cache share | completions run | tool calls |
|---|---|---|---|---|---|---|
{rows}
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
