"""Settings of the action, merged in one place: defaults < loopwright.toml on the BASE branch < environment.

The environment is the workflow's (action inputs), written by the repository's maintainers; the
base branch holds reviewed code. Nothing here is ever read from the pull request's head, which is
whatever its author pushed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from loopwright.config import EditFormat, Limits, McpServer, RunConfig, SandboxSettings, check_server_names

CONFIG_FILE = "loopwright.toml"
INSTRUCTIONS_FILE = "AGENTS.md"
REPLY_MARKER = "<!-- loopwright:reply -->"
"""Hidden in every reply we post, so our own comments never trigger a run."""
ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE")


class ActionSettingsError(Exception):
    """The trusted configuration of the GitHub Action is invalid; the message is one line."""


def _default(name: str) -> Any:
    """The terminal's default for a shared setting, so the two never drift apart."""
    return RunConfig.model_fields[name].get_default(call_default_factory=True)


class ActionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trigger: str = "@loopwright"
    """Phrase a comment must start with. Set by the workflow only: its `if:` filter must match it."""
    allowed_associations: list[str] = Field(default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"])
    """`author_association` values that may start a run."""
    allow_forks: bool = False
    """Run on pull requests whose head lives in another repository (pushes go to the fork's branch)."""
    bot_login: str = "github-actions[bot]"
    """Login our replies are posted as (the token's identity); its comments never trigger."""
    model: str | None = None
    """Model spec, e.g. `anthropic:claude-sonnet-4-5`, `local:NAME@URL`; None picks the default for the keys present."""
    test_command: str | None = None
    """Command that runs the tests in the sandbox; None detects one."""
    max_steps: int = Field(30, ge=1)
    max_tokens: int = Field(400_000, ge=1)
    max_seconds: float = Field(1200.0, gt=0)
    """Wall-clock budget of the agent; past it plus a short grace period the run is cut off hard."""
    sandbox: Literal["docker", "local"] = "docker"
    """`local` runs the agent's commands on the runner without isolation. Set by the workflow only (LOOPWRIGHT_SANDBOX_KIND)."""
    image: str = "loopwright-sandbox:latest"
    install_dependencies: bool = False
    """Install the PR's test requirements into the image (a networked step fed by files from the PR head)."""
    runtime: str = Field("auto", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """Container runtime of the sandbox. `auto`: gVisor (runsc) when the engine has it registered, else runc with a
    warning in the log; `runsc` fails the run where the engine lacks it; `runc` opts out of gVisor."""
    commit_author: str = "loopwright[bot]"
    commit_email: str = "loopwright[bot]@users.noreply.github.com"
    # The session's own settings, as `RunConfig` documents them (shared with the terminal).
    command_timeout_s: float = Field(_default("command_timeout_s"), gt=0)
    test_timeout_s: float = Field(_default("test_timeout_s"), gt=0)
    max_output_chars: int = Field(_default("max_output_chars"), ge=1)
    edit_format: EditFormat = _default("edit_format")
    edit_formats: dict[str, EditFormat] = Field(default_factory=dict)
    tool_mode: Literal["auto", "native", "text"] | None = _default("tool_mode")
    repo_map_tokens: int = Field(_default("repo_map_tokens"), ge=0)
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict)
    """MCP servers the run may use: only those the base branch's loopwright.toml names (none by default). They run
    on the runner, outside the sandbox, in `/` unless given an absolute `cwd`: never in the pull request's files."""

    @field_validator("mcp_servers")
    @classmethod
    def _servers(cls, value: dict[str, McpServer]) -> dict[str, McpServer]:
        for name, server in check_server_names(value).items():
            if server.cwd is not None and not server.cwd.startswith("/"):
                raise ValueError(f"{name}: cwd {server.cwd!r} would be inside the pull request's checkout; give an absolute folder")
        return value

    @field_validator("allowed_associations")
    @classmethod
    def _known_associations(cls, value: list[str]) -> list[str]:
        upper = [item.strip().upper() for item in value if item.strip()]
        unknown = [item for item in upper if item not in ASSOCIATIONS]
        if unknown:
            raise ValueError(f"unknown author_association {', '.join(unknown)} (known: {', '.join(ASSOCIATIONS)})")
        return upper

    def run_config(self) -> RunConfig:
        """The session's configuration: these settings, with what an unattended run never changes: no
        network in the sandbox, no person to ask."""
        return RunConfig(
            model=self.model,
            test_command=self.test_command,
            command_timeout_s=self.command_timeout_s,
            test_timeout_s=self.test_timeout_s,
            max_output_chars=self.max_output_chars,
            limits=Limits(max_steps=self.max_steps, max_tokens=self.max_tokens, max_seconds=self.max_seconds),
            sandbox=SandboxSettings(
                kind=self.sandbox, image=self.image, network=False, install_dependencies=self.install_dependencies, runtime=self.runtime
            ),
            approval_mode="full-auto",
            edit_format=self.edit_format,
            edit_formats=self.edit_formats,
            tool_mode=self.tool_mode,
            repo_map_tokens=self.repo_map_tokens,
            mcp_servers={name: server.model_copy(update={"cwd": server.cwd or "/"}) for name, server in self.mcp_servers.items()},
        )


WORKFLOW_ONLY = ("trigger",)
"""Settings the base branch's `[github]` table may not change: they must agree with the workflow file."""

FILE_KEYS = {
    "model": "model",
    "test_command": "test_command",
    "limits.max_steps": "max_steps",
    "limits.max_tokens": "max_tokens",
    "limits.max_seconds": "max_seconds",
    "sandbox.image": "image",
    "sandbox.install_dependencies": "install_dependencies",
    "sandbox.runtime": "runtime",
    "command_timeout_s": "command_timeout_s",
    "test_timeout_s": "test_timeout_s",
    "max_output_chars": "max_output_chars",
    "edit_format": "edit_format",
    "edit_formats": "edit_formats",
    "tool_mode": "tool_mode",
    "repo_map_tokens": "repo_map_tokens",
    "mcp_servers": "mcp_servers",
}
"""Keys of the shared loopwright.toml the action honours. `sandbox.kind` and `sandbox.network` are not among
them: a repository may run its terminal sessions unisolated, its unattended runs never follow that."""

GITHUB_KEYS = ("allowed_associations", "allow_forks", "bot_login", "commit_author", "commit_email")

ENVIRONMENT = {
    # The same names the terminal's settings use for the shared keys...
    "LOOPWRIGHT_MODEL": "model",
    "LOOPWRIGHT_TEST_COMMAND": "test_command",
    "LOOPWRIGHT_LIMITS_MAX_STEPS": "max_steps",
    "LOOPWRIGHT_LIMITS_MAX_TOKENS": "max_tokens",
    "LOOPWRIGHT_LIMITS_MAX_SECONDS": "max_seconds",
    "LOOPWRIGHT_SANDBOX_KIND": "sandbox",
    "LOOPWRIGHT_SANDBOX_IMAGE": "image",
    "LOOPWRIGHT_SANDBOX_RUNTIME": "runtime",
    "LOOPWRIGHT_TEST_TIMEOUT_S": "test_timeout_s",
    "LOOPWRIGHT_EDIT_FORMAT": "edit_format",
    "LOOPWRIGHT_TOOL_MODE": "tool_mode",
    "LOOPWRIGHT_REPO_MAP_TOKENS": "repo_map_tokens",
    # ...and LOOPWRIGHT_GITHUB_* for the action's own.
    "LOOPWRIGHT_GITHUB_TRIGGER": "trigger",
    "LOOPWRIGHT_GITHUB_ALLOWED_ASSOCIATIONS": "allowed_associations",
    "LOOPWRIGHT_GITHUB_ALLOW_FORKS": "allow_forks",
    "LOOPWRIGHT_GITHUB_BOT_LOGIN": "bot_login",
}


def from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field in ENVIRONMENT.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        if field == "allowed_associations":
            values[field] = raw.replace(",", " ").split()
        elif field == "allow_forks":
            values[field] = raw.lower() in ("1", "true", "yes", "on")
        else:
            values[field] = raw
    return values


def from_config_file(text: str | None) -> dict[str, Any]:
    """The shared keys the action honours, and the `[github]` table; the rest of the file is the terminal's."""
    if not text:
        return {}
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ActionSettingsError(f"{CONFIG_FILE} on the base branch is not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for dotted, field in FILE_KEYS.items():
        section, _, key = dotted.rpartition(".")
        table = raw.get(section, {}) if section else raw
        if isinstance(table, dict) and key in table:
            values[field] = table[key]
    github = raw.get("github", {})
    if not isinstance(github, dict):
        raise ActionSettingsError(f"{CONFIG_FILE} on the base branch: [github] must be a table")
    fixed = [key for key in WORKFLOW_ONLY if key in github]
    if fixed:
        raise ActionSettingsError(f"{CONFIG_FILE}: github.{', github.'.join(fixed)} can only be set in the workflow (action inputs)")
    unknown = [key for key in github if key not in GITHUB_KEYS]
    if unknown:
        raise ActionSettingsError(f"{CONFIG_FILE}: unknown setting github.{unknown[0]}; known: {', '.join(GITHUB_KEYS)}")
    return {**values, **github}


def load(env: Mapping[str, str], config_text: str | None = None) -> ActionSettings:
    merged = {**from_config_file(config_text), **from_environment(env)}
    try:
        return ActionSettings.model_validate(merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "settings"
        raise ActionSettingsError(f"invalid loopwright setting {where}: {first['msg']}") from None
