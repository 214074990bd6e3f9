"""Typed settings of a run. Sources are merged in one place: defaults < config file < environment < CLI flags."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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

    kind: Literal["docker", "local"] = "docker"
    """`docker` isolates commands in a container; `local` runs them directly on this machine."""
    image: str = "loopwright-sandbox:latest"
    """Image the Docker sandbox starts from."""
    network: bool = False
    """Whether commands in the sandbox may reach the network."""
    memory: str = "2g"
    """Memory limit of the container."""
    pids: int = 512
    """Process limit of the container."""
    cpus: float = 2.0
    """CPU limit of the container."""
    install_dependencies: bool = True
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
    runtime: str = Field("runc", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """Container runtime: `runc` (Docker's own), `runsc` (gVisor: a user-space kernel between the commands and
    the host's, slower per command), `auto` (runsc when the engine has it, else runc with a warning), or another
    runtime registered with the engine. The dependency install always runs under runc (it needs the network)."""
    storage: str = "2g"
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


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = None
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
    approval_mode: Literal["suggest", "auto-edit", "full-auto"] = "suggest"
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
