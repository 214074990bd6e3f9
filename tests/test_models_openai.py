"""The Chat Completions adapter over real HTTP against a server speaking OpenAI's wire format."""

from __future__ import annotations

import json

import pytest

from loopwright.messages import Message, ToolCall, ToolSpec
from loopwright.model import ModelError
from loopwright.models.openai_chat import ChatCompletionsModel
from loopwright.models.retry import RetryPolicy
from loopwright.models.spec import build_model
from tests.fakes.wire import Reply, WireServer, openai_chunks, openai_completion, openai_error

READ = ToolSpec(
    name="read_file",
    description="Read a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
CONVERSATION = [Message.system("You fix code."), Message.user("Read calc.py")]


@pytest.fixture
def server():
    with WireServer(models=["gpt-5"]) as wire:
        yield wire


def make(server, waits=None, **options):
    options.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.01))
    recorder = waits if waits is not None else []
    return build_model("openai:gpt-5", api_key="sk-test", base_url=server.url + "/v1", sleep=recorder.append, **options)


def test_text_answer_with_usage_and_cost(server):
    server.push(Reply(body=openai_completion("Hello.", prompt=1000, completion=100, cached=800)))
    response = make(server).complete(CONVERSATION, [])
    assert response.message == Message(role="assistant", content="Hello.")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_tokens) == (1000, 100, 800)
    # gpt-5 family: 200 plain at $1.25/M, 800 cached at $0.125/M, 100 out at $10/M
    assert response.usage.cost_usd == pytest.approx((200 * 1.25 + 800 * 0.125 + 100 * 10) / 1e6)
    sent = server.posts()[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.body["model"] == "gpt-5"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You fix code."},
        {"role": "user", "content": "Read calc.py"},
    ]
    assert "tools" not in sent.body


def test_native_tool_call_round_trip(server):
    server.push(
        Reply(body=openai_completion(None, tool_calls=[("call_abc", "read_file", '{"path": "calc.py"}')])),
        Reply(body=openai_completion("Done.")),
    )
    model = make(server)
    first = model.complete(CONVERSATION, [READ])
    assert first.message.tool_calls == (ToolCall(id="call_abc", name="read_file", arguments='{"path": "calc.py"}'),)
    assert first.format_error is None
    assert server.posts()[0].body["tools"] == [
        {
            "type": "function",
            "function": {"name": "read_file", "description": "Read a file.", "parameters": READ.parameters},
        }
    ]
    assert server.posts()[0].body["tool_choice"] == "auto"
    history = [*CONVERSATION, first.message, Message.tool(first.message.tool_calls[0], "def add(a, b): ...")]
    model.complete(history, [READ])
    sent = server.posts()[1].body["messages"]
    assert sent[2] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "read_file", "arguments": '{"path": "calc.py"}'},
            }
        ],
    }
    assert sent[3] == {"role": "tool", "tool_call_id": "call_abc", "content": "def add(a, b): ..."}
    # the earlier request is a byte-for-byte prefix of the later one: prefix caches hit
    assert sent[: len(server.posts()[0].body["messages"])] == server.posts()[0].body["messages"]


def test_wrong_key_is_one_clear_line_without_retries(server):
    server.push(
        Reply(
            status=401,
            body=openai_error("Incorrect API key provided: sk-test.", "invalid_request_error", "invalid_api_key"),
        )
    )
    with pytest.raises(ModelError) as caught:
        make(server).complete(CONVERSATION, [])
    assert "authentication failed" in str(caught.value) and "HTTP 401" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert len(server.posts()) == 1


def test_rate_limit_waits_as_long_as_retry_after_says(server):
    server.push(
        Reply(
            status=429,
            body=openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
            headers={"Retry-After": "7"},
        ),
        Reply(body=openai_completion("ok")),
    )
    waits: list[float] = []
    response = make(server, waits).complete(CONVERSATION, [])
    assert response.message.content == "ok"
    assert len(waits) == 1 and 7.0 <= waits[0] < 7.1


def test_server_errors_are_retried_then_reported(server):
    server.push(*[Reply(status=500, body=openai_error("The server had an error", "server_error"))] * 3)
    waits: list[float] = []
    with pytest.raises(ModelError) as caught:
        make(server, waits).complete(CONVERSATION, [])
    assert len(server.posts()) == 3 and len(waits) == 2
    # exponential backoff, each wait jittered within the upper half of its step: 0.01 then 0.02
    assert 0.005 <= waits[0] <= 0.01 <= waits[1] <= 0.02
    assert (
        str(caught.value)
        == f"openai:gpt-5: http://127.0.0.1:{server.port}/v1 (HTTP 500): The server had an error (gave up after 3 tries)"
    )


def test_timeout_is_retried(server):
    server.push(Reply(body=openai_completion("late"), delay=1.5), Reply(body=openai_completion("on time")))
    response = make(server, timeout=0.5).complete(CONVERSATION, [])
    assert response.message.content == "on time"


def test_timeouts_end_with_a_clear_line(server):
    server.push(*[Reply(body=openai_completion("late"), delay=1.5)] * 2)
    with pytest.raises(ModelError, match="no answer from .* within the timeout"):
        make(server, timeout=0.3, retry=RetryPolicy(attempts=2, base_delay=0.01)).complete(CONVERSATION, [])


def test_streaming_text_and_tool_call(server):
    server.push(
        Reply(events=openai_chunks(["Let me ", "look."], tool_call=("call_s1", "read_file", ['{"pa', 'th": "a.py"}'])))
    )
    pieces: list[str] = []
    response = make(server, on_text=pieces.append).complete(CONVERSATION, [READ])
    assert pieces == ["Let me ", "look."]
    assert response.message.content == "Let me look."
    assert response.message.tool_calls == (ToolCall(id="call_s1", name="read_file", arguments='{"path": "a.py"}'),)
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.cached_tokens) == (50, 7, 32)
    assert server.posts()[0].body["stream"] is True


def test_unknown_model_is_one_line(server):
    server.push(
        Reply(
            status=404,
            body=openai_error(
                "The model `gpt-9` does not exist or you do not have access to it.",
                "invalid_request_error",
                "model_not_found",
            ),
        )
    )
    with pytest.raises(ModelError, match=r"model 'gpt-5' not found .*HTTP 404.*does not exist"):
        make(server).complete(CONVERSATION, [])


def test_unreachable_server_is_one_line_at_once():
    waits: list[float] = []
    model = ChatCompletionsModel("gpt-5", api_key="k", base_url="http://127.0.0.1:9/v1", sleep=waits.append)
    with pytest.raises(ModelError, match=r"^openai:gpt-5: cannot reach http://127.0.0.1:9/v1") as caught:
        model.complete(CONVERSATION, [])
    assert waits == [] and "\n" not in str(caught.value)


def test_connection_lost_after_a_first_answer_is_retried(server):
    server.push(Reply(body=openai_completion("one")))
    waits: list[float] = []
    model = make(server, waits)
    model.complete(CONVERSATION, [])
    model.base_url = "unused"
    model._client = model._client.with_options(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ModelError, match=r"^openai:gpt-5: cannot reach .* \(gave up after 3 tries\)$"):
        model.complete(CONVERSATION, [])
    assert len(waits) == 2


def test_missing_key_is_refused_before_any_request():
    with pytest.raises(ModelError, match="no API key: set OPENAI_API_KEY"):
        build_model("openai:gpt-5", env={})


def test_text_calls_are_caught_when_the_model_ignores_native_tools(server):
    server.push(
        Reply(
            body=openai_completion(
                'I will read it.\n<tool_call>\n{"name": "read_file", "arguments": {"path": "x.py",}}\n</tool_call>'
            )
        )
    )
    response = make(server).complete(CONVERSATION, [READ])
    assert response.message.content == "I will read it."
    assert [(c.name, json.loads(c.arguments)) for c in response.message.tool_calls] == [("read_file", {"path": "x.py"})]
