"""What the command-line entry points share: the main CLI and the command groups it registers import this
module, never each other, so the imports run one way (cli -> github.cli, bench.cli, ui.env -> here)."""

from __future__ import annotations

import os
from pathlib import Path

from loopwright.model import Model, TextHook


class UsageError(Exception):
    """Bad input from the user; printed as one line."""


def build_model(spec: str | None, on_text: TextHook | None = None, tool_mode: str | None = None) -> Model:
    """A model from its spec (default: the one `default_model_spec` picks). `scripted:FILE` replays a JSON
    script, the test double for the loop."""
    if spec and spec.startswith("scripted:"):
        from loopwright.models.scripted import load_script

        return load_script(spec.removeprefix("scripted:"))
    from loopwright.models import spec as specs

    chosen = spec or specs.default_model_spec(os.environ)
    if tool_mode:
        return specs.build_model(chosen, on_text=on_text, tool_mode=tool_mode)
    return specs.build_model(chosen, on_text=on_text)


def repo_root(path: Path) -> Path:
    """The folder a command works in, resolved; a missing one is a usage error."""
    if not path.exists():
        raise UsageError(f"{path}: no such directory")
    if not path.is_dir():
        raise UsageError(f"{path}: not a directory")
    return path.resolve()
