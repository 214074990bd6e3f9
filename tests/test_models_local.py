"""The local adapter's choices (tool mode, quirks, model check) against a server speaking the OpenAI wire format."""

from __future__ import annotations

import json

import pytest

from loopwright.messages import Message, ToolSpec
from loopwright.model import ModelError
from loopwright.models.local import LocalModel, ToolModeMemory
from loopwright.models.retry import RetryPolicy
from loopwright.models.spec import build_model
from tests.fakes.wire import Reply, WireServer, openai_chunks, openai_completion, openai_error

READ = ToolSpec(
    name="read_file",
    description="Read a file.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}},
)
TASK = [Message.system("You fix code."), Message.user("Read calc.py")]
FAST = RetryPolicy(attempts=2, base_delay=0.01)


@pytest.fixture
def server():
    with WireServer(models=["qwen2.5-coder"]) as wire:
        yield wire


def local(server, tmp_path, **options):
    options.setdefault("retry", FAST)
    options.setdefault("memory", ToolModeMemory(tmp_path / "modes.json"))
    return LocalModel("qwen2.5-coder", base_url=server.url + "/v1", sleep=lambda s: None, **options)


def test_server_without_tool_support_falls_back_to_text_and_remembers(server, tmp_path):
    server.push(
        Reply(
            status=400,
            body=openai_error(
                '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set',
                "BadRequestError",
            ),
        ),
        Reply(
            body=openai_completion('<tool_call>\n{"name": "read_file", "arguments": {"path": "calc.py"}}\n</tool_call>')
        ),
    )
    model = local(server, tmp_path)
    response = model.complete(TASK, [READ])
    assert [(c.name, json.loads(c.arguments)) for c in response.message.tool_calls] == [
        ("read_file", {"path": "calc.py"})
    ]
    native, text = server.posts()
    assert "tools" in native.body and "tools" not in text.body
    system = text.body["messages"][0]
    assert (
        system["role"] == "system"
        and system["content"].startswith("You fix code.")
        and "<tool_call>" in system["content"]
    )
    assert json.loads((tmp_path / "modes.json").read_text()) == {f"{server.url}/v1|qwen2.5-coder": "text"}
    # a new session on the same server skips the probe
    server.push(Reply(body=openai_completion("fine")))
    local(server, tmp_path).complete(TASK, [READ])
    assert "tools" not in server.posts()[-1].body


def test_text_mode_history_shows_calls_and_results_in_the_protocol(server, tmp_path):
    server.push(
        Reply(body=openai_completion('<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>')),
        Reply(body=openai_completion("done")),
    )
    model = local(server, tmp_path, tool_mode="text")
    first = model.complete(TASK, [READ])
    model.complete([*TASK, first.message, Message.tool(first.message.tool_calls[0], "x = 1")], [READ])
    sent = server.posts()[1].body["messages"]
    assert sent[2] == {
        "role": "assistant",
        "content": '<tool_call>\n{"name": "read_file", "arguments": {"path": "a"}}\n</tool_call>',
    }
    assert sent[3] == {"role": "user", "content": "<tool_response>\nx = 1\n</tool_response>"}
    assert sent[:2] == server.posts()[0].body["messages"]


def test_broken_text_call_comes_back_as_format_error(server, tmp_path):
    server.push(Reply(body=openai_completion('<tool_call>{"name": "read_file", "arguments": {"path": </tool_call>')))
    response = local(server, tmp_path, tool_mode="text").complete(TASK, [READ])
    assert response.message.tool_calls == ()
    assert response.format_error and "could not be used" in response.format_error and "\n" not in response.format_error


def test_functions_prefix_written_as_text_becomes_a_call(server, tmp_path):
    # Qwen on llama.cpp with tool_choice "auto" writes the call into the text instead of a native call.
    server.push(Reply(body=openai_completion('functions.read_file:\n{"path": "calc.py"}')))
    model = local(server, tmp_path)
    response = model.complete(TASK, [READ])
    assert [(c.name, c.arguments) for c in response.message.tool_calls] == [("read_file", '{"path": "calc.py"}')]
    assert model.tool_mode == "text"


def test_forced_native_on_a_server_without_tools_is_one_clear_line(server, tmp_path):
    server.push(Reply(status=400, body=openai_error("tools are not supported by this server", "BadRequestError")))
    with pytest.raises(ModelError) as caught:
        local(server, tmp_path, tool_mode="native").complete(TASK, [READ])
    message = str(caught.value)
    assert "rejected a request with tools" in message and "tool mode 'text'" in message and "\n" not in message


def test_empty_stream_with_tools_is_asked_again_without_streaming(server, tmp_path):
    server.push(Reply(events=[]), Reply(body=openai_completion("plain answer")))
    pieces: list[str] = []
    model = local(server, tmp_path, tool_mode="native", on_text=pieces.append)
    assert model.complete(TASK, [READ]).message.content == "plain answer"
    assert pieces == ["plain answer"]
    assert server.posts()[0].body.get("stream") is True and not server.posts()[1].body.get("stream")


def test_a_stream_without_usage_is_estimated_at_the_ratio_the_server_reported(server, tmp_path):
    # llama.cpp reports usage on some answers and not on streamed ones: the estimate follows its own counts.
    server.push(Reply(events=openai_chunks(["one"], usage=(10, 1, 0))), Reply(events=openai_chunks(["two"], usage=None)))
    model = local(server, tmp_path, on_text=lambda text: None)
    assert model.complete(TASK, []).usage.input_tokens == 10
    estimated = model.complete(TASK, []).usage
    assert abs(estimated.input_tokens - 10) <= 1 and estimated.output_tokens == 1  # 17 at the default ratio


def test_text_mode_streams_text_but_not_the_call_block(server, tmp_path):
    pieces_in = [
        "I will read ",
        "it.\n<tool",
        '_call>{"name": "read_file", ',
        '"arguments": {"path": "a"}}</tool_call>',
    ]
    server.push(Reply(events=openai_chunks(pieces_in, usage=None)))
    seen: list[str] = []
    response = local(server, tmp_path, tool_mode="text", on_text=seen.append).complete(TASK, [READ])
    assert "".join(seen) == "I will read it.\n"
    assert response.message.content == "I will read it."
    assert response.message.tool_calls[0].name == "read_file"


def test_native_request_gets_a_system_message_and_no_null_content(server, tmp_path):
    server.push(Reply(body=openai_completion("ok")))
    local(server, tmp_path, tool_mode="native").complete([Message.user("hi")], [READ])
    messages = server.posts()[0].body["messages"]
    assert messages[0]["role"] == "system" and messages[1] == {"role": "user", "content": "hi"}


def test_unknown_model_is_one_line(server, tmp_path):
    model = LocalModel("llama-70b", base_url=server.url + "/v1", retry=FAST)
    with pytest.raises(ModelError, match=r"model 'llama-70b' is not served at .* \(it offers: qwen2.5-coder\)"):
        model.complete(TASK, [])
    assert server.posts() == []


def test_unreachable_server_is_one_line():
    with pytest.raises(ModelError, match=r"^cannot reach http://127.0.0.1:9/v1"):
        build_model("local:qwen@http://127.0.0.1:9/v1").complete(TASK, [])


def test_spec_without_a_name_takes_the_only_model(server):
    model = build_model(f"local:@{server.url}/v1")
    assert model.name == "local:qwen2.5-coder"


def test_models_command_lists_specs(server):
    from typer.testing import CliRunner

    from loopwright.models.cli import app

    result = CliRunner().invoke(app, ["models", "--base-url", f"{server.url}/v1"])
    assert result.exit_code == 0
    assert result.output == f"qwen2.5-coder\tlocal:qwen2.5-coder@{server.url}/v1\n"
    failed = CliRunner().invoke(app, ["models", "--base-url", "http://127.0.0.1:9/v1"])
    assert failed.exit_code == 1 and failed.output.startswith("error: cannot reach http://127.0.0.1:9/v1")
    assert failed.output.count("\n") == 1


def test_serve_command_bad_input_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from loopwright.models.cli import app

    missing = CliRunner().invoke(app, ["serve", "--engine", "llama-cpp", "--model", str(tmp_path / "nope.gguf")])
    assert missing.exit_code == 1 and missing.output == f"error: model file not found: {tmp_path / 'nope.gguf'}\n"
    no_model = CliRunner().invoke(app, ["serve", "--engine", "vllm"])
    assert no_model.exit_code == 1 and no_model.output == "error: vllm needs --model (a model id or a local path)\n"


def test_vllm_command_line():
    from loopwright.models.serve import vllm_command

    command = vllm_command(
        "/models/Qwen2.5-Coder-32B-Instruct",
        served_name="qwen-coder",
        tensor_parallel_size=2,
        tool_call_parser="qwen3_coder",
        max_model_len=32768,
    )
    flags = dict(zip(command, command[1:]))
    assert flags["--tensor-parallel-size"] == "2" and flags["--tool-call-parser"] == "qwen3_coder"
    assert flags["--served-model-name"] == "qwen-coder" and flags["--max-model-len"] == "32768"
    assert "--enable-auto-tool-choice" in command and "--enable-prefix-caching" in command
    assert "--enable-auto-tool-choice" not in vllm_command("m", tool_call_parser=None)


def test_tool_mode_from_settings_reaches_the_adapter(server, tmp_path, monkeypatch):
    from loopwright.commandline import build_model as cli_build_model
    from loopwright.settings import load

    monkeypatch.setenv("LOOPWRIGHT_TOOL_MODE", "text")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    settings = load(tmp_path)
    server.push(Reply(body=openai_completion('<tool_call>{"name": "read_file", "arguments": {"path": "a"}}</tool_call>')))
    model = cli_build_model(f"local:qwen2.5-coder@{server.url}/v1", None, settings.config.tool_mode)
    reply = model.complete(TASK, [READ])
    assert reply.message.tool_calls[0].name == "read_file"
    assert "tools" not in server.posts()[-1].body  # text mode: the tools travel in the prompt, not as native tools
