"""`loopwright mcp`: the real SDK client against a real server process, on real git repositories."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from loopwright import gitstate
from loopwright.models.scripted import Turn, call
from tests.repos import CALC, buggy_calc_repo, git, make_repo
from tests.test_cli import write_script

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "\x1b]0;owned\x07\x1b[2J\u202e"
"""A terminal title, a clear screen and a right-to-left override."""
FIX_AND_SUBMIT = [
    Turn(text="add() subtracts.", calls=(("edit_file", {"path": "calc.py", "old_string": "return a - b", "new_string": "return a + b"}),)),
    call("write_file", path="NOTES.md", content="add() adds now\n"),
    call("run_tests"),
    call("submit", summary="add() adds"),
]


@dataclass
class Heard:
    """What the client received besides answers."""

    logs: list[Any] = field(default_factory=list)
    progress: list[tuple[float, float | None, str | None]] = field(default_factory=list)
    garbage: list[Exception] = field(default_factory=list)
    """Lines on the server's stdout that were not protocol messages."""

    async def on_log(self, params: Any) -> None:
        self.logs.append(params)

    async def on_message(self, message: Any) -> None:
        if isinstance(message, Exception):
            self.garbage.append(message)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))


def server_env(tmp_path: Path) -> dict[str, str]:
    """The server's own state folder and no user config: only the test's settings apply."""
    return {"LOOPWRIGHT_STATE_DIR": os.environ["LOOPWRIGHT_STATE_DIR"], "XDG_CONFIG_HOME": str(tmp_path / "config")}


@asynccontextmanager
async def connect(root: Path, tmp_path: Path, *options: str) -> AsyncIterator[tuple[ClientSession, Heard]]:
    heard = Heard()
    params = StdioServerParameters(command=sys.executable, args=["-m", "loopwright", "mcp", "--root", str(root), *options], env=server_env(tmp_path))
    with open(tmp_path / "server-stderr.txt", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, logging_callback=heard.on_log, message_handler=heard.on_message) as session:
                await session.initialize()
                yield session, heard
    assert heard.garbage == [], "the server wrote something other than protocol messages to stdout"


def workspace(tmp_path: Path) -> Path:
    """A root folder holding a repository whose test_add fails."""
    root = tmp_path / "root"
    buggy_calc_repo(root / "repo")
    return root


def text_of(result: Any) -> str:
    (block,) = result.content
    return block.text


def test_the_tools_are_listed_with_their_input_and_output_schemas(tmp_path):
    async def main() -> dict[str, Any]:
        async with connect(workspace(tmp_path), tmp_path) as (session, _):
            return {tool.name: tool for tool in (await session.list_tools()).tools}

    tools = anyio.run(main)
    assert set(tools) == {"run_tests", "run_task", "repo_map"}
    assert set(tools["run_tests"].input_schema["properties"]) == {"path", "test_command"}
    assert tools["run_task"].input_schema["required"] == ["task"]
    assert set(tools["run_task"].input_schema["properties"]) == {"task", "path", "model", "max_steps"}
    assert set(tools["repo_map"].input_schema["properties"]) == {"path", "query", "tokens"}

    tests_out = tools["run_tests"].output_schema
    assert {"passed", "counts", "failures", "command", "summary"} <= set(tests_out["required"])
    failure = tests_out["$defs"]["FailedTest"]
    assert set(failure["required"]) == {"test_id", "outcome", "message", "location"}
    task_out = tools["run_task"].output_schema
    assert {"diff", "reason", "run_id", "trajectory", "tests_passed", "save_point"} <= set(task_out["required"])
    assert tools["repo_map"].output_schema["properties"]["map"]["type"] == "string"
    assert tools["repo_map"].annotations.read_only_hint is True
    assert tools["run_task"].annotations.destructive_hint is True


def test_the_docs_describe_every_field_of_every_tool(tmp_path):
    from loopwright.mcpserver import ServerOptions, build_server

    tools = anyio.run(build_server(ServerOptions(root=tmp_path)).list_tools)
    text = (ROOT / "docs" / "mcp.md").read_text(encoding="utf-8")
    server_part = text.split("\n## Server: loopwright mcp\n", 1)[1].split("\n## ", 1)[0]
    for tool in tools:
        section = re.split(r"\n#{3,4} ", server_part.split(f"\n#### `{tool.name}`\n", 1)[1], maxsplit=1)[0]
        rows = re.findall(r"^\| `(\w+)` \| (in|out) \|", section, re.M)
        inputs = {name for name, way in rows if way == "in"}
        outputs = {name for name, way in rows if way == "out"}
        assert inputs == set(tool.input_schema["properties"]), tool.name
        assert outputs <= set(tool.output_schema["properties"]) <= outputs | inputs, tool.name


def test_run_tests_in_the_local_sandbox_returns_each_failure_escaped(tmp_path):
    root = workspace(tmp_path)
    hostile = root / "repo" / "tests" / "test_hostile.py"
    hostile.write_text(f"def test_shout():\n    assert False, {HOSTILE!r}\n")

    async def main() -> Any:
        async with connect(root, tmp_path, "--sandbox", "local") as (session, heard):
            result = await session.call_tool("run_tests", {"path": "repo"})
            return result, heard

    result, heard = anyio.run(main)
    assert result.is_error is False
    report = result.structured_content
    assert report["passed"] is False and report["problem"] == "tests failed"
    assert report["counts"] == {"failed": 2, "passed": 1}
    failures = {f["test_id"]: f for f in report["failures"]}
    assert set(failures) == {"tests/test_calc.py::test_add", "tests/test_hostile.py::test_shout"}
    assert "assert -1 == 5" in failures["tests/test_calc.py::test_add"]["message"]
    assert failures["tests/test_calc.py::test_add"]["location"] == "tests/test_calc.py:5"
    shout = failures["tests/test_hostile.py::test_shout"]["message"]
    assert "\\x1b]0;owned\\x07" in shout and "\\u202e" in shout and "\x1b" not in shout
    text = text_of(result)
    assert text.startswith("Tests FAILED.") and "tests/test_calc.py::test_add" in text and "\x1b" not in text
    assert [log.level for log in heard.logs] == ["warning"] and "local sandbox" in heard.logs[0].data


def test_bad_calls_get_one_line_error_results_and_the_server_keeps_serving(tmp_path):
    root = workspace(tmp_path)
    (root / "notes").mkdir()
    (root / "file.txt").write_text("x")
    outside = buggy_calc_repo(tmp_path / "elsewhere")
    (root / "link").symlink_to(outside, target_is_directory=True)
    script = write_script(tmp_path / "script.json", FIX_AND_SUBMIT)

    calls = [
        ("run_tests", {"path": "missing"}, "missing: no such directory"),
        ("run_tests", {"path": str(outside)}, "outside"),
        ("run_tests", {"path": "../elsewhere"}, "outside"),
        ("run_tests", {"path": "link"}, "leads outside"),
        ("run_tests", {"path": "notes"}, "not in a git work tree"),
        ("run_tests", {"path": "file.txt"}, "not a directory"),
        ("repo_map", {"path": "repo", "tokens": 0}, "tokens: Input should be greater than or equal to 64"),
        ("run_task", {"path": "repo", "task": "fix it", "max_steps": 0}, "max_steps: Input should be greater than or equal to 1"),
        ("run_task", {"path": "repo", "task": "fix it", "model": "openai:gpt-5@http://127.0.0.1:9"}, "without @URL"),
        ("run_task", {"path": "repo", "task": "fix it", "model": f"scripted:{script}"}, "outside"),
        ("run_task", {"path": "repo", "task": "fix it", "model": "nonsense"}, "bad model spec"),
        ("no_such_tool", {}, "Unknown tool"),
    ]

    async def main() -> list[Any]:
        async with connect(root, tmp_path, "--sandbox", "local") as (session, _):
            results = [await session.call_tool(name, arguments) for name, arguments, _ in calls]
            results.append(await session.call_tool("repo_map", {"path": "repo", "query": "add"}))
            return results

    *refused, served = anyio.run(main)
    for (name, arguments, expected), result in zip(calls, refused):
        message = text_of(result)
        assert result.is_error is True, (name, arguments, message)
        assert expected in message and "\n" not in message and "Traceback" not in message, (name, arguments, message)
    assert served.is_error is False and "def add(a, b)" in served.structured_content["map"]
    assert (root / "repo" / "calc.py").read_text() == CALC, "a refused call changed the repository"


def test_run_task_with_the_scripted_model_returns_the_diff_and_reports_progress(tmp_path):
    root = workspace(tmp_path)
    repo = root / "repo"
    write_script(root / "script.json", FIX_AND_SUBMIT)

    async def main() -> Any:
        async with connect(root, tmp_path, "--sandbox", "local") as (session, heard):
            result = await session.call_tool(
                "run_task", {"path": "repo", "task": "make test_add pass", "model": "scripted:script.json"}, progress_callback=heard.on_progress
            )
            return result, heard

    result, heard = anyio.run(main)
    assert result.is_error is False, text_of(result)
    run = result.structured_content
    assert run["reason"] == "submitted" and run["submitted_summary"] == "add() adds"
    assert run["tests_passed"] is True and run["changed_files"] == ["NOTES.md", "calc.py"]
    assert "-    return a - b\n+    return a + b\n" in run["diff"]
    assert "new file mode 100644" in run["diff"] and "+add() adds now\n" in run["diff"]
    assert run["diff_truncated"] is False

    # The files changed in place, as `loopwright run` changes them; the save point holds them as they were.
    assert "return a + b" in (repo / "calc.py").read_text()
    assert git(repo, "show", f"{run['save_point']}:calc.py") == CALC
    assert git(repo, "rev-parse", f"refs/loopwright/runs/{run['run_id']}").strip() == run["save_point"]
    assert Path(run["trajectory"]).is_file() and run["run_id"] in run["trajectory"]
    assert text_of(result).startswith("stop reason: submitted (add() adds)\ntests: passed")

    steps = [progress for progress, _, _ in heard.progress]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    messages = [message for _, _, message in heard.progress]
    assert "edit calc.py" in messages and "step 1: add() subtracts." in messages
    assert messages[-1].startswith("finished: submitted")
    events = [log.data for log in heard.logs if log.logger == "loopwright.events"]
    assert events[0]["type"] == "run_start" and events[0]["run_id"] == run["run_id"]
    assert events[-1]["type"] == "summary" and events[-1]["reason"] == "submitted"
    assert [e["seq"] for e in events] == list(range(len(events)))


def test_the_runs_diff_runs_no_program_that_the_repository_names(tmp_path):
    repo = buggy_calc_repo(tmp_path / "repo")
    marker = tmp_path / "ran"
    git(repo, "config", "diff.shout.textconv", f"touch {marker}; cat")
    git(repo, "config", "diff.external", f"touch {marker}; true")
    (repo / ".gitattributes").write_text("*.py diff=shout\n")
    save = gitstate.save_point(repo, "runs/test")
    (repo / "calc.py").write_text(CALC.replace("a - b", "a + b"))
    diff = gitstate.diff_since(repo, save)
    assert "-    return a - b\n+    return a + b\n" in diff
    assert not marker.exists()


def test_a_second_call_in_the_same_work_tree_is_refused_while_the_first_runs(tmp_path):
    root = workspace(tmp_path)
    write_script(root / "slow.json", [call("run_shell", command="sleep 2"), call("submit", summary="waited")])

    async def main() -> tuple[Any, Any]:
        async with connect(root, tmp_path, "--sandbox", "local") as (session, _):
            started = anyio.Event()
            answers: dict[str, Any] = {}

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if message == "$ sleep 2":
                    started.set()

            async def long_run() -> None:
                answers["task"] = await session.call_tool(
                    "run_task", {"path": "repo", "task": "wait", "model": "scripted:slow.json"}, progress_callback=on_progress
                )

            async with anyio.create_task_group() as group:
                group.start_soon(long_run)
                with anyio.fail_after(30):
                    await started.wait()
                answers["tests"] = await session.call_tool("run_tests", {"path": "repo"})
            return answers["task"], answers["tests"]

    task, tests = anyio.run(main)
    assert tests.is_error is True and "another call is still running" in text_of(tests)
    assert task.is_error is False and task.structured_content["reason"] == "submitted"


def test_a_cancelled_run_stops_at_its_next_step_and_then_frees_the_work_tree(tmp_path):
    from loopwright.trajectory import Trajectory, latest

    root = workspace(tmp_path)
    write_script(root / "slow.json", [call("run_shell", command="sleep 1") for _ in range(8)] + [call("submit", summary="slept")])

    async def main() -> list[str]:
        refusals = []
        async with connect(root, tmp_path, "--sandbox", "local") as (session, _):
            started = anyio.Event()

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                if message == "$ sleep 1":
                    started.set()

            async def long_run() -> None:
                await session.call_tool("run_task", {"path": "repo", "task": "wait", "model": "scripted:slow.json"}, progress_callback=on_progress)

            async with anyio.create_task_group() as group:
                group.start_soon(long_run)
                with anyio.fail_after(30):
                    await started.wait()
                group.cancel_scope.cancel()
            with anyio.fail_after(30):
                while (result := await session.call_tool("repo_map", {"path": "repo"})).is_error:
                    refusals.append(text_of(result))
                    await anyio.sleep(0.1)
        return refusals

    refusals = anyio.run(main)
    assert all("another call is still running" in text for text in refusals)
    summary = Trajectory.load(latest(root / "repo")).summary
    assert summary["reason"] == "interrupted" and summary["detail"] == "the client cancelled the call"
    assert summary["steps"] <= 2


def test_streamable_http_serves_the_same_tools(tmp_path):
    root = workspace(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, **server_env(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "loopwright", "mcp", "--root", str(root), "--http", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode() if server.stderr else ""
                time.sleep(0.1)

        async def main() -> Any:
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    names = {tool.name for tool in (await session.list_tools()).tools}
                    refused = await session.call_tool("repo_map", {"path": "/"})
                    mapped = await session.call_tool("repo_map", {"path": "repo", "query": "mul"})
                    return names, refused, mapped

        names, refused, mapped = anyio.run(main)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert names == {"run_tests", "run_task", "repo_map"}
    assert refused.is_error is True and "outside" in text_of(refused)
    assert mapped.is_error is False and "def mul(a, b)" in mapped.structured_content["map"]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--root", "no/such/folder"], "no such directory"),
        (["--http", "localhost"], "--http: expected HOST:PORT or PORT"),
        (["--http", "127.0.0.1:99999"], "--http: expected HOST:PORT or PORT"),
        (["--sandbox", "vm"], "--sandbox must be docker or local"),
    ],
)
def test_a_server_that_cannot_start_says_why_in_one_line(tmp_path, args, expected):
    proc = subprocess.run([sys.executable, "-m", "loopwright", "mcp", *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("loopwright: error: ") and expected in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.docker
def test_run_tests_in_a_docker_container_returns_the_structured_failure(tmp_path, sandbox_image, docker_client):
    root = tmp_path / "root"
    make_repo(root / "app", {
        "shapes.py": "def area(w, h):\n    return w + h\n",
        "tests/test_shapes.py": "from shapes import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n",
        "pytest.ini": "[pytest]\npythonpath = .\n",
    })

    async def main() -> Any:
        async with connect(root, tmp_path, "--sandbox", "docker", "--image", sandbox_image) as (session, heard):
            result = await session.call_tool("run_tests", {"path": "app"}, progress_callback=heard.on_progress)
            return result, heard

    result, heard = anyio.run(main)
    assert result.is_error is False, text_of(result)
    report = result.structured_content
    assert report["passed"] is False and report["structured"] is True and report["counts"] == {"failed": 1}
    (failure,) = report["failures"]
    assert failure["test_id"] == "tests/test_shapes.py::test_area" and "assert 5 == 6" in failure["message"]
    assert failure["location"] == "tests/test_shapes.py:5"
    assert report["command"].startswith("python3 -m pytest")
    assert containers_using(docker_client, tmp_path) == [], "the sandbox's container was not removed"


def containers_using(client: Any, folder: Path) -> list[str]:
    """Sandbox containers that mount something under `folder` (other runs may have theirs meanwhile)."""
    listed = client.containers.list(all=True, sparse=True, filters={"label": "loopwright.session"})
    return [c.id for c in listed if any(str(m.get("Source", "")).startswith(str(folder.resolve())) for m in c.attrs.get("Mounts") or [])]
