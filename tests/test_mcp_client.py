"""The MCP client: configured servers started through the official SDK, their tools offered to the model as
`SERVER__TOOL`, calls approved like commands, and every way a server can fail kept to the call or one line.

Every server here is real: tests/fakes/mcp_server.py run with this interpreter, over stdio or streamable HTTP.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from loopwright.config import McpServer, RunConfig, SandboxSettings
from loopwright.hooks import Hooks
from loopwright.mcpclient import checked_schema, render, start_servers
from loopwright.mcptools import server_tools, tool_name
from loopwright.repotrust import trust
from loopwright.models.scripted import ScriptedModel, Turn, call
from loopwright.sandboxes.local import LocalSandbox
from loopwright.session import build_session
from loopwright.settings import SettingsError, load
from loopwright.trajectory import Trajectory
from loopwright.ui.approve import TerminalApprover
from loopwright.ui.commands import run_command
from loopwright.ui.render import RunPrinter
from loopwright.ui.terminal import TerminalConsole
from mcp.types import CallToolResult, TextContent
from tests.repos import buggy_calc_repo
from tests.test_cli import write_script
from tests.test_interactive_approval import Person

FAKE = str(Path(__file__).parent / "fakes" / "mcp_server.py")
LOCAL = SandboxSettings(kind="local")
DOCKER = SandboxSettings(kind="docker")


def fake(*flags: str, **settings) -> McpServer:
    return McpServer(command=sys.executable, args=[FAKE, *flags], **settings)


def config_with(**servers: McpServer) -> RunConfig:
    return RunConfig(sandbox=LOCAL, repo_map_tokens=0, final_test_run=False, mcp_servers=servers)


def session(repo: Path, config: RunConfig, turns: list[Turn], hooks: Hooks | None = None, person_present: bool = False):
    box = LocalSandbox(repo)
    trajectory = Trajectory.start(repo, "task", "scripted", {}, save=False)
    model = ScriptedModel(turns)
    return model, build_session(config, model, repo, trajectory, hooks=hooks, sandbox=box, repo_map="", instructions=("", ""), person_present=person_present)


def tool_messages(agent) -> list[str]:
    return [m.content for m in agent.messages if m.role == "tool"]


# -- configuration ----------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_servers_merge_by_name_across_files_and_hide_their_secrets(tmp_path: Path):
    home = {"HOME": str(tmp_path / "home")}
    user = write(tmp_path / "home" / ".config" / "loopwright" / "config.toml", '[mcp_servers.docs]\ncommand = "docs-server"\n[mcp_servers.web]\nurl = "http://127.0.0.1:1/mcp"\nheaders = { Authorization = "Bearer sekrit" }\n')
    repo = write(tmp_path / "repo" / "loopwright.toml", '[mcp_servers.docs]\ncommand = "other-docs"\nargs = ["--fast"]\nenv = { TOKEN = "t0ps3cret" }\ncall_timeout_s = 5\n')
    assert load(tmp_path / "repo", environ=home).config.mcp_servers["docs"].command == "docs-server"  # until trusted
    trust(load(tmp_path / "repo", environ=home).repo_trust)
    settings = load(tmp_path / "repo", environ=home)
    servers = settings.config.mcp_servers
    assert set(servers) == {"docs", "web"}
    assert (servers["docs"].command, servers["docs"].args, servers["docs"].call_timeout_s, servers["docs"].start_timeout_s) == ("other-docs", ["--fast"], 5, 30)
    rows = {key: (value, source) for key, value, source in settings.rows()}
    assert rows["mcp_servers.docs"] == ("other-docs --fast (env: TOKEN)", f"{repo} (trusted)")
    assert rows["mcp_servers.web"] == ("http://127.0.0.1:1/mcp (headers: Authorization)", str(user))
    dumped = json.dumps(settings.config.model_dump(mode="json"))  # what trajectories record
    assert "t0ps3cret" not in dumped and "sekrit" not in dumped


@pytest.mark.parametrize(
    "text, message",
    [
        ('[mcp_servers.docs]\ncommand = "x"\ncomand = "y"\n', "mcp_servers.docs.comand: Extra inputs are not permitted"),
        ('[mcp_servers.docs]\ncommand = "x"\nurl = "http://h/mcp"\n', "give exactly one of `command`"),
        ("[mcp_servers.docs]\nargs = []\n", "give exactly one of `command`"),
        ('[mcp_servers."two words"]\ncommand = "x"\n', "server name 'two words' must start with a letter"),
        ('[mcp_servers.docs]\nurl = "ftp://h/mcp"\n', "is not an http:// or https:// address"),
        ('[mcp_servers.docs]\ncommand = "x"\nstart_timeout_s = 0\n', "start_timeout_s: Input should be greater than 0"),
        ("mcp_servers = 3\n", "mcp_servers must hold tables"),
    ],
)
def test_bad_server_settings_are_one_line_naming_the_file(tmp_path: Path, text: str, message: str):
    path = write(tmp_path / "loopwright.toml", text)
    with pytest.raises(SettingsError) as raised:
        load(tmp_path, environ={"HOME": str(tmp_path / "home")})
    assert str(path) in str(raised.value) and message in str(raised.value) and "\n" not in str(raised.value)


def test_tool_names_are_prefixed_valid_for_model_apis_and_unique():
    taken: set[str] = set()
    names = []
    for remote in ("read", "dotted.name/v2", "dotted_name_v2", "", "x" * 100, "x" * 100):
        names.append(tool_name("docs", remote, taken))
        taken.add(names[-1])
    assert names[:4] == ["docs__read", "docs__dotted_name_v2", "docs__dotted_name_v2_2", "docs__tool"]
    assert names[4] == ("docs__" + "x" * 100)[:64] and names[5] == names[4][:62] + "_2"
    assert all(len(name) <= 64 and name.replace("_", "").replace("-", "").isalnum() for name in names)


def test_a_hostile_schema_is_replaced_by_an_open_one():
    open_schema = {"type": "object", "properties": {}}
    assert checked_schema({"type": "array"}) == checked_schema("nope") == checked_schema({"properties": {"a": 1}}) == open_schema
    assert checked_schema({"type": "object", "properties": {"a": {"type": "string", "description": "x" * 30_000}}}) == open_schema
    assert checked_schema({"properties": {"a": {"type": "string"}}, "$schema": "x"}) == {"type": "object", "properties": {"a": {"type": "string"}}}


def test_structured_content_alone_is_shown_as_json():
    reply = render(CallToolResult(content=[], structured_content={"n": 1}))
    assert json.loads(reply.text) == {"n": 1} and not reply.is_error
    both = render(CallToolResult(content=[TextContent(type="text", text='{"n": 1}')], structured_content={"n": 1}))
    assert both.text == '{"n": 1}'


# -- a real server in a session -----------------------------------------------------------------------


def test_the_session_offers_each_server_tool_under_its_prefix_with_the_servers_schema(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    model, built = session(repo, config_with(fake=fake(), off=fake(enabled=False)), [call("fake__echo", text="hi", times=2)])
    with built as s:
        s.agent.step()
        specs = {spec.name: spec for spec in s.agent.specs}
        assert [(status.name, status.state) for status in s.mcp] == [("fake", "started"), ("off", "disabled")]
        assert len(s.tools_for("other:model")) == len(s.agent.specs)  # /model keeps the servers' tools
    assert {"fake__echo", "fake__fail", "fake__odd", "fake__die", "fake__dotted_name_v2", "read_file", "submit"} <= set(model.offered[0])
    echo = specs["fake__echo"]
    assert echo.parameters["properties"]["text"] == {"type": "string"} and echo.parameters["required"] == ["text"]
    assert echo.description.startswith("[MCP server fake] Answer with the text given")
    assert json.loads(tool_messages(s.agent)[0]) == {"echo": "hihi", "length": 4}


def test_a_server_tool_is_a_command_to_approve(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    person = Person("y", "n", "not that one")
    console = Console(file=io.StringIO(), width=200)
    approver = TerminalApprover(console, person, "suggest", DOCKER, repo, "pytest")
    turns = [call("fake__echo", text="approved"), call("fake__echo", text="refused")]
    _, built = session(repo, config_with(fake=fake()), turns, Hooks(approve=approver), person_present=True)
    with built as s:
        s.agent.step()
        s.agent.step()
        approver.mode = "full-auto"  # the policy of commands: in a Docker session nobody is asked
        s.agent.model = ScriptedModel([call("fake__echo", text="unasked")])
        s.agent.step()
    first, second, third = tool_messages(s.agent)
    assert "approved" in first and "refused" not in second and "not that one" in second and "unasked" in third
    assert person.asked == ["allow? [y]es / [n]o / [a]lways for commands: "] * 2 + ["reason for the agent (optional): "]
    shown = console.file.getvalue()
    assert "by MCP server fake, outside the sandbox" in shown and '"text": "approved"' in shown


def test_errors_and_odd_content_reach_the_model_and_never_the_terminal_raw(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    out = io.StringIO()
    printer = RunPrinter(TerminalConsole(file=out, width=200, force_terminal=True))
    turns = [call("fake__fail", reason="no luck"), call("fake__odd"), call("fake__echo", text=3), call("submit", summary="done")]
    _, built = session(repo, config_with(fake=fake()), turns, printer.hooks())
    with built as s:
        result = s.agent.run("You help.", "try the server")
    failed, odd, bad_args, _ = tool_messages(s.agent)
    assert result.reason == "submitted"
    assert "failed on purpose: no luck" in failed
    assert "[image: image/png, 72 bytes, not shown]" in odd and "application/octet-stream, 300 bytes, not shown" in odd and "AAAA" not in odd
    assert "Input should be a valid string" in bad_args
    events = [step["tools"] for step in s.trajectory.data.model_dump()["steps"]]
    assert [e[0]["is_error"] for e in events[:3]] == [True, False, True]
    shown = out.getvalue()
    assert "\x1b]0;owned" not in shown and "\x1b[2J" not in shown and "\u202e" not in shown
    assert "\\x1b]0;owned" in shown and "[bold red]markup[/]" in shown


def test_a_server_that_dies_or_garbles_fails_the_call_and_the_session_goes_on(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    turns = [call("fake__garbled"), call("fake__echo", text="still here"), call("fake__die"), call("fake__echo", text="gone?"), call("submit", summary="done")]
    _, built = session(repo, config_with(fake=fake()), turns)
    with built as s:
        result = s.agent.run("You help.", "try the server")
        status = s.mcp[0]
    garbled, alive, died, after, _ = tool_messages(s.agent)
    assert result.reason == "submitted"
    assert "MCP server fake sent no usable answer to garbled: ValidationError" in garbled
    assert "still here" in alive
    assert "MCP server fake is gone (it ended during the session" in died
    assert "MCP server fake is not running" in after
    assert (status.state, status.detail.split(" (")[0]) == ("gone", "it ended during the session")


def test_a_call_past_its_timeout_fails_and_the_server_answers_the_next(tmp_path: Path):
    with start_servers({"fake": fake(call_timeout_s=0.5)}, tmp_path) as servers:
        started = time.monotonic()
        late = servers.call("fake", "slow", {"seconds": 5})
        assert time.monotonic() - started < 3
        assert late.is_error and "did not answer slow within 0.5s (call_timeout_s)" in late.text
        assert servers.call("fake", "echo", {"text": "next"}).text.count("next") == 1


def test_a_tool_whose_name_is_past_the_protocols_limit_is_left_out(tmp_path: Path):
    """A name cannot be cut (the call must give it whole): one of 4,000 characters would go into every request to
    the model and every approval prompt, so the tool is not offered."""
    with start_servers({"fake": fake()}, tmp_path) as servers:
        listed = [tool.name for _, tool in servers.tools()]
        offered = server_tools(servers)
    assert "echo" in listed and all(len(name) <= 128 for name in listed)
    assert all("longlong" not in tool.description for tool in offered)


@pytest.mark.slow
def test_servers_that_cannot_start_are_one_line_each_and_a_hanging_one_is_killed(tmp_path: Path):
    marker = tmp_path / "hang.pid"
    servers = {
        "missing": McpServer(command="no-such-mcp-server-anywhere"),
        "hang": fake("--hang", "--marker", str(marker), start_timeout_s=1),
        "exits": McpServer(command=sys.executable, args=["-c", "import sys; sys.stderr.write('bad token\\n')"]),
        "fake": fake(),
    }
    with start_servers(servers, tmp_path) as started:
        lines = {name: status.line() for name, status in started.statuses.items()}
        offered = [tool.name for tool in server_tools(started)]
    assert lines["missing"] == "MCP server missing: failed: cannot start 'no-such-mcp-server-anywhere': no such program (not on PATH, nor relative to the folder it starts in)"
    assert lines["hang"].startswith("MCP server hang: failed: no answer within 1s (start_timeout_s); stopped it")
    assert lines["exits"].startswith("MCP server exits: failed:") and lines["exits"].endswith("(stderr: bad token)")
    assert lines["fake"] == "MCP server fake: started, 8 tool(s)"
    assert offered and all(name.startswith("fake__") for name in offered)
    pid = int(marker.read_text())
    assert not Path(f"/proc/{pid}").exists(), "the server that ignored SIGTERM is still running"


def test_slash_tools_lists_the_servers_with_their_tools_escaped(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    out = io.StringIO()
    _, built = session(repo, config_with(fake=fake(), missing=McpServer(command="no-such-mcp-server-anywhere")), [])
    with built as s:
        chat = SimpleNamespace(console=TerminalConsole(file=out, width=200, force_terminal=True), agent=s.agent, mcp=s.mcp)
        run_command(chat, "/tools")
    shown = out.getvalue()
    assert "read_file" in shown and "fake__echo" in shown and "fake__odd" in shown
    assert "started" in shown and "missing" in shown and "no such program" in shown
    assert "\x1b]0;owned" not in shown and "\\x1b]0;owned" in shown


def test_the_cli_lists_servers_and_a_run_goes_on_without_a_broken_one(tmp_path: Path):
    repo = buggy_calc_repo(tmp_path / "repo")
    script = write_script(tmp_path / "s.json", [call("fake__echo", text="from the run"), call("submit", summary="done")])
    write(
        repo / "loopwright.toml",
        f'test_command = "true"\nrepo_map_tokens = 0\n[sandbox]\nkind = "local"\n'
        f'[mcp_servers.fake]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(FAKE)}]\n'
        '[mcp_servers.missing]\ncommand = "no-such-mcp-server-anywhere"\n',
    )
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    trusted = subprocess.run([sys.executable, "-m", "loopwright", "config", "trust", "--yes"], capture_output=True, text=True, env=env, cwd=repo, timeout=60)
    assert trusted.returncode == 0, trusted.stderr
    shown = subprocess.run([sys.executable, "-m", "loopwright", "config"], capture_output=True, text=True, env=env, cwd=repo, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "MCP server fake: started" in shown.stdout and "fake__echo" in shown.stdout
    assert "MCP server missing: failed - cannot start 'no-such-mcp-server-anywhere'" in shown.stdout
    ran = subprocess.run([sys.executable, "-m", "loopwright", "run", "use the server", "--model", f"scripted:{script}"], capture_output=True, text=True, env=env, cwd=repo, timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "MCP server missing: failed: cannot start" in ran.stderr and "Traceback" not in ran.stderr
    assert "from the run" in ran.stdout and "stop reason : submitted" in ran.stdout


def test_an_unknown_server_key_is_one_line_and_exit_2(tmp_path: Path):
    write(tmp_path / "loopwright.toml", '[mcp_servers.fake]\ncommand = "x"\nenviron = {}\n')
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home")}
    proc = subprocess.run([sys.executable, "-m", "loopwright", "config"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "mcp_servers.fake.environ: Extra inputs are not permitted" in proc.stderr


# -- streamable HTTP ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server(tmp_path: Path):
    port = free_port()
    log = open(tmp_path / "http.log", "wb")
    process = subprocess.Popen([sys.executable, FAKE, "--http", str(port)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    process.terminate()
    process.wait(timeout=10)
    log.close()


def test_a_streamable_http_server_gets_its_headers_and_answers(tmp_path: Path, http_server: str):
    servers = {"web": McpServer(url=http_server, headers={"Authorization": "Bearer for-the-server"}), "wrong": McpServer(url=http_server.replace("/mcp", "/nothing"))}
    with start_servers(servers, tmp_path) as started:
        assert started.statuses["web"].state == "started"
        assert started.statuses["wrong"].line() == "MCP server wrong: failed: the server answered with an error: Not Found"
        assert started.call("web", "header", {"name": "Authorization"}).text == "Bearer for-the-server"
        assert json.loads(started.call("web", "echo", {"text": "over http"}).text)["echo"] == "over http"


# -- the PR bot ---------------------------------------------------------------------------------------


def test_the_pr_bot_runs_only_the_base_branchs_servers(tmp_path: Path):
    from tests.test_github_action import FakeGitHub, handle_event, make_remote, pr_comment, serve_pull, trajectory

    def server(name: str, marker: Path) -> str:
        return f'[mcp_servers.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(FAKE)}, "--marker", {json.dumps(str(marker))}]\n'

    trusted, planted, replaced = tmp_path / "trusted.pid", tmp_path / "planted.pid", tmp_path / "replaced.pid"
    head_config = server("evil", planted) + server("base", replaced)  # a server of its own, and the base's redefined
    remote = make_remote(tmp_path, base_config=server("base", trusted), head_files={"loopwright.toml": head_config, "README.md": "hi\n"})
    github = FakeGitHub().start()
    try:
        serve_pull(github, remote)
        turns = [call("evil__echo", text="x"), call("base__echo", text="from the base"), call("submit", summary="done")]
        proc = handle_event(tmp_path, github, pr_comment("@loopwright use the server"), "issue_comment", turns)
    finally:
        github.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert trusted.exists() and not planted.exists() and not replaced.exists()
    unknown, used, _ = [m["content"] for m in trajectory(tmp_path)["messages"] if m["role"] == "tool"]
    assert "unknown tool 'evil__echo'" in unknown and "base__echo" in unknown
    assert "from the base" in used


def test_the_pr_bot_starts_no_server_by_default_and_never_in_the_checkout(tmp_path: Path):
    from loopwright.github.settings import ActionSettingsError, load as load_action

    assert load_action({}, "").run_config().mcp_servers == {}
    assert load_action({}, '[mcp_servers.docs]\ncommand = "docs"\n').run_config().mcp_servers["docs"].cwd == "/"
    with pytest.raises(ActionSettingsError, match="would be inside the pull request's checkout"):
        load_action({}, '[mcp_servers.docs]\ncommand = "docs"\ncwd = "tools"\n')
