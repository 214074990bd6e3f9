"""Trust in a repository's settings that loosen the sandbox or start programs on this machine.

The repository's loopwright.toml is writable by the sandboxed commands, by the model's edits and by whoever
pushed the last commit, so a session must not take from it, unasked, what would let the next session out of
the sandbox. A setting marked `Guarded` (see `guarded`) that the file sets looser than the person's own value
applies only when the person trusted the file's guarded values as they are now: `loopwright config trust`
records a digest of them in the workspace's state folder, outside the workspace (`statedir`). Any change to
one of them, by a model, a sandbox or a pull, changes the digest and needs trust again; the other settings
of the file apply as before.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter, ValidationError

from loopwright import statedir
from loopwright.config import RunConfig
from loopwright.guarded import Guarded

RECORD = "trusted-settings.json"
TRUST_COMMAND = "loopwright config trust"

State = Literal["trusted", "ignored", "applies", "overridden"]


def guard_of(key: str) -> Guarded | None:
    """The `Guarded` mark of a dotted setting (`sandbox.network`, `mcp_servers.NAME`); None for a free one."""
    model: type[BaseModel] = RunConfig
    for part in key.split("."):
        field = model.model_fields.get(part)
        if field is None:
            return None
        mark = next((item for item in field.metadata if isinstance(item, Guarded)), None)
        if mark is not None:
            return mark
        if not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return None


@dataclass(frozen=True)
class GuardedValue:
    key: str
    value: Any
    """As the file wrote it."""
    why: str
    looser: bool
    """Looser than the person's own value: it applies only when trusted."""
    overridden: bool
    """An environment variable or a flag sets the key, so the file's value would not apply anyway."""


@dataclass(frozen=True)
class RepoTrust:
    """The guarded values a repository's file sets, and whether the person trusted them as they are."""

    root: Path
    file: Path
    values: tuple[GuardedValue, ...]
    trusted: bool

    def state(self, item: GuardedValue) -> State:
        if item.overridden:
            return "overridden"
        if not item.looser:
            return "applies"
        return "trusted" if self.trusted else "ignored"

    @property
    def ignored(self) -> tuple[GuardedValue, ...]:
        return tuple(item for item in self.values if self.state(item) == "ignored")

    def digest(self) -> str:
        return digest({item.key: item.value for item in self.values})


def review(root: Path, file: Path, values: Mapping[str, Any], own: Mapping[str, Any], overridden: set[str]) -> RepoTrust | None:
    """The guarded values among a repository file's `values`, compared with the person's `own` ones (defaults
    under their config file); None when the file sets none."""
    found = []
    for key, value in values.items():
        mark = guard_of(key)
        if mark is None:
            continue
        looser = mark.is_looser(_typed(key, value), _typed(key, own.get(key)))
        found.append(GuardedValue(key, value, mark.why, looser, key in overridden))
    if not found:
        return None
    record = _read_record(root) if any(item.looser for item in found) else None
    trusted = record is not None and record.get("sha256") == digest({item.key: item.value for item in found})
    return RepoTrust(root=root, file=file, values=tuple(found), trusted=trusted)


def trust(found: RepoTrust) -> Path:
    """Record that the person trusts these values; the record replaces any earlier one of the workspace."""
    record = {"sha256": found.digest(), "keys": [item.key for item in found.values]}
    folder = statedir.for_workspace(found.root)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".trust-")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(record, stream)
    path = folder / RECORD
    os.replace(temporary, path)
    return path


def digest(values: Mapping[str, Any]) -> str:
    """Of the values exactly as written (key order aside): a change to any of them is a new digest."""
    text = json.dumps(dict(values), sort_keys=True, ensure_ascii=False, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_record(root: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((statedir.for_workspace(root) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _typed(key: str, value: Any) -> Any:
    """The value as the setting reads it (`"true"` is true), so the comparison sees what would apply."""
    model: type[BaseModel] = RunConfig
    *sections, name = key.split(".")
    for part in sections:
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return value
        model = annotation
    field = model.model_fields.get(name)
    if field is None or field.annotation is None:
        return value
    try:
        return TypeAdapter(field.annotation).validate_python(value)
    except ValidationError:
        return value
