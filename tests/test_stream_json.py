"""`loopwright run --output json|stream-json`: real runs of the installed command, checked against the schema in docs/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from loopwright.models.scripted import Turn, call
from tests.repos import buggy_calc_repo
from tests.scenarios import WRONG_THEN_RIGHT
from tests.test_cli import write_script

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_FILE = ROOT / "docs" / "stream-json.schema.json"
HOSTILE = "\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\x9b31m\x7f done\u2028"
"""Terminal escapes (title, clear screen, colour), a carriage return, a C1 CSI, DEL and a line separator."""


def loopwright(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "loopwright", *args], capture_output=True, timeout=120)


def run_json(tmp_path: Path, turns: list[Turn], output: str) -> subprocess.CompletedProcess[bytes]:
    repo = buggy_calc_repo(tmp_path / "repo")
    script = write_script(tmp_path / "script.json", turns)
    return loopwright("run", "make test_add pass", "--repo", str(repo), "--model", f"scripted:{script}", "--sandbox", "local", "--output", output)


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def events_of(stdout: bytes) -> list[dict]:
    """Every line of stdout as an event, each checked against the schema in docs/."""
    check = validator()
    events = []
    for line in stdout.decode("ascii").splitlines():
        event = json.loads(line)
        check.validate(event)
        events.append(event)
    return events


def test_the_schema_in_docs_is_the_one_the_event_models_make():
    from loopwright.events import schema_text

    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "docs/stream-json.schema.json is stale: python -m loopwright.events > docs/stream-json.schema.json"
    )


def test_every_example_in_the_docs_validates_and_every_event_type_has_one():
    text = (ROOT / "docs" / "stream-json.md").read_text(encoding="utf-8")
    examples = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, re.S)]
    check = validator()
    for example in examples:
        check.validate(example)
    assert sorted(e["type"] for e in examples) == sorted(["run_start", "assistant", "usage", "tool_call", "tool_result", "summary"])


def test_every_event_of_a_real_run_validates_and_the_stream_tells_the_run_in_order(tmp_path):
    turns = [call("no_such_tool", x=1), *WRONG_THEN_RIGHT]
    proc = run_json(tmp_path, turns, "stream-json")
    assert proc.returncode == 0, proc.stderr.decode()
    events = events_of(proc.stdout)

    kinds = [event["type"] for event in events]
    assert kinds[0] == "run_start" and kinds[-1] == "summary"
    assert kinds.count("run_start") == 1 and kinds.count("summary") == 1
    assert [event["seq"] for event in events] == list(range(len(events)))
    assert {event["run_id"] for event in (events[0], events[-1])} == {events[0]["run_id"]}
    assert events[0]["sandbox"] == "local" and events[0]["test_command"].startswith("python3 -m pytest")

    # Every call the model made is announced once, then answered once, by id, in the order it made them.
    announced = [i for e in events if e["type"] == "assistant" for i in e["tool_call_ids"]]
    calls = [e["id"] for e in events if e["type"] == "tool_call"]
    results = [e["id"] for e in events if e["type"] == "tool_result"]
    assert announced == calls == results and len(set(calls)) == len(calls) == len(turns)
    for position, event in enumerate(events):
        if event["type"] == "tool_result":
            assert events[position - 1] == {**events[position - 1], "type": "tool_call", "id": event["id"]}

    refused = next(e for e in events if e["type"] == "tool_call" and e["tool"] == "no_such_tool")
    assert refused["arguments"] is None and refused["raw_arguments"] == '{"x": 1}' and refused["description"] == ""
    edit = next(e for e in events if e["type"] == "tool_call" and e["tool"] == "edit_file")
    assert edit["description"] == "edit calc.py" and edit["arguments"]["path"] == "calc.py"
    assert any(e["type"] == "tool_result" and e["changed_files"] == ["calc.py"] for e in events)

    test_runs = [e["test_run"] for e in events if e["type"] == "tool_result" and e["tool"] == "run_tests"]
    assert [run["passed"] for run in test_runs] == [False, False, True]
    assert test_runs[0]["failing"] == ["tests/test_calc.py::test_add"] and test_runs[-1]["counts"] == {"passed": 2}
    (failure,) = test_runs[0]["failures"]
    assert {key: failure[key] for key in ("test_id", "outcome", "path", "line")} == {
        "test_id": "tests/test_calc.py::test_add", "outcome": "failed", "path": "tests/test_calc.py", "line": 5,
    }
    assert failure["message"].startswith("AssertionError: assert -1 == 5")

    usage = [e for e in events if e["type"] == "usage"]
    assert [e["step"] for e in usage] == list(range(1, len(turns) + 1))
    summary = events[-1]
    assert usage[-1]["total"] == summary["usage"]
    assert summary["reason"] == "submitted" and summary["tests_passed"] is True and summary["changed_files"] == ["calc.py"]
    assert summary["test_run"] == test_runs[-1]
    recorded = json.loads(Path(summary["trajectory"]).read_text(encoding="utf-8"))["summary"]
    assert {key: summary[key] for key in recorded} == recorded


def test_json_prints_one_summary_object_whose_verdict_is_the_runs(tmp_path):
    unfixed = [call("run_tests"), call("submit", summary="gave up")]
    proc = run_json(tmp_path, unfixed, "json")
    assert proc.returncode == 1, proc.stderr.decode()
    assert proc.stdout.count(b"\n") == 1
    (summary,) = events_of(proc.stdout)
    assert summary["type"] == "summary"
    assert summary["reason"] == "submitted" and summary["tests_passed"] is False and summary["detail"] == "gave up"
    assert "test_add" in summary["test_summary"] or "failed" in summary["test_summary"]


def test_the_summary_carries_the_report_of_the_test_run_made_after_the_models_last(tmp_path):
    """Files changed after the model's last run_tests: the verdict and its failures come from one more run,
    which no tool_result shows."""
    wrong = [call("run_tests"), call("edit_file", path="calc.py", old_string="return a - b", new_string="return a * b"), call("submit", summary="tried")]
    proc = run_json(tmp_path, wrong, "stream-json")
    assert proc.returncode == 1, proc.stderr.decode()
    events = events_of(proc.stdout)
    summary = events[-1]
    (tool_run,) = [e["test_run"] for e in events if e["type"] == "tool_result" and e["test_run"]]
    assert summary["tests_passed"] is False and summary["test_run"] != tool_run
    (failure,) = summary["test_run"]["failures"]
    assert failure["test_id"] == "tests/test_calc.py::test_add" and failure["message"].startswith("AssertionError: assert 6 == 5")
    assert (failure["path"], failure["line"]) == ("tests/test_calc.py", 5)


@pytest.mark.parametrize("output", ["json", "stream-json"])
def test_untrusted_text_leaves_only_escaped_inside_json(tmp_path, output):
    turns = [
        Turn(text=f"thinking {HOSTILE}", calls=(("run_shell", {"command": "printf '\\033]0;x\\007\\033[2J\\302\\233'"}),)),
        call("submit", summary=HOSTILE),
    ]
    proc = run_json(tmp_path, turns, output)
    assert proc.returncode == 1, proc.stderr.decode()  # submitted, but the final test run still fails
    # Printable ASCII and newlines only: no escape, control or C1 byte of the text reaches the terminal.
    assert all(32 <= byte < 127 or byte == 10 for byte in proc.stdout), proc.stdout
    events = events_of(proc.stdout)
    assert events[-1]["detail"] == HOSTILE
    if output == "stream-json":
        assert next(e["text"] for e in events if e["type"] == "assistant") == f"thinking {HOSTILE}"
        shell = next(e for e in events if e["type"] == "tool_result" and e["tool"] == "run_shell")
        assert "\x1b[2J" in shell["text"] and "\x9b" in shell["text"]


def test_a_call_the_run_ended_inside_still_gets_its_result_before_the_summary(tmp_path):
    from loopwright.eventstream import EventStream
    from loopwright.events import Summary, ToolResult
    from loopwright.loop import RunResult
    from loopwright.messages import ToolCall, Usage
    from loopwright.tools.run_shell import RunShell

    events: list = []
    stream = EventStream(events.append, sandbox="docker")
    shell = RunShell()
    stream.on_tool_start(ToolCall(id="c1", name="run_shell", arguments='{"command": "make"}'), shell, shell.Args(command="make"))
    stream.finished(RunResult(reason="sandbox_error", detail="the container went away", steps=1, usage=Usage(), duration_s=1.0), None)
    assert [type(e).__name__ for e in events] == ["ToolCallEvent", "ToolResult", "Summary"]
    result, summary = events[1], events[2]
    assert isinstance(result, ToolResult) and result.id == "c1" and result.is_error and "sandbox_error" in result.text
    assert isinstance(summary, Summary) and summary.reason == "sandbox_error" and summary.seq == 2


def test_an_unknown_output_is_a_usage_error(tmp_path):
    proc = loopwright("run", "x", "--repo", str(tmp_path), "--model", "scripted:x", "--sandbox", "local", "--output", "yaml")
    assert proc.returncode == 2
    assert b"Invalid value for '--output'" in proc.stderr and proc.stdout == b""


def test_diagnostics_go_only_with_text_output(tmp_path):
    proc = loopwright("run", "x", "--repo", str(tmp_path), "--model", "scripted:x", "--sandbox", "local", "--output", "json", "--diagnostics")
    assert proc.returncode == 2 and proc.stdout == b""
    assert proc.stderr.decode().strip().splitlines() == ["loopwright: error: --diagnostics prints text lines; it goes with --output text, not json"]
