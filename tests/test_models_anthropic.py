"""The Anthropic Messages adapter over real HTTP against a server speaking Anthropic's wire format."""

from __future__ import annotations

import pytest

from loopwright.messages import Message, ToolCall, ToolSpec
from loopwright.model import ModelError
from loopwright.models.retry import RetryPolicy
from loopwright.models.spec import build_model
from tests.fakes.wire import Reply, WireServer, anthropic_error, anthropic_events, anthropic_message

READ = ToolSpec(
    name="read_file",
    description="Read a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
CONVERSATION = [Message.system("You fix code."), Message.user("Read calc.py")]


@pytest.fixture
def server():
    with WireServer() as wire:
        yield wire


def make(server, waits=None, **options):
    options.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.01))
    recorder = waits if waits is not None else []
    return build_model(
        "anthropic:claude-haiku-4-5", api_key="sk-ant-test", base_url=server.url, sleep=recorder.append, **options
    )


def test_tool_use_with_cache_breakpoints_and_usage(server):
    blocks = [
        {"type": "text", "text": "Reading it."},
        {"type": "tool_use", "id": "toolu_01A", "name": "read_file", "input": {"path": "calc.py"}},
    ]
    server.push(
        Reply(body=anthropic_message(blocks, input_tokens=100, output_tokens=40, cache_read=2000, cache_write=500))
    )
    response = make(server).complete(CONVERSATION, [READ])
    assert response.message.content == "Reading it."
    assert response.message.tool_calls == (ToolCall(id="toolu_01A", name="read_file", arguments='{"path": "calc.py"}'),)
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.cached_tokens) == (2600, 40, 2000)
    # claude-haiku-4-5: $1/M plain, $0.10/M cache reads, $1.25/M cache writes, $5/M out
    assert usage.cost_usd == pytest.approx((100 * 1 + 2000 * 0.10 + 500 * 1.25 + 40 * 5) / 1e6)
    sent = server.posts()[0]
    assert sent.path == "/v1/messages"
    assert "sk-ant-test" in sent.headers.get("x-api-key", "") + sent.headers.get("authorization", "")
    body = sent.body
    assert body["system"] == [{"type": "text", "text": "You fix code.", "cache_control": {"type": "ephemeral"}}]
    assert body["tools"] == [
        {
            "name": "read_file",
            "description": "Read a file.",
            "input_schema": READ.parameters,
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Read calc.py", "cache_control": {"type": "ephemeral"}}]}
    ]


def test_tool_results_go_back_in_one_user_turn(server):
    calls = (
        ToolCall(id="toolu_1", name="read_file", arguments='{"path": "a"}'),
        ToolCall(id="toolu_2", name="read_file", arguments='{"path": "b"}'),
    )
    history = [
        *CONVERSATION,
        Message(role="assistant", content="", tool_calls=calls),
        Message.tool(calls[0], "A"),
        Message.tool(calls[1], "B"),
    ]
    server.push(Reply(body=anthropic_message([{"type": "text", "text": "ok"}])))
    make(server, prompt_caching=False).complete(history, [READ])
    messages = server.posts()[0].body["messages"]
    assert messages[1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a"}},
        {"type": "tool_use", "id": "toolu_2", "name": "read_file", "input": {"path": "b"}}]}  # fmt: skip
    assert messages[2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "A"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "B"}]}  # fmt: skip
    assert len(messages) == 3


def test_streaming_text_and_tool_use(server):
    server.push(
        Reply(
            events=anthropic_events(
                ["Checking ", "the file."], tool_use=("toolu_9", "read_file", ['{"path"', ': "calc.py"}'])
            )
        )
    )
    pieces: list[str] = []
    response = make(server, on_text=pieces.append).complete(CONVERSATION, [READ])
    assert pieces == ["Checking ", "the file."]
    assert response.message.content == "Checking the file."
    assert response.message.tool_calls == (ToolCall(id="toolu_9", name="read_file", arguments='{"path": "calc.py"}'),)
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_tokens) == (872, 89, 400)
    assert server.posts()[0].body["stream"] is True


def test_wrong_key_is_one_clear_line(server):
    server.push(Reply(status=401, body=anthropic_error("authentication_error", "invalid x-api-key")))
    with pytest.raises(ModelError, match=r"authentication failed .*HTTP 401.*ANTHROPIC_API_KEY"):
        make(server).complete(CONVERSATION, [])
    assert len(server.posts()) == 1


def test_overloaded_and_rate_limited_are_retried(server):
    server.push(
        Reply(
            status=429,
            body=anthropic_error("rate_limit_error", "Number of requests has exceeded your rate limit"),
            headers={"retry-after": "3"},
        ),
        Reply(status=529, body=anthropic_error("overloaded_error", "Overloaded")),
        Reply(body=anthropic_message([{"type": "text", "text": "fine"}])),
    )
    waits: list[float] = []
    assert make(server, waits).complete(CONVERSATION, []).message.content == "fine"
    assert 3.0 <= waits[0] < 3.1 and waits[1] < 1.0


def test_server_error_after_last_try(server):
    server.push(*[Reply(status=500, body=anthropic_error("api_error", "Internal server error"))] * 3)
    with pytest.raises(
        ModelError, match=r"^anthropic:claude-haiku-4-5: .*HTTP 500.*Internal server error \(gave up after 3 tries\)$"
    ):
        make(server).complete(CONVERSATION, [])


def test_timeout_then_answer(server):
    server.push(
        Reply(body=anthropic_message([{"type": "text", "text": "late"}]), delay=1.5),
        Reply(body=anthropic_message([{"type": "text", "text": "now"}])),
    )
    assert make(server, timeout=0.5).complete(CONVERSATION, []).message.content == "now"


def test_unknown_model(server):
    server.push(Reply(status=404, body=anthropic_error("not_found_error", "model: claude-nine")))
    with pytest.raises(ModelError, match=r"model 'claude-haiku-4-5' not found .*model: claude-nine"):
        make(server).complete(CONVERSATION, [])


def test_missing_key_is_refused():
    with pytest.raises(ModelError, match="no API key: set ANTHROPIC_API_KEY"):
        build_model("anthropic:claude-sonnet-4-5", env={})
