"""Parsing and repairing tool calls that models write as text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopwright.messages import Message, ToolCall, ToolSpec
from loopwright.models.textcalls import StreamFilter, parse_text_calls, render_calls, repair_json, tool_protocol_prompt

NAMES = ["read_file", "run_tests"]


def calls(text):
    parsed = parse_text_calls(text, NAMES)
    return [(c.name, json.loads(c.arguments)) for c in parsed.calls], parsed


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "read_file", "arguments": {"path": "a.py"}}\n</tool_call>',
        '<tool_call>{"name": "read_file", "arguments": {"path": "a.py",},}</tool_call>',  # trailing commas
        "<tool_call>{'name': 'read_file', 'arguments': {'path': 'a.py'}}</tool_call>",  # single quotes
        '<tool_call>\n```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```\n</tool_call>',  # fence inside
        '<tool_call>{"name": "read_file", "arguments": {"path": "a.py"}',  # cut off: no closing brace or tag
        '<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"a.py\\"}"}</tool_call>',  # arguments as a string
        '<tool_call>{"name": "read_file", "parameters": {"path": "a.py"}}</tool_call>',
        'functions.read_file:\n{"path": "a.py"}',
        '```json\n{"name": "read_file", "arguments": {"path": "a.py"}}\n```',
        'Sure. {"name": "read_file", "arguments": {"path": "a.py"}}',
    ],
)
def test_near_misses_become_the_same_call(text):
    found, parsed = calls(text)
    assert found == [("read_file", {"path": "a.py"})]
    assert parsed.error is None


def test_several_calls_keep_their_order_and_the_prose_stays():
    text = 'First tests.\n<tool_call>{"name": "run_tests", "arguments": {}}</tool_call>\nthen\n<tool_call>{"name": "read_file", "arguments": {"path": "b"}}</tool_call>'
    found, parsed = calls(text)
    assert found == [("run_tests", {}), ("read_file", {"path": "b"})]
    assert parsed.content == "First tests.\n\nthen"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('<tool_call>{"name": "delete_all", "arguments": {}}</tool_call>', "unknown tool 'delete_all'"),
        ('<tool_call>{"name": "read_file", "arguments": {"path": </tool_call>', "not valid JSON"),
        ('<tool_call>{"name": "read_file", "arguments": [1, 2]}</tool_call>', "must be a JSON object"),
        ("<tool_call>read the file please</tool_call>", "not valid JSON"),
    ],
)
def test_broken_calls_give_an_error_for_the_model(text, reason):
    found, parsed = calls(text)
    assert found == []
    assert reason in parsed.error and "<tool_call>" in parsed.error


def test_code_and_json_that_are_not_calls_stay_text():
    text = 'Here is the config:\n```json\n{"name": "demo", "version": 1}\n```\nand {"a": 1}.'
    found, parsed = calls(text)
    assert found == [] and parsed.error is None and parsed.content == text


def test_repair_python_literals_and_reports_repair():
    assert repair_json('{"flag": True, "none": None,}') == ({"flag": True, "none": None}, True)
    assert repair_json('{"ok": 1}') == ({"ok": 1}, False)


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.integers(), st.text(max_size=20), st.booleans(), st.none()),
        max_size=4,
    )
)
def test_rendered_calls_parse_back(arguments):
    call = ToolCall(id="c1", name="read_file", arguments=json.dumps(arguments))
    text = render_calls(Message(role="assistant", content="thinking", tool_calls=(call,)))
    parsed = parse_text_calls(text, NAMES)
    assert [json.loads(c.arguments) for c in parsed.calls] == [arguments]
    assert parsed.content == "thinking"


def test_protocol_prompt_lists_each_tool_with_its_schema():
    spec = ToolSpec(
        name="read_file",
        description="Read <a> file & more.",
        parameters={"type": "object", "properties": {"path": {"type": "string"}}},
    )
    prompt = tool_protocol_prompt([spec])
    listed = prompt.split("<tool>\n")[1].split("\n</tool>")[0]
    assert json.loads(listed) == {
        "name": "read_file",
        "description": "Read <a> file & more.",
        "parameters": spec.parameters,
    }


@pytest.mark.parametrize("cut", range(1, 40))
def test_stream_filter_hides_the_call_block_wherever_chunks_split(cut):
    text = 'Reading it now.<tool_call>{"name": "read_file"}</tool_call>'
    out: list[str] = []
    stream = StreamFilter(out.append, hide_calls=True)
    stream.feed(text[:cut])
    stream.feed(text[cut:])
    stream.close()
    assert "".join(out) == "Reading it now."


def test_stream_filter_flushes_a_held_tail_that_never_became_a_tag():
    out: list[str] = []
    stream = StreamFilter(out.append, hide_calls=True)
    stream.feed("a < b and <tool")
    stream.close()
    assert "".join(out) == "a < b and <tool"
