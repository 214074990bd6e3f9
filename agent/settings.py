"""The one place settings are merged: defaults < user config < repository config < LOOPWRIGHT_* env < CLI flags.

Every value remembers where it came from, so `loopwright config` can say why a setting is what it is.
A repository's file is written by whoever can write the repository, the sandbox and the model included:
its values of the settings that loosen isolation or start programs on this machine apply only when the
person trusted them (`repotrust`); the user's own file, the environment and the flags are the person's.

Settings are addressed by dotted keys that mirror `RunConfig`: `model`, `limits.max_steps`, `sandbox.image`.
In TOML files sections are tables (`[limits]`); in the environment the dots become underscores
(`LOOPWRIGHT_LIMITS_MAX_STEPS`, `LOOPWRIGHT_SANDBOX_IMAGE`, `LOOPWRIGHT_APPROVAL_MODE`). Tables of named
entries (`[mcp_servers.NAME]`) are set in files only, one key per entry (`mcp_servers.NAME`), so a later file
adds entries to an earlier one's or replaces one of the same name.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from loopwright.config import RunConfig
from loopwright.repotrust import TRUST_COMMAND, RepoTrust, review
from loopwright.sandboxes import hostfs

REPO_FILE = "loopwright.toml"
SETTINGS_BYTES = 1 << 20
ENV_PREFIX = "LOOPWRIGHT_"
DEFAULT = "default"


class SettingsError(Exception):
    """A config file or variable that cannot be used; the message is one line naming where it came from."""


@dataclass(frozen=True)
class Settings:
    config: RunConfig
    sources: dict[str, str]
    """Dotted key -> where its value came from: `default`, a file path, `env NAME` or `--flag`."""
    files: tuple[Path, ...]
    """Config files that exist and were read, lowest priority first."""
    repo_trust: RepoTrust | None = None
    """The repository file's guarded values and whether they apply; None when it sets none."""

    def rows(self) -> list[tuple[str, str, str]]:
        """(key, value, source) for every setting, in `RunConfig` order; an MCP server as its one-line summary."""
        values = _flatten(self.config.model_dump(mode="json"))
        servers = {f"mcp_servers.{name}": server.summary() for name, server in self.config.mcp_servers.items()}
        return [(key, servers.get(key) or _show(value), self._source(key)) for key, value in values.items()]

    def untrusted_warning(self) -> str | None:
        """One line naming the repository's guarded keys left out, and how to trust them; None when none were."""
        trust = self.repo_trust
        if trust is None or not trust.ignored:
            return None
        command = TRUST_COMMAND if trust.root == Path.cwd().resolve() else f"{TRUST_COMMAND} --repo {trust.root}"
        return (
            f"{trust.file} sets {', '.join(item.key for item in trust.ignored)}, which loosen the sandbox or run "
            f"programs on this machine; ignored until you trust them: {command}"
        )

    def _source(self, key: str) -> str:
        source = self.sources.get(key, DEFAULT)
        trust = self.repo_trust
        if trust and source == str(trust.file) and any(item.key == key and trust.state(item) == "trusted" for item in trust.values):
            return f"{source} (trusted)"
        return source


def keys() -> list[str]:
    return list(_flatten(RunConfig().model_dump(mode="json")))


def user_config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    return Path(base) / "loopwright" / "config.toml"


Layer = tuple[dict[str, Any], str | dict[str, str]]
"""Values of one source, and where they came from: one file, or a name per key (variables, flags)."""


def load(repo: Path, flags: Mapping[str, tuple[Any, str]] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge every source. `flags` maps dotted keys to (value, flag name) for the CLI options actually given.

    The repository file's guarded values looser than the person's own are left out unless trusted
    (`Settings.repo_trust` says which); every value is checked all the same, so a bad one is still an error."""
    environ = os.environ if environ is None else environ
    known = keys()
    user_path, repo_path = user_config_path(environ), repo / REPO_FILE
    user = _read_file(user_path, known) if user_path.is_file() else None
    written = _read_file(repo_path, known, repo) if repo_path.is_file() else None
    given = {key: environ[env_name(key)] for key in known if env_name(key) in environ}
    for key in flags or {}:
        if key not in known:
            raise KeyError(f"unknown setting {key!r}")
    person: list[Layer] = [
        (given, {key: f"env {env_name(key)}" for key in given}),
        ({key: value for key, (value, _) in (flags or {}).items()}, {key: flag for key, (_, flag) in (flags or {}).items()}),
    ]
    below: list[Layer] = [] if user is None else [(user, str(user_path))]
    _validate([*below, *([(written, str(repo_path))] if written is not None else []), *person])  # untrusted values too

    repo_trust = None
    if written is not None:
        own = {**_flatten(RunConfig().model_dump(mode="json")), **(user or {})}
        repo_trust = review(repo, repo_path, written, own, set(given) | set(flags or {}))
        left_out = {item.key for item in repo_trust.ignored} if repo_trust else set()
        below.append(({key: value for key, value in written.items() if key not in left_out}, str(repo_path)))
    config, sources = _validate([*below, *person])
    files = tuple(path for path, values in ((user_path, user), (repo_path, written)) if values is not None)
    return Settings(config=config, sources=sources, files=files, repo_trust=repo_trust)


def _validate(layers: list[Layer]) -> tuple[RunConfig, dict[str, str]]:
    """The config the layers make, lowest first, each with its source (one for a file, one per key otherwise)."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for values, where in layers:
        for key, value in values.items():
            merged[key], sources[key] = value, where if isinstance(where, str) else where[key]
    try:
        return RunConfig.model_validate(_nest(merged)), sources
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"])
        parts = [str(part) for part in error["loc"]]
        source = next((sources[".".join(parts[:n])] for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in sources), None)
        source = source or next((where for name, where in sources.items() if name.startswith(f"{key}.")), "settings")
        raise SettingsError(f"{source}: {key}: {error['msg']}") from None


def env_name(key: str) -> str:
    return ENV_PREFIX + key.replace(".", "_").replace("-", "_").upper()


def _read_file(path: Path, known: list[str], workspace: Path | None = None) -> dict[str, Any]:
    """A settings file; one in the workspace is read only as a regular file inside it (see hostfs)."""
    try:
        data = hostfs.read_bytes(workspace, path, SETTINGS_BYTES) if workspace else path.read_bytes()
        raw = tomllib.loads(data.decode("utf-8"))
    except (OSError, UnicodeError) as exc:
        raise SettingsError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    raw.pop("github", None)  # the GitHub Action's own table, read by loopwright.github.settings
    flat = _flatten(raw)
    sections = {key.split(".")[0] for key in known if "." in key}
    for key in flat:
        if key in _TABLES:
            raise SettingsError(f"{path}: {key} must hold tables, one per entry ([{key}.NAME])")
        if key not in known and key.split(".")[0] not in _TABLES:
            hint = f" (put it under [{key}] as a table)" if key in sections else ""
            raise SettingsError(f"{path}: unknown setting {key!r}{hint}; known: {', '.join(known)}")
    return flat


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and (dotted in _SECTIONS or dotted in _TABLES):
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            nested[head] = value
    return nested


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SECTIONS = frozenset(name for name, field in RunConfig.model_fields.items() if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel))
_TABLES = frozenset({"mcp_servers"})
"""Fields that are tables of named entries, each entry one setting."""
