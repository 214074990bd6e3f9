"""Typed settings of a run. Sources are merged in one place: defaults < config file < environment < CLI flags."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from loopwright.guarded import Guarded, changes, grows, grows_size, names_a_host, turns_on, weaker
from loopwright.sandboxes.storage import parse_size

EditFormat = Literal["str_replace", "search_replace", "udiff"]


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(30, ge=1)
    """Model turns before the run stops with `max_steps`. Budgets count per turn: a run has one; in the
    interactive session each request starts afresh."""
    max_tokens: int = Field(400_000, ge=1)
    """Prompt plus completion tokens of a turn before it stops with `max_tokens`."""
    max_seconds: float = Field(1800.0, gt=0)
    """Wall-clock seconds of a turn before it stops with `time_limit`."""
    max_consecutive_errors: int = Field(4, ge=1)
    """Malformed calls, unknown tools or bad arguments in a row before the run stops with `repeated_failure`."""


class SandboxSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Annotated[Literal["docker", "local"], Guarded("`local` runs every command directly on this machine", weaker("docker", "local"))] = "docker"
    """`docker` isolates commands in a container; `local` runs them directly on this machine."""
    image: Annotated[str, Guarded("the image decides every program the commands run with, and may be pulled from a registry", changes)] = "loopwright-sandbox:latest"
    """Image the Docker sandbox starts from."""
    network: Annotated[bool, Guarded("the commands, and the model through them, reach the network", turns_on)] = False
    """Whether commands in the sandbox may reach the network."""
    memory: Annotated[str, Guarded("a larger share of this machine's memory", grows_size)] = "2g"
    """Memory limit of the container."""
    pids: Annotated[int, Guarded("more processes on this machine", grows)] = 512
    """Process limit of the container."""
    cpus: Annotated[float, Guarded("more of this machine's processors", grows)] = 2.0
    """CPU limit of the container."""
    install_dependencies: Annotated[bool, Guarded("a setup phase with the network on", turns_on)] = True
    """Set up the project's test environment before the session (the project editable with its test dependencies,
    in a virtual environment; with network, cached as an image keyed by the files that define it)."""
    python: str | None = None
    """Python version the tests run on (`3.9`); None picks it from the project (requires-python, classifiers, tox,
    CI matrices) among the sandbox images (`loopwright sandbox build --release bullseye|bookworm|trixie`)."""
    setup: list[str] = Field(default_factory=list)
    """Shell commands run in the setup phase after the installs (network on, in a copy of the repository, the
    environment's bin first on PATH): what they change in the environment is kept, changes to the copy are not."""
    setup_timeout_s: float = Field(900.0, gt=0)
    """Most seconds the setup phase may take; past it, what is left is not run and the report says so."""
    runtime: Annotated[str, Guarded("the container runtime is the wall between the commands and this machine", weaker("runsc", "auto", "runc"))] = Field(
        "runc", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
    )
    """Container runtime: `runc` (Docker's own), `runsc` (gVisor: a user-space kernel between the commands and
    the host's, slower per command), `auto` (runsc when the engine has it, else runc with a warning), or another
    runtime registered with the engine. The dependency install always runs under runc (it needs the network)."""
    storage: Annotated[str, Guarded("more of this machine's disk and memory", grows_size)] = "2g"
    """Most the workspace may grow in a session (a command past it is stopped and fails), and the size of the
    container's /tmp (held in memory, at most half of `memory`); the rest of its file system is read-only."""

    @field_validator("storage")
    @classmethod
    def _size(cls, value: str) -> str:
        parse_size(value)
        return value

    @field_validator("python")
    @classmethod
    def _python(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d\.\d{1,2}", value.strip()):
            raise ValueError(f"{value!r} is not a Python version; give one like 3.11")
        return value.strip() if value else None

    @field_validator("setup", mode="before")
    @classmethod
    def _commands(cls, value: object) -> object:
        """One command as a plain string (as an environment variable gives it)."""
        return [value] if isinstance(value, str) else value


SERVER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
"""A server's name: it prefixes its tools' names, which model APIs limit to letters, digits, `_` and `-`."""


class McpServer(BaseModel):
    """An MCP server whose tools join the session's: a command started on this machine, outside the sandbox,
    that speaks MCP on its stdin and stdout, or a streamable HTTP endpoint."""

    model_config = ConfigDict(extra="forbid")

    command: str | None = None
    """Program to start (found on PATH, or a path relative to `cwd`)."""
    args: list[str] = Field(default_factory=list)
    """Its arguments."""
    env: dict[str, SecretStr] = Field(default_factory=dict)
    """Variables for the command, over a minimal environment (HOME, LOGNAME, PATH, SHELL, TERM, USER): nothing
    else of loopwright's environment, such as API keys, reaches a server unless named here."""
    cwd: str | None = None
    """Folder the command starts in, relative to the repository; default: the repository's root."""
    url: str | None = None
    """Streamable HTTP endpoint, such as `http://127.0.0.1:8000/mcp`."""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """HTTP headers sent with every request to `url`, such as `Authorization`."""
    start_timeout_s: float = Field(30.0, gt=0)
    """Seconds the server has to start, answer the handshake and list its tools; past them it is stopped and
    the session goes on without it."""
    call_timeout_s: float = Field(120.0, gt=0)
    """Seconds one tool call may take; past them the call fails and the model is told so."""
    enabled: bool = True
    """False keeps the server's definition without starting it."""

    @model_validator(mode="after")
    def _one_transport(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of `command` (a program speaking MCP on stdio) or `url` (streamable HTTP)")
        if self.url is not None:
            if not re.match(r"https?://[^/\s]+", self.url):
                raise ValueError(f"url {self.url!r} is not an http:// or https:// address")
            if self.args or self.env or self.cwd is not None:
                raise ValueError("`args`, `env` and `cwd` go with `command`, not with `url`")
        elif self.headers:
            raise ValueError("`headers` go with `url`, not with `command`")
        elif not self.command or not self.command.strip():
            raise ValueError("`command` is empty")
        return self

    def summary(self) -> str:
        """One line for a person: what runs or where it connects; the values of variables and headers stay hidden."""
        if self.url is not None:
            shown = self.url + (f" (headers: {', '.join(self.headers)})" if self.headers else "")
        else:
            shown = " ".join([self.command or "", *self.args]) + (f" (env: {', '.join(self.env)})" if self.env else "")
        return shown if self.enabled else f"{shown} [disabled]"


def check_server_names(servers: dict[str, McpServer]) -> dict[str, McpServer]:
    for name in servers:
        if not SERVER_NAME.fullmatch(name):
            raise ValueError(f"server name {name!r} must start with a letter and hold only letters, digits, _ and - (at most 32)")
    return servers


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str | None, Guarded("`@URL` sends the code, and the provider's API key, to that address", names_a_host)] = None
    """Model spec such as `openai:gpt-5`, `anthropic:claude-sonnet-4-5` or `local:NAME@URL`; None picks a default."""
    test_command: str | None = None
    """Command that runs the project's tests in the sandbox; None detects one."""
    command_timeout_s: float = 120.0
    """Default timeout of one `run_shell` command."""
    test_timeout_s: float = 900.0
    """Timeout of one test run."""
    max_output_chars: int = 12_000
    """Longest tool result shown to the model; longer ones keep head and tail."""
    final_test_run: bool = True
    """Re-run the tests at the end when files changed after the last test run, so the summary is true."""
    limits: Limits = Field(default_factory=Limits)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    approval_mode: Annotated[
        Literal["suggest", "auto-edit", "full-auto"], Guarded("edits and commands without asking you first", weaker("suggest", "auto-edit", "full-auto"))
    ] = "suggest"
    """When the interactive session asks first: `suggest` before every edit and command, `auto-edit` before
    commands only, `full-auto` never (commands still run in the sandbox)."""
    edit_format: EditFormat = "str_replace"
    """How the model writes edits: `str_replace` (edit_file old/new + insert_text), `search_replace` (blocks),
    or `udiff` (unified diffs). Pick what the model was trained on."""
    edit_formats: dict[str, EditFormat] = Field(default_factory=dict)
    """The edit format per model, over `edit_format`: keys are model specs or their beginnings (`openai:`,
    `local:qwen`), the longest that the model's spec starts with wins. In the environment:
    `openai:=udiff,local:=search_replace`."""
    tool_mode: Literal["auto", "native", "text"] | None = None
    """How tool calls travel for OpenAI-compatible servers: `native` tool calling, `text` (calls written as
    `<tool_call>` JSON and parsed), or `auto` (probe once per model and remember). None: native for OpenAI,
    auto for local servers. Anthropic always uses native tool use."""
    repo_map_tokens: int = Field(1024, ge=0)
    """Token budget of the repository map in the system prompt; 0 leaves the map out."""
    mcp_servers: Annotated[dict[str, McpServer], Guarded("each server is a program started on this machine, outside the sandbox, or a host it connects to")] = Field(
        default_factory=dict
    )
    """MCP servers by name (`[mcp_servers.NAME]` tables); their tools join the session's as `NAME__TOOL`.
    Files merge them name by name: the repository's file adds servers to the user's or replaces one of the same name."""

    @field_validator("mcp_servers")
    @classmethod
    def _server_names(cls, value: dict[str, McpServer]) -> dict[str, McpServer]:
        return check_server_names(value)

    @field_validator("edit_formats", mode="before")
    @classmethod
    def _pairs(cls, value: object) -> object:
        """`spec=format,spec=format` (as an environment variable can give it) into a table."""
        if not isinstance(value, str):
            return value
        pairs = [item.rpartition("=") for item in value.split(",") if item.strip()]
        if any(not sep for _, sep, _ in pairs):
            raise ValueError("expected MODEL=FORMAT pairs separated by commas, such as openai:=udiff")
        return {spec.strip(): fmt.strip() for spec, _, fmt in pairs}

    def edit_format_for(self, model_name: str) -> EditFormat:
        """The edit format for the model named `model_name` (its spec, such as `openai:gpt-5`)."""
        matches = [key for key in self.edit_formats if model_name.startswith(key)]
        return self.edit_formats[max(matches, key=len)] if matches else self.edit_format
